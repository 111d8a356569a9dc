#!/usr/bin/env bash
# How the cost grows with the fleet: for 1, 2, 4 and 8 web hosts (BENCH_FLEET_SIZES) behind one load balancer,
#   - a fresh converge of site.yml (web hosts, then the load balancer);
#   - a rolling deploy.yml of a new release, one host at a time (flaskops_serial=1, the default), under load through
#     the load balancer (failed requests counted);
#   - deploy.yml of another release to every host at once (flaskops_serial=100%).
# forks is set to the number of hosts (at least 10), as an operator of such a fleet would.
# Writes bench/results/fleet.json (rows of the sizes measured; earlier rows of other sizes are kept).
source "$(dirname "$0")/lib.sh"
sizes=${BENCH_FLEET_SIZES:-1 2 4 8}
domain=hello.flaskops.test
work=$BENCH_ROOT/.cache/bench/fleet
mkdir -p "$work"
lb=flaskops-bench-lb
all_hosts() { echo "$lb"; for i in $(seq 1 "$1"); do echo "flaskops-bench-web$i"; done; }
trap 'bench_host_down $(all_hosts 8)' EXIT
bench_release "$work/hello-2.0.0" 2.0.0
bench_release "$work/hello-3.0.0" 3.0.0
rm -f "$work/results.jsonl"

elapsed() { python3 -c "import time,sys; print('%.1f' % (time.time() - float(sys.argv[1])))" "$1"; }

for n in $sizes; do
  echo "== $n web host(s) + 1 load balancer"
  bench_host_down $(all_hosts 8)
  webs=()
  for i in $(seq 1 "$n"); do bench_host_up "flaskops-bench-web$i"; webs+=("flaskops-bench-web$i"); done
  bench_host_up "$lb" "$domain"
  inv=$work/n$n/hosts.yml
  mkdir -p "$(dirname "$inv")"
  BENCH_LB=$lb bench_inventory "$inv" "${webs[@]}"
  export ANSIBLE_FORKS=$(( n + 1 > 10 ? n + 1 : 10 ))

  start=$(date +%s.%N)
  "$BENCH_VENV/bin/ansible-playbook" -i "$inv" "$BENCH_ROOT/playbooks/site.yml" >"$work/n$n/site.log" 2>&1 \
    || { tail -40 "$work/n$n/site.log"; exit 1; }
  converge_s=$(elapsed "$start")
  echo "site.yml: ${converge_s}s"

  bench_load_start "$lb" http://127.0.0.1/health "$domain"
  start=$(date +%s.%N)
  "$BENCH_VENV/bin/ansible-playbook" -i "$inv" "$BENCH_ROOT/playbooks/deploy.yml" \
    -e "app_source_path=$work/hello-2.0.0" >"$work/n$n/rolling.log" 2>&1 || { tail -40 "$work/n$n/rolling.log"; exit 1; }
  rolling_s=$(elapsed "$start")
  load=$(bench_load_stop "$lb")
  echo "rolling deploy (serial 1): ${rolling_s}s, load: $(echo "$load" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"], "requests,", d["failed"], "failed")')"

  start=$(date +%s.%N)
  "$BENCH_VENV/bin/ansible-playbook" -i "$inv" "$BENCH_ROOT/playbooks/deploy.yml" -e flaskops_serial=100% \
    -e "app_source_path=$work/hello-3.0.0" >"$work/n$n/parallel.log" 2>&1 || { tail -40 "$work/n$n/parallel.log"; exit 1; }
  parallel_s=$(elapsed "$start")
  echo "deploy to all at once: ${parallel_s}s"

  python3 - "$n" "$converge_s" "$rolling_s" "$parallel_s" "$load" >>"$work/results.jsonl" <<'PY'
import json, sys
n, converge, rolling, parallel, load = int(sys.argv[1]), *map(float, sys.argv[2:5]), json.loads(sys.argv[5])
print(json.dumps({"web_hosts": n, "converge_seconds": converge, "rolling_deploy_seconds": rolling,
                  "rolling_deploy_seconds_per_host": round(rolling / n, 1), "parallel_deploy_seconds": parallel,
                  "rolling_load_requests": load["requests"], "rolling_load_failed": load["failed"]}))
PY
done
bench_host_down $(all_hosts 8)

# Sizes not measured in this run keep their earlier rows (BENCH_FLEET_SIZES="1 2" refreshes those two only).
python3 - "$work/results.jsonl" "$BENCH_OUT/fleet.json" <<'PY'
import json, os, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
if os.path.exists(sys.argv[2]):
    measured = {r["web_hosts"] for r in rows}
    rows += [r for r in json.load(open(sys.argv[2])).get("sizes", []) if r["web_hosts"] not in measured]
rows.sort(key=lambda r: r["web_hosts"])
json.dump({"sizes": rows}, open(sys.argv[2], "w"), indent=2)
print("%9s %12s %14s %10s %13s %9s" % ("web hosts", "converge s", "rolling s", "s / host", "all at once s", "failed"))
for r in rows:
    print("%9d %12.1f %14.1f %10.1f %13.1f %9d" % (r["web_hosts"], r["converge_seconds"], r["rolling_deploy_seconds"],
          r["rolling_deploy_seconds_per_host"], r["parallel_deploy_seconds"], r["rolling_load_failed"]))
PY
