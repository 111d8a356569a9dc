#!/usr/bin/env bash
# make demo: deploy the example application into a local systemd container and query it through nginx over TLS,
# with a certificate issued by a local ACME server (Pebble) exactly as certbot gets one from Let's Encrypt.
#   scripts/demo.sh up     create (or reuse) the demo container, run site.yml, fetch /health through nginx
#   scripts/demo.sh down   remove the demo container and its network
set -euo pipefail
cd "$(dirname "$0")/.."

name=flaskops-demo
acme=flaskops-demo-acme
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
  log "starting the demo hosts ($name and the ACME server $acme, systemd as PID 1)"
  run_container "$acme" acme
  run_container "$name" "$domain" -p 127.0.0.1:8080:80 -p 127.0.0.1:8443:443

  log "starting the local ACME server (Pebble)"
  $bin/ansible-playbook -i inventories/demo tests/acme/pebble.yml
  ip=$(docker inspect -f "{{ (index .NetworkSettings.Networks \"$net\").IPAddress }}" "$name")
  acme_ip=$(docker inspect -f "{{ (index .NetworkSettings.Networks \"$net\").IPAddress }}" "$acme")
  curl -sS -k --retry 5 --retry-connrefused "https://$acme_ip:15000/roots/0" -o .cache/demo/acme-root.pem
  # The web host trusts the demo CA like any host trusts Let's Encrypt's, so its own checks over https succeed.
  docker cp .cache/demo/acme-root.pem "$name:/usr/local/share/ca-certificates/flaskops-demo-acme.crt"
  docker exec "$name" update-ca-certificates >/dev/null

  log "deploying the example app with playbooks/site.yml"
  $bin/ansible-playbook -i inventories/demo playbooks/site.yml
  log "GET https://$domain/health through nginx (container $ip), certificate issued by the local ACME server"
  curl -sS --fail --cacert .cache/demo/acme-root.pem --resolve "$domain:443:$ip" "https://$domain/health"
  echo
  openssl x509 -noout -subject -issuer -enddate < <(echo | openssl s_client -connect "$ip:443" -servername "$domain" 2>/dev/null) || true
  cat <<MSG

[demo] The example app answers through nginx over TLS.
  Trust the demo CA:  .cache/demo/acme-root.pem  (Pebble makes a new root each time it starts)
  Open it:   curl --cacert .cache/demo/acme-root.pem --resolve $domain:8443:127.0.0.1 https://$domain:8443/
             (a browser: map $domain to 127.0.0.1 in /etc/hosts, import the root, open https://$domain:8443/)
  A shell:   docker exec -it $name bash      (journalctl -u 'hello@*', systemctl status nginx)
  Again:     make demo   (a second run changes nothing)
  Remove it: make demo-clean
MSG
}

down() {
  docker rm -f "$name" "$acme" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  rm -rf .cache/demo
  echo "[demo] removed"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
