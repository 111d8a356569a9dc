#!/usr/bin/env bash
# make demo: deploy the example application into a local systemd container and query it through nginx.
#   scripts/demo.sh up     create (or reuse) the demo container, run site.yml, fetch /health through nginx
#   scripts/demo.sh down   remove the demo container and its network
set -euo pipefail
cd "$(dirname "$0")/.."

name=flaskops-demo
net=flaskops-demo
domain=hello.flaskops.test
image=${FLASKOPS_IMAGE_DEBIAN12:-flaskops/debian12-systemd:latest}
bin=.venv/bin
export ANSIBLE_COLLECTIONS_PATH=$PWD/.collections ANSIBLE_CONFIG=$PWD/ansible.cfg

log() { printf '\n[demo] %s\n' "$*"; }

run_container() {
  local cname=$1 alias=$2
  shift 2
  if [ "$(docker inspect -f '{{.State.Running}}' "$cname" 2>/dev/null || true)" = true ]; then
    return 0
  fi
  docker rm -f "$cname" >/dev/null 2>&1 || true
  docker run -d --name "$cname" --hostname "$cname" --network "$net" --network-alias "$alias" \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
    "$@" "$image" >/dev/null
  for _ in $(seq 1 30); do
    state=$(docker exec "$cname" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) return 0 ;; esac
    sleep 1
  done
  echo "container $cname did not boot systemd (state: $state)" >&2
  exit 1
}

up() {
  scripts/test-hosts.sh engine
  if [ -z "${FLASKOPS_IMAGE_DEBIAN12:-}" ]; then scripts/test-hosts.sh image debian12; fi
  mkdir -p .cache/demo
  docker network inspect "$net" >/dev/null 2>&1 || docker network create "$net" >/dev/null
  log "starting the demo host ($name, systemd as PID 1)"
  run_container "$name" "$domain" -p 127.0.0.1:8080:80 -p 127.0.0.1:8443:443

  log "deploying the example app with playbooks/site.yml"
  $bin/ansible-playbook -i inventories/demo playbooks/site.yml

  ip=$(docker inspect -f "{{ (index .NetworkSettings.Networks \"$net\").IPAddress }}" "$name")
  log "GET http://$domain/health through nginx (container $ip)"
  curl -sS --fail --resolve "$domain:80:$ip" "http://$domain/health"
  echo
  cat <<MSG

[demo] The example app answers through nginx.
  Open it:   curl --resolve $domain:8080:127.0.0.1 http://$domain:8080/
  A shell:   docker exec -it $name bash      (journalctl -u hello, systemctl status nginx)
  Again:     make demo   (a second run changes nothing)
  Remove it: make demo-clean
MSG
}

down() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  rm -rf .cache/demo
  echo "[demo] removed"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
