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

# Write an inventory of docker hosts in group web, with the example app's settings from the demo inventory.
bench_inventory() { # file host...
  local file=$1; shift
  {
    echo "all:"
    echo "  children:"
    echo "    web:"
    echo "      hosts:"
    for h in "$@"; do
      echo "        $h: {ansible_connection: community.docker.docker, ansible_python_interpreter: /usr/bin/python3}"
    done
  } >"$file"
  mkdir -p "$(dirname "$file")/group_vars"
  sed "s|{{ inventory_dir }}/../../|$BENCH_ROOT/|g; s|inventory_dir ~ '/../../.cache/demo/secret_key'|'$BENCH_ROOT/.cache/bench/secret_key'|" \
    "$BENCH_ROOT/inventories/demo/group_vars/web.yml" >"$(dirname "$file")/group_vars/web.yml"
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
