#!/usr/bin/env bash
# Shared helpers of the benchmark scripts: systemd test containers on a private docker network.
set -euo pipefail
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The controller venv with ansible-playbook (make venv); another one with BENCH_VENV=<dir>.
BENCH_VENV=${BENCH_VENV:-$BENCH_ROOT/.venv}
BENCH_NET=${BENCH_NET:-flaskops-bench}
BENCH_IMAGE=${FLASKOPS_IMAGE_DEBIAN12:-flaskops/debian12-systemd:latest}
# The same image with sshd (scripts/test-hosts.sh image-ssh debian12), for hosts reached over SSH.
# shellcheck disable=SC2034  # used by the scripts that source this file
BENCH_IMAGE_SSH=${FLASKOPS_IMAGE_DEBIAN12_SSH:-flaskops/debian12-systemd-ssh:latest}
# A throwaway key pair for those hosts (bench_ssh_key), under .cache: never committed.
BENCH_SSH_KEY=$BENCH_ROOT/.cache/bench/ssh/id_ed25519
# The options Ansible's ssh connection gets for the benchmark hosts (with pipelining on, see bench_host_vars).
BENCH_SSH_ARGS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ControlMaster=auto -o ControlPersist=60s"
BENCH_OUT=$BENCH_ROOT/bench/results
# The controller venv whose ansible-playbook runs the plays (bench_play): BENCH_VENV, default the checkout's .venv.
mkdir -p "$BENCH_OUT" "$BENCH_ROOT/.cache/bench"
export ANSIBLE_COLLECTIONS_PATH=$BENCH_ROOT/.collections ANSIBLE_CONFIG=$BENCH_ROOT/ansible.cfg

bench_host_up() { # name [alias [image]]
  local name=$1 alias=${2:-$1} image=${3:-$BENCH_IMAGE}
  docker network inspect "$BENCH_NET" >/dev/null 2>&1 || docker network create "$BENCH_NET" >/dev/null
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --name "$name" --hostname "$name" --network "$BENCH_NET" --network-alias "$alias" \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock "$image" >/dev/null
  for _ in $(seq 1 30); do
    case "$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)" in running|degraded) return 0 ;; esac
    sleep 1
  done
  echo "bench: $name did not boot" >&2; return 1
}

bench_host_down() { docker rm -f "$@" >/dev/null 2>&1 || true; }

# The host's address on the benchmark network.
bench_host_ip() { # name
  docker inspect -f "{{ (index .NetworkSettings.Networks \"$BENCH_NET\").IPAddress }}" "$1"
}

# Make the key pair once.
bench_ssh_key() {
  mkdir -p "$(dirname "$BENCH_SSH_KEY")" && chmod 700 "$(dirname "$BENCH_SSH_KEY")"
  [ -f "$BENCH_SSH_KEY" ] || ssh-keygen -q -t ed25519 -N '' -C flaskops-bench -f "$BENCH_SSH_KEY"
}

# Run a command in a host as root over SSH, with that key (one connection per call, no master).
bench_ssh() { # name command...
  local ip
  ip=$(bench_host_ip "$1"); shift
  ssh -i "$BENCH_SSH_KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "root@$ip" "$@"
}

# Authorise the key for root in a host started from the SSH image, and wait (at most 30 s) until sshd lets it in.
bench_ssh_ready() { # name
  bench_ssh_key
  docker exec -i "$1" sh -c 'install -d -m 0700 /root/.ssh && cat >>/root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys' <"$BENCH_SSH_KEY.pub"
  for _ in $(seq 1 30); do
    bench_ssh "$1" true </dev/null 2>/dev/null && return 0
    sleep 1
  done
  echo "bench: sshd of $1 ($(bench_host_ip "$1")) does not let the key in" >&2; return 1
}

# How the controller reaches a host: the docker connection (docker exec), or SSH as root to its address on the
# benchmark network with the key of bench_ssh_key, pipelining on (the host runs the SSH image: bench_ssh_ready).
bench_host_vars() { # docker|ssh host
  case "$1" in
    docker) echo "{ansible_connection: community.docker.docker, ansible_python_interpreter: /usr/bin/python3}" ;;
    ssh)
      echo "{ansible_connection: ansible.builtin.ssh, ansible_host: $(bench_host_ip "$2"), ansible_user: root," \
        "ansible_ssh_private_key_file: $BENCH_SSH_KEY, ansible_ssh_pipelining: true," \
        "ansible_ssh_common_args: '$BENCH_SSH_ARGS -o IdentitiesOnly=yes'," \
        "ansible_python_interpreter: /usr/bin/python3}"
      ;;
    *) echo "bench: unknown connection $1 (docker, ssh)" >&2; return 2 ;;
  esac
}

# Write an inventory of hosts in group web (and group lb with BENCH_LB=<host>), with the example app's settings
# from the demo inventory, served over plain HTTP (the benchmarks measure the application stack; the ACME exchange
# is the certbot scenario's). `-c ssh` reaches the hosts over SSH; the docker connection is the default.
bench_inventory() { # [-c docker|ssh] file host...
  local mode=docker
  if [ "${1:-}" = -c ]; then mode=$2; shift 2; fi
  local file=$1; shift
  local h vars
  {
    echo "all:"
    echo "  children:"
    echo "    web:"
    echo "      hosts:"
    for h in "$@"; do
      vars=$(bench_host_vars "$mode" "$h")
      echo "        $h: $vars"
    done
    if [ -n "${BENCH_LB:-}" ]; then
      vars=$(bench_host_vars "$mode" "$BENCH_LB")
      echo "    lb:"
      echo "      hosts:"
      echo "        $BENCH_LB: $vars"
    fi
  } >"$file"
  mkdir -p "$(dirname "$file")/group_vars"
  sed "s|{{ inventory_dir }}/../../|$BENCH_ROOT/|g; s|inventory_dir ~ '/../../.cache/demo/secret_key'|'$BENCH_ROOT/.cache/bench/secret_key'|" \
    "$BENCH_ROOT/inventories/demo/group_vars/web.yml" | grep -v '^certbot_' >"$(dirname "$file")/group_vars/all.yml"
  echo "certbot_tls_mode: none" >>"$(dirname "$file")/group_vars/all.yml"
  echo "nginx_lb_backends: \"{{ groups['web'] }}\"" >"$(dirname "$file")/group_vars/lb.yml"
  rm -f "$(dirname "$file")/group_vars/web.yml"
}

# A bounded load inside a host: GET through its nginx, one connection per request, until stopped (or after
# BENCH_LOAD_MAX_SECONDS, 30 minutes by default).
bench_load_start() { # host url host-header
  docker cp "$BENCH_ROOT/tests/load/loadgen.py" "$1:/usr/local/bin/flaskops-loadgen"
  docker exec "$1" rm -f /run/bench-load.json /run/bench-load.stop
  docker exec -d "$1" python3 /usr/local/bin/flaskops-loadgen --url "$2" --host "$3" --threads 2 --pause 0.05 \
    --max-seconds "${BENCH_LOAD_MAX_SECONDS:-1800}" --max-requests 200000 --stop-file /run/bench-load.stop \
    --out /run/bench-load.json
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

# The counts of the first host's line of a playbook's recap, "ok changed skipped failed" (ok includes changed).
bench_recap() { # log
  python3 - "$1" <<'PY'
import re, sys
recap = next((line for line in open(sys.argv[1]) if re.match(r"^\S+ +: ok=", line)), "")
counts = []
for key in ("ok", "changed", "skipped", "failed"):
    m = re.search(key + r"=(\d+)", recap)
    counts.append(int(m.group(1)) if m else 0)
print(*counts)
PY
}

# Run a playbook; print "seconds ok changed skipped failed" from the recap of the first host. The playbook's output
# is kept in the file BENCH_PLAY_LOG when that is set.
bench_play_full() { # inventory playbook [extra args...]
  local inv=$1 pb=$2; shift 2
  local start end log=${BENCH_PLAY_LOG:-} rc=0 counts
  [ -n "$log" ] || log=$(mktemp)
  start=$(date +%s.%N)
  "$BENCH_VENV/bin/ansible-playbook" -i "$inv" "$BENCH_ROOT/playbooks/$pb" "$@" >"$log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  [ "$rc" = 0 ] || tail -30 "$log" >&2
  counts=$(bench_recap "$log")
  [ -n "${BENCH_PLAY_LOG:-}" ] || rm -f "$log"
  [ "$rc" = 0 ] || return 1
  echo "$(python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$start" "$end") $counts"
}

# Run a playbook; print "seconds tasks changed" parsed from the recap of the first host.
bench_play() { # inventory playbook [extra args...]
  local out
  out=$(bench_play_full "$@") || return 1
  echo "$out" | cut -d' ' -f1-3
}
