#!/usr/bin/env bash
# The release operations side by side with their floors, in one run, over the docker connection and over SSH (users
# reach their hosts over SSH). For each connection (BENCH_CONNECTION=docker|ssh; both by default, one after the
# other), on one host:
#   site floor      bench/floors/site.sh in a fresh container of the same image: apt-get install nginx python3-venv, a venv, pip install -r requirements.txt, nginx enabled
#   fresh site.yml  on another fresh container: seconds, tasks ok and changed, the ratio to the site floor
#   no-change run   site.yml again: seconds and the tasks it reports, counted as ok + skipped from the recap (ok
#                   includes changed; a skipped task is listed like the others); then a third run with
#                   ansible.posix.profile_tasks, whose 15 slowest tasks go to .cache/bench/release/<connection>/
#   deploy.yml      of release 2.0.0, then restart.yml, then rollback.yml (back to 1.0.0), each under the bounded
#                   load of lib.sh (tests/load/loadgen.py inside the host, GET /health through nginx, about 30
#                   requests/s); a request fails on a connection error, a timeout or a status other than 200
#   deploy floor    bench/floors/release.sh deploy on the converged host: copy a new release (timed), a venv from
#                   the warm cache, start the idle slot, check its socket, switch nginx, stop the old slot
#   restart floor   bench/floors/release.sh restart: the same slot steps for the live release; the floor of
#                   rollback.yml as well (a rollback puts an already built release live the same way)
# and prints each number next to its target with PASS or MISS:
#   fresh site.yml <= 2.5 x its floor; no-change run <= 8 s with at most 35 tasks reported; deploy.yml <= 12 s;
#   restart.yml and rollback.yml <= 6 s each; 0 failed requests during each of them (and the playbook succeeds).
# Writes bench/results/release-<connection>.json.
#
# The SSH hosts run flaskops/debian12-systemd-ssh (scripts/test-hosts.sh image-ssh debian12, or
# FLASKOPS_IMAGE_DEBIAN12_SSH). A throwaway key is made under .cache/bench/ssh and put into the container's
# /root/.ssh/authorized_keys with docker exec; Ansible reaches the container's address on the benchmark network as
# root with that key, pipelining on and one persistent SSH connection (ControlPersist). The floors run the same way:
# over docker exec for the docker connection, over SSH for SSH.
#
# Bounded: every load stops after its playbook, or after BENCH_LOAD_MAX_SECONDS (default 600) by itself; every wait
# has a limit; the containers are removed on exit. Compare the numbers of one run only, on a quiet machine.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
connections=${BENCH_CONNECTION:-docker ssh}
app=hello
domain=hello.flaskops.test
host=flaskops-bench-release
floor=flaskops-bench-release-floor
work_root=$BENCH_ROOT/.cache/bench/release
export BENCH_LOAD_MAX_SECONDS=${BENCH_LOAD_MAX_SECONDS:-600}
trap 'bench_host_down "$host" "$floor"' EXIT
trap 'exit 130' INT TERM

for conn in $connections; do
  case "$conn" in
    docker) ;;
    ssh)
      docker image inspect "$BENCH_IMAGE_SSH" >/dev/null 2>&1 ||
        { echo "bench: no image $BENCH_IMAGE_SSH; build it: scripts/test-hosts.sh image-ssh debian12" >&2; exit 2; } ;;
    *) echo "bench: BENCH_CONNECTION is docker, ssh or both (\"docker ssh\"), not $conn" >&2; exit 2 ;;
  esac
done
[ -x "$BENCH_VENV/bin/ansible-playbook" ] || { echo "bench: no ansible-playbook in $BENCH_VENV; run make venv collection (or set BENCH_VENV)" >&2; exit 2; }

now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

# Start a fresh host for a connection (with the key authorised for SSH).
host_start() { # name alias connection
  if [ "$3" = ssh ]; then
    bench_host_up "$1" "$2" "$BENCH_IMAGE_SSH"
    bench_ssh_ready "$1"
  else
    bench_host_up "$1" "$2" "$BENCH_IMAGE"
  fi
}

# Run a command in a host the way the connection reaches it.
on_host() { # connection name command...
  local conn=$1 name=$2
  shift 2
  if [ "$conn" = ssh ]; then
    bench_ssh "$name" "$(printf '%q ' "$@")"
  else
    docker exec -i "$name" "$@"
  fi
}

# Copy a directory of the controller into a host (tar through the connection), without caches and venvs.
copy_to() { # connection name source-dir dest-dir
  # shellcheck disable=SC2016  # $1 is sh -c's argument, expanded in the host
  tar -C "$3" --exclude=.venv --exclude=__pycache__ --exclude='*.pyc' --exclude=.pytest_cache -cf - . |
    on_host "$1" "$2" sh -c 'mkdir -p "$1" && tar -xf - -C "$1" --no-same-owner' sh "$4"
}

# Run a floor script of bench/floors in a host.
run_floor() { # connection name script args...
  local conn=$1 name=$2 script=$BENCH_ROOT/bench/floors/$3
  shift 3
  on_host "$conn" "$name" env FLASKOPS_BENCH_FLOOR=1 bash -s -- "$@" <"$script"
}

# Record a number of this connection's run.
record() { echo "$1 $2" >>"$work/values.txt"; }

# A playbook under load: seconds, recap, return code and the load's summary, as one line of runs.jsonl.
load_run() { # name playbook [args...]
  local name=$1 pb=$2 start seconds rc=0 summary
  shift 2
  bench_load_start "$host" http://127.0.0.1/health "$domain"
  start=$(now)
  "$BENCH_VENV/bin/ansible-playbook" -i "$inv" "$BENCH_ROOT/playbooks/$pb" "$@" >"$work/$name.log" 2>&1 || rc=$?
  seconds=$(since "$start")
  summary=$(bench_load_stop "$host")
  python3 - "$name" "$pb" "$rc" "$seconds" "$(bench_recap "$work/$name.log")" "$summary" >>"$work/runs.jsonl" <<'PY'
import json, sys
name, pb, rc, seconds, recap, summary = sys.argv[1:]
ok, changed, skipped, failed = (int(n) for n in recap.split())
load = json.loads(summary)
print(json.dumps({"run": name, "playbook": pb, "playbook_rc": int(rc), "seconds": float(seconds), "tasks_ok": ok,
                  "changed": changed, "skipped": skipped, "tasks_failed": failed, "requests": load["requests"],
                  "failed_requests": load["failed"], "rps": load["rps"],
                  "versions": {k: v["count"] for k, v in load["versions"].items()}, "errors": load["errors"]}))
PY
  tail -1 "$work/runs.jsonl"
  [ "$rc" = 0 ] || { echo "bench: $pb failed (rc $rc); the end of $work/$name.log:" >&2; tail -30 "$work/$name.log" >&2; }
}

bench_connection() { # connection
  local conn=$1 out t0 fresh rerun
  work=$work_root/$conn
  inv=$work/hosts.yml
  rm -rf "$work" && mkdir -p "$work"
  record connection "$conn"
  record loadavg_at_start "$(cut -d' ' -f1 /proc/loadavg)"
  echo "=== $conn: site floor in a fresh container"
  host_start "$floor" "$floor" "$conn"
  t0=$(now)
  copy_to "$conn" "$floor" "$BENCH_ROOT/examples/hello_app" /tmp/flaskops-floor/app
  run_floor "$conn" "$floor" site.sh /tmp/flaskops-floor/app
  record floor_site "$(since "$t0")"
  bench_host_down "$floor"

  echo "=== $conn: fresh site.yml"
  host_start "$host" "$domain" "$conn"
  bench_inventory -c "$conn" "$inv" "$host"
  out=$(BENCH_PLAY_LOG=$work/site-fresh.log bench_play_full "$inv" site.yml)
  read -r -a fresh <<<"$out"
  record fresh_seconds "${fresh[0]}"; record fresh_ok "${fresh[1]}"; record fresh_changed "${fresh[2]}"
  record fresh_skipped "${fresh[3]}"
  echo "fresh site.yml: ${fresh[0]}s, ${fresh[1]} ok, ${fresh[2]} changed, ${fresh[3]} skipped"

  echo "=== $conn: no-change re-run of site.yml"
  out=$(BENCH_PLAY_LOG=$work/site-rerun.log bench_play_full "$inv" site.yml)
  read -r -a rerun <<<"$out"
  record rerun_seconds "${rerun[0]}"; record rerun_ok "${rerun[1]}"; record rerun_changed "${rerun[2]}"
  record rerun_skipped "${rerun[3]}"
  echo "no-change re-run: ${rerun[0]}s, ${rerun[1]} ok, ${rerun[2]} changed, ${rerun[3]} skipped"

  echo "=== $conn: profile of a no-change re-run (ansible.posix.profile_tasks, 15 slowest tasks)"
  ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=15 \
    "$BENCH_VENV/bin/ansible-playbook" -i "$inv" "$BENCH_ROOT/playbooks/site.yml" >"$work/profile.log" 2>&1 ||
    { echo "bench: the profiled run failed; see $work/profile.log" >&2; return 1; }
  grep -E ' -+ [0-9.]+s$' "$work/profile.log" | tail -15 | tee "$work/slowest.txt"

  echo "=== $conn: deploy.yml, restart.yml, rollback.yml under load"
  bench_release "$work/hello-2.0.0" 2.0.0
  load_run deploy deploy.yml -e "app_source_path=$work/hello-2.0.0"
  load_run restart restart.yml -e "app_source_path=$work/hello-2.0.0"
  load_run rollback rollback.yml

  echo "=== $conn: deploy floor on the converged host"
  bench_release "$work/hello-2.1.0" 2.1.0
  t0=$(now)
  copy_to "$conn" "$host" "$work/hello-2.1.0" "/srv/$app/releases/floor-2.1.0"
  run_floor "$conn" "$host" release.sh deploy "$app" "$domain" "/srv/$app/releases/floor-2.1.0"
  record floor_deploy "$(since "$t0")"

  echo "=== $conn: restart floor on the converged host"
  t0=$(now)
  run_floor "$conn" "$host" release.sh restart "$app" "$domain"
  record floor_restart "$(since "$t0")"
  bench_host_down "$host"

  python3 - "$work" "$BENCH_OUT/release-$conn.json" <<'PY'
import json, os, sys
work, out = sys.argv[1], sys.argv[2]
v = {}
for line in open(os.path.join(work, "values.txt")):
    key, _, value = line.strip().partition(" ")
    try:
        v[key] = float(value) if "." in value else int(value)
    except ValueError:
        v[key] = value
runs = {r["run"]: r for r in map(json.loads, open(os.path.join(work, "runs.jsonl")))}
slowest = [line.strip() for line in open(os.path.join(work, "slowest.txt")) if line.strip()]

rows = []
def row(operation, seconds, floor, tasks, target, passed, run=None):
    rows.append({"operation": operation, "seconds": seconds, "floor_seconds": floor,
                 "ratio_to_floor": round(seconds / floor, 2) if floor else None, "tasks": tasks,
                 "requests": run["requests"] if run else None, "failed_requests": run["failed_requests"] if run else None,
                 "playbook_rc": run["playbook_rc"] if run else 0, "target": target, "pass": bool(passed)})

row("fresh site.yml", v["fresh_seconds"], v["floor_site"], "%d ok, %d changed" % (v["fresh_ok"], v["fresh_changed"]),
    "<= 2.5 x floor", v["fresh_seconds"] <= 2.5 * v["floor_site"])
reported = v["rerun_ok"] + v["rerun_skipped"]
row("no-change re-run of site.yml", v["rerun_seconds"], None,
    "%d reported = %d ok + %d skipped; %d changed" % (reported, v["rerun_ok"], v["rerun_skipped"], v["rerun_changed"]),
    "<= 8 s, <= 35 reported, 0 changed", v["rerun_seconds"] <= 8 and reported <= 35 and v["rerun_changed"] == 0)
for name, label, floor_key, limit in (("deploy", "deploy.yml of release 2.0.0", "floor_deploy", 12),
                                      ("restart", "restart.yml", "floor_restart", 6),
                                      ("rollback", "rollback.yml (floor: restart)", "floor_restart", 6)):
    r = runs[name]
    row(label, r["seconds"], v[floor_key], "%d ok, %d changed" % (r["tasks_ok"], r["changed"]),
        "<= %d s, 0 failed requests" % limit, r["playbook_rc"] == 0 and r["seconds"] <= limit and r["failed_requests"] == 0,
        run=r)

data = {"connection": v["connection"], "loadavg_at_start": v["loadavg_at_start"], "cpus": os.cpu_count(),
        "floors": {"site": v["floor_site"], "deploy": v["floor_deploy"], "restart": v["floor_restart"]},
        "rows": rows, "runs_under_load": list(runs.values()),
        "tasks_reported": "ok + skipped of the recap's line (ok includes changed)",
        "rerun_slowest_tasks": slowest,
        "failed_requests_total": sum(r["failed_requests"] for r in runs.values()),
        "all_pass": all(r["pass"] for r in rows)}
json.dump(data, open(out, "w"), indent=2)

print("\n%s connection (load average %s at the start, %d CPUs)" % (data["connection"], data["loadavg_at_start"], data["cpus"]))
fmt = "%-30s %8s %7s %6s  %-44s %11s  %-34s %s"
print(fmt % ("operation", "seconds", "floor", "ratio", "tasks", "failed/req", "target", "result"))
for r in rows:
    print(fmt % (r["operation"], "%.1f" % r["seconds"], "%.1f" % r["floor_seconds"] if r["floor_seconds"] else "-",
                 "%.2f" % r["ratio_to_floor"] if r["ratio_to_floor"] else "-", r["tasks"],
                 "-" if r["requests"] is None else "%d/%d" % (r["failed_requests"], r["requests"]), r["target"],
                 ("PASS" if r["pass"] else "MISS") + ("" if r["playbook_rc"] == 0 else " (playbook rc %d)" % r["playbook_rc"])))
print("failed requests in all runs: %d | every target met: %s | written to %s"
      % (data["failed_requests_total"], data["all_pass"], out))
PY
}

for conn in $connections; do
  bench_connection "$conn"
done
