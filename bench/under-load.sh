#!/usr/bin/env bash
# Failed requests during a deploy, a failed deploy and a restart, under load (the target is zero), on one host
# deployed by site.yml: tests/load/loadgen.py runs inside the host (2 threads, one connection per GET /health through
# nginx, about 35 requests/s, stopped after each run) while the playbook runs from the controller.
#   deploy          deploy.yml of release 2.0.0 (build, hooks, slot start, switch, old slot drained)
#   failed deploy   deploy.yml of release 3.0.0 whose /health answers 503 (refused on its socket, never switched)
#   restart         restart.yml (the live release through a fresh slot)
#   rollback        rollback.yml (back to 1.0.0)
# Writes bench/results/under-load.json.
source "$(dirname "$0")/lib.sh"
host=flaskops-bench-load
domain=hello.flaskops.test
work=$BENCH_ROOT/.cache/bench/under-load
inv=$work/hosts.yml
mkdir -p "$work"
trap 'bench_host_down $host' EXIT

echo "== deploy the example app with site.yml"
bench_host_up "$host" "$domain"
bench_inventory "$inv" "$host"
bench_play "$inv" site.yml >/dev/null
bench_release "$work/hello-2.0.0" 2.0.0
bench_release "$work/hello-3.0.0" 3.0.0 broken

results=()
run() { # name expected-rc playbook [args...]
  local name=$1 expect=$2 pb=$3; shift 3
  local start rc=0 summary
  bench_load_start "$host" http://127.0.0.1/health "$domain"
  start=$(date +%s.%N)
  "$BENCH_VENV/bin/ansible-playbook" -i "$inv" "$BENCH_ROOT/playbooks/$pb" "$@" >"$work/$name.log" 2>&1 || rc=$?
  local seconds
  seconds=$(python3 -c "import time,sys; print('%.1f' % (time.time() - float(sys.argv[1])))" "$start")
  summary=$(bench_load_stop "$host")
  python3 - "$name" "$expect" "$rc" "$seconds" "$summary" >>"$work/results.jsonl" <<'PY'
import json, sys
name, expect, rc, seconds, summary = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), json.loads(sys.argv[5])
print(json.dumps({"run": name, "playbook_rc": rc, "playbook_expected": expect, "playbook_seconds": seconds,
                  "requests": summary["requests"], "failed": summary["failed"], "rps": summary["rps"],
                  "versions": {k: v["count"] for k, v in summary["versions"].items()}, "errors": summary["errors"]}))
PY
  tail -1 "$work/results.jsonl"
}

rm -f "$work/results.jsonl"
echo "== under load"
run deploy success deploy.yml -e "app_source_path=$work/hello-2.0.0"
run failed_deploy failure deploy.yml -e "app_source_path=$work/hello-3.0.0"
run restart success restart.yml -e "app_source_path=$work/hello-2.0.0"
run rollback success rollback.yml

python3 - "$work/results.jsonl" "$BENCH_OUT/under-load.json" <<'PY'
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
for r in runs:
    r["playbook_as_expected"] = (r["playbook_rc"] == 0) == (r["playbook_expected"] == "success")
data = {"runs": runs, "failed_requests_total": sum(r["failed"] for r in runs),
        "all_as_expected": all(r["playbook_as_expected"] for r in runs)}
json.dump(data, open(sys.argv[2], "w"), indent=2)
print("%-14s %8s %8s %7s %9s  %s" % ("run", "requests", "failed", "req/s", "playbook", "versions seen"))
for r in runs:
    print("%-14s %8d %8d %7.1f %8.1fs  %s" % (r["run"], r["requests"], r["failed"], r["rps"], r["playbook_seconds"], r["versions"]))
print("failed requests in all runs:", data["failed_requests_total"], "| playbooks as expected:", data["all_as_expected"])
PY
