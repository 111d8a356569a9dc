#!/usr/bin/env bash
# Fresh converge of site.yml on one host next to the floor (a plain shell script installing the same Debian packages
# and pip requirements in a fresh container), and no-change re-runs with and without pipelining.
# Writes bench/results/converge.json.
source "$(dirname "$0")/lib.sh"
host=flaskops-bench-1
floor=flaskops-bench-floor
inv=$BENCH_ROOT/.cache/bench/converge/hosts.yml
mkdir -p "$(dirname "$inv")"
trap 'bench_host_down $host $floor' EXIT

echo "== floor: apt + venv + pip by hand in a fresh container"
bench_host_up "$floor"
docker cp "$BENCH_ROOT/examples/hello_app/requirements.txt" "$floor:/tmp/requirements.txt"
start=$(date +%s.%N)
docker exec "$floor" bash -ec '
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx python3-venv python3-packaging >/dev/null
  python3 -m venv /opt/floor/.venv
  /opt/floor/.venv/bin/pip install -q -r /tmp/requirements.txt
  systemctl enable --now nginx >/dev/null 2>&1'
floor_s=$(python3 -c "import time,sys; print('%.1f' % (time.time() - float(sys.argv[1])))" "$start")
bench_host_down "$floor"
echo "floor: ${floor_s}s"

echo "== fresh converge of site.yml"
bench_host_up "$host" hello.flaskops.test
bench_inventory "$inv" "$host"
read -r fresh_s fresh_tasks fresh_changed < <(bench_play "$inv" site.yml)
echo "fresh converge: ${fresh_s}s, ${fresh_tasks} tasks ok, ${fresh_changed} changed"

echo "== no-change re-runs"
read -r pipe_s pipe_tasks pipe_changed < <(ANSIBLE_PIPELINING=1 bench_play "$inv" site.yml)
echo "re-run with pipelining: ${pipe_s}s, ${pipe_tasks} tasks, changed=${pipe_changed}"
read -r nopipe_s nopipe_tasks nopipe_changed < <(ANSIBLE_PIPELINING=0 bench_play "$inv" site.yml)
echo "re-run without pipelining: ${nopipe_s}s, ${nopipe_tasks} tasks, changed=${nopipe_changed}"

echo "== where a no-change re-run spends its time (ansible.posix.profile_tasks)"
ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=15 \
  "$BENCH_VENV/bin/ansible-playbook" -i "$inv" "$BENCH_ROOT/playbooks/site.yml" >"$BENCH_ROOT/.cache/bench/converge/profile.log" 2>&1
grep -E ' -+ [0-9.]+s$' "$BENCH_ROOT/.cache/bench/converge/profile.log" | tail -15 | tee "$BENCH_ROOT/.cache/bench/converge/slowest.txt"

python3 - "$BENCH_OUT/converge.json" "$BENCH_ROOT/.cache/bench/converge/slowest.txt" <<PY
import json, sys
data = {
    "floor_seconds": $floor_s,
    "fresh_converge_seconds": $fresh_s, "fresh_tasks_ok": $fresh_tasks, "fresh_changed": $fresh_changed,
    "ratio_converge_to_floor": round($fresh_s / $floor_s, 2),
    "rerun_pipelining_seconds": $pipe_s, "rerun_pipelining_tasks": $pipe_tasks, "rerun_pipelining_changed": $pipe_changed,
    "rerun_no_pipelining_seconds": $nopipe_s, "rerun_no_pipelining_tasks": $nopipe_tasks,
    "rerun_no_pipelining_changed": $nopipe_changed,
    "rerun_slowest_tasks": [line.strip() for line in open(sys.argv[2]) if line.strip()],
}
json.dump(data, open(sys.argv[1], "w"), indent=2)
print(json.dumps(data, indent=2))
PY
