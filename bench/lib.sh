#!/usr/bin/env bash
# Shared helpers of the benchmark scripts: systemd test containers on a private docker network.
set -euo pipefail
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NET=${BENCH_NET:-flaskops-bench}
BENCH_IMAGE=${FLASKOPS_IMAGE_DEBIAN12:-flaskops/debian12-systemd:latest}
BENCH_OUT=$BENCH_ROOT/bench/results
mkdir -p "$BENCH_OUT" "$BENCH_ROOT/.cache/bench"
export ANSIBLE_COLLECTIONS_PATH=$BENCH_ROOT/.collections ANSIBLE_CONFIG=$BENCH_ROOT/ansible.cfg

bench_host_up() { # name [alias]
  local name=$1 alias=${2:-$1}
  docker network inspect "$BENCH_NET" >/dev/null 2>&1 || docker network create "$BENCH_NET" >/dev/null
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --name "$name" --hostname "$name" --network "$BENCH_NET" --network-alias "$alias" \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock "$BENCH_IMAGE" >/dev/null
  for _ in $(seq 1 30); do
    case "$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)" in running|degraded) return 0 ;; esac
    sleep 1
  done
  echo "bench: $name did not boot" >&2; return 1
}

bench_host_down() { docker rm -f "$@" >/dev/null 2>&1 || true; }

# Write an inventory of docker hosts in group web (and group lb with BENCH_LB=<host>), with the example app's
# settings from the demo inventory, served over plain HTTP (the benchmarks measure the application stack; the
# ACME exchange is the certbot scenario's).
bench_inventory() { # file host...
  local file=$1; shift
  local conn="{ansible_connection: community.docker.docker, ansible_python_interpreter: /usr/bin/python3}"
  {
    echo "all:"
    echo "  children:"
    echo "    web:"
    echo "      hosts:"
    for h in "$@"; do
      echo "        $h: $conn"
    done
    if [ -n "${BENCH_LB:-}" ]; then
      echo "    lb:"
      echo "      hosts:"
      echo "        $BENCH_LB: $conn"
    fi
  } >"$file"
  mkdir -p "$(dirname "$file")/group_vars"
  sed "s|{{ inventory_dir }}/../../|$BENCH_ROOT/|g; s|inventory_dir ~ '/../../.cache/demo/secret_key'|'$BENCH_ROOT/.cache/bench/secret_key'|" \
    "$BENCH_ROOT/inventories/demo/group_vars/web.yml" | grep -v '^certbot_' >"$(dirname "$file")/group_vars/all.yml"
  echo "certbot_tls_mode: none" >>"$(dirname "$file")/group_vars/all.yml"
  echo "nginx_lb_backends: \"{{ groups['web'] }}\"" >"$(dirname "$file")/group_vars/lb.yml"
  rm -f "$(dirname "$file")/group_vars/web.yml"
}

# A bounded load inside a host: GET through its nginx, one connection per request, until stopped (or 30 minutes).
bench_load_start() { # host url host-header
  docker cp "$BENCH_ROOT/tests/load/loadgen.py" "$1:/usr/local/bin/flaskops-loadgen"
  docker exec "$1" rm -f /run/bench-load.json
  docker exec -d "$1" python3 /usr/local/bin/flaskops-loadgen --url "$2" --host "$3" --threads 2 --pause 0.05 \
    --max-seconds 1800 --max-requests 200000 --stop-file /run/bench-load.stop --out /run/bench-load.json
  sleep 2
}

# Stop it and print its JSON summary.
bench_load_stop() { # host
  docker exec "$1" bash -c 'touch /run/bench-load.stop
    for _ in $(seq 1 150); do [ -s /run/bench-load.json ] && break; sleep 0.2; done; cat /run/bench-load.json'
}

# A copy of the example app with another version string (and a /health that answers 503 with BROKEN=1).
bench_release() { # dir version [broken]
  rm -rf "$1" && mkdir -p "$(dirname "$1")" && cp -a "$BENCH_ROOT/examples/hello_app" "$1"
  echo "$2" >"$1/hello_app/VERSION"
  if [ "${3:-}" = broken ]; then
    sed -i 's/return jsonify(body), 200 if ok else 503/return jsonify(body), 503/' "$1/hello_app/views.py"
  fi
}

# Run a playbook; print "seconds tasks changed" parsed from the recap of the first host.
bench_play() { # inventory playbook [extra args...]
  local inv=$1 pb=$2; shift 2
  local start end out
  start=$(date +%s.%N)
  out=$("$BENCH_ROOT/.venv/bin/ansible-playbook" -i "$inv" "$BENCH_ROOT/playbooks/$pb" "$@" 2>&1) || { echo "$out" | tail -30 >&2; return 1; }
  end=$(date +%s.%N)
  local recap
  recap=$(echo "$out" | grep -E '^\S+ +: ok=' | head -1)
  python3 - "$start" "$end" "$recap" <<'PY'
import re, sys
start, end, recap = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ok = int(re.search(r"ok=(\d+)", recap).group(1)); changed = int(re.search(r"changed=(\d+)", recap).group(1))
print("%.1f %d %d" % (end - start, ok, changed))
PY
}
