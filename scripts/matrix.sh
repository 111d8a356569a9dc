#!/usr/bin/env bash
# The two ends of the ansible-core range that meta/runtime.yml claims (requires_ansible), each tested with the unit
# tests, ansible-test sanity (and units) on the whole built collection and one full scenario.
#
#   scripts/matrix.sh venv-min   the minimum controller: .cache/matrix-min-venv with exactly the ansible-core that
#                                requires_ansible names as its lower bound, the collections of the `ansible` package
#                                that requirements.txt pins (installed with --no-deps: that package asks for a newer
#                                ansible-core, and its collections are what the default controller runs) and the
#                                test tools of requirements.txt (molecule, pytest, ...). Rebuilt when requires_ansible,
#                                requirements.txt or this script change.
#   scripts/matrix.sh min        venv-min, then `make unit` and `make sanity` with that venv (ansible-test of the
#                                minimum ansible-core, its tests/sanity/ignore-X.Y.txt). Its full scenario is the
#                                Debian 13 smoke run (make job/debian13/default), which runs on this venv: see the
#                                Makefile (SMOKE_VENV).
#   scripts/matrix.sh newest     the newest `ansible` on PyPI, which needs a newer Python than Debian 12 has: a
#                                controller in a Debian 13 container (Python 3.13, image flaskops/debian13-systemd,
#                                which trusts the TLS proxy's CA) gets a venv with `ansible` unpinned and the unit
#                                test tools, a copy of this checkout, then runs `make unit` and `make sanity` there
#                                (Python 3.13), and one full scenario over SSH against a Debian 12 host
#                                (flaskops/debian12-systemd-ssh, scripts/test-hosts.sh image-ssh debian12): site.yml,
#                                site.yml again with changed=0, deploy.yml of release 2.0.0, restart.yml,
#                                rollback.yml (back to 1.0.0) and validate.yml, each followed by a GET /health through
#                                the host's nginx that must answer 200 with the expected version.
#
# The containers are named flaskops-matrix-* on the network flaskops-matrix; they are removed on exit. pip's cache
# of the controller container is kept in .cache/matrix-newest/pip (a warm run downloads nothing).
#
# Environment:
#   MATRIX_ANSIBLE      the `ansible` requirement of the newest leg (default: ansible==14.5.0, the newest on PyPI when
#                       the leg last passed, so that `make test` does not change with the day's releases;
#                       MATRIX_ANSIBLE=ansible takes the day's newest)
#   MATRIX_STEPS        newest: the parts to run, among unit, sanity, scenario (default: all three)
#   FLASKOPS_IMAGE_DEBIAN13, FLASKOPS_IMAGE_DEBIAN12_SSH
#                       the controller's and the SSH host's images
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
min_venv=$here/.cache/matrix-min-venv
log() { printf '[matrix] %s\n' "$*" >&2; }

# The lower bound of requires_ansible (">=2.19.5" -> 2.19.5).
min_core() {
  sed -n 's/^requires_ansible:[[:space:]]*["'\'']*>=\([0-9.]*\).*/\1/p' "$here/meta/runtime.yml"
}

# The requirements of requirements.txt without the ones a matrix controller installs otherwise or does not need
# (ansible: the ansible-core under test; ansible-lint, ansible-builder, ansible-runner: not part of the legs).
test_requirements() {
  grep -vE '^[[:space:]]*(#|$)|^(ansible|ansible-lint|ansible-builder|ansible-runner)[=<>~ ]' "$here/requirements.txt"
}

venv_min() {
  local core ansible_pin stamp want
  core=$(min_core)
  [ -n "$core" ] || { log "no lower bound in meta/runtime.yml's requires_ansible"; exit 2; }
  ansible_pin=$(grep -E '^ansible==' "$here/requirements.txt")
  want="ansible-core==$core $ansible_pin $(sha256sum "$here/requirements.txt" "$0" | cut -c1-16 | xargs)"
  stamp=$min_venv/.matrix
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$min_venv/bin/ansible-playbook" ]; then
    log "minimum controller: ansible-core $core in $min_venv (up to date)"
  else
    log "minimum controller: ansible-core $core, the collections of $ansible_pin, into $min_venv"
    rm -rf "$min_venv"
    python3 -m venv "$min_venv"
    "$min_venv/bin/pip" install -q --upgrade pip
    # shellcheck disable=SC2046 # a list of requirements
    "$min_venv/bin/pip" install -q "ansible-core==$core" $(test_requirements) -c <(echo "ansible-core==$core")
    "$min_venv/bin/pip" install -q --no-deps "$ansible_pin"
    echo "$want" >"$stamp"
  fi
  # The Makefile's venv rule sees an installed venv (it would install requirements.txt, ansible-core and all).
  touch "$min_venv/.installed"
  local got
  got=$("$min_venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')
  [ "$got" = "$core" ] || { log "the minimum venv has ansible-core $got, not $core"; exit 1; }
}

leg_min() {
  local start status=0
  start=$(date +%s)
  venv_min
  log "minimum: make unit and make sanity with ansible-core $(min_core)"
  # The plugins' tests run in make sanity (ansible-test units), on the built collection.
  make -C "$here" --no-print-directory unit VENV="$min_venv" UNIT_PLUGINS=0 || status=$?
  # Compile and import on other Pythons: the default controller's `make sanity` covers them.
  SANITY_EXTRA_PYTHONS='' make -C "$here" --no-print-directory sanity VENV="$min_venv" || status=$?
  log "minimum: done in $(($(date +%s) - start))s (exit $status)"
  return $status
}

# ---------------------------------------------------------------------------------------------------------------------
# The newest leg.
net=flaskops-matrix
controller=flaskops-matrix-controller
host=flaskops-matrix-host
controller_image=${FLASKOPS_IMAGE_DEBIAN13:-flaskops/debian13-systemd:latest}
host_image=${FLASKOPS_IMAGE_DEBIAN12_SSH:-flaskops/debian12-systemd-ssh:latest}
domain=hello.flaskops.test
newest_default=ansible==14.5.0
cache=$here/.cache/matrix-newest

in_controller() { docker exec -i "$controller" "$@"; }

newest_down() { docker rm -f "$controller" "$host" >/dev/null 2>&1 || true; }

newest_controller_up() {
  docker network inspect "$net" >/dev/null 2>&1 || docker network create "$net" >/dev/null
  mkdir -p "$cache/pip"
  # No systemd: a plain process that ends by itself after an hour at the latest.
  docker run -d --name "$controller" --hostname "$controller" --network "$net" -w /build \
    -v "$cache/pip:/root/.cache/pip" -e PIP_DISABLE_PIP_VERSION_CHECK=1 -e ANSIBLE_FORCE_COLOR=0 \
    --entrypoint /bin/sleep "$controller_image" 3600 >/dev/null
  log "controller: packages from Debian's archive (python3-venv, make, git, openssh-client, shellcheck)"
  in_controller sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-venv make git openssh-client shellcheck >/dev/null'
  # The checkout as it is (not only what is committed), without caches and venvs.
  tar -C "$here" --exclude=./.cache --exclude=./.venv --exclude=./.collections --exclude=./.git \
    --exclude=__pycache__ --exclude=.pytest_cache --exclude=./tests/output -cf - . |
    docker exec -i "$controller" sh -c 'mkdir -p /build && tar -xf - -C /build --no-same-owner'
  log "controller: a venv with ${MATRIX_ANSIBLE:-$newest_default} and the test tools from PyPI"
  # shellcheck disable=SC2046 # a list of requirements
  in_controller sh -c 'python3 -m venv /opt/venv && /opt/venv/bin/pip install -q --upgrade pip &&
      /opt/venv/bin/pip install -q "$@" && touch /opt/venv/.installed' sh "${MATRIX_ANSIBLE:-$newest_default}" \
    $(test_requirements | grep -vE '^(molecule|molecule-plugins|docker)[=<>~\[ ]')
  in_controller /opt/venv/bin/ansible --version | head -1 >&2
  in_controller /opt/venv/bin/python -c 'import importlib.metadata as m; print("ansible", m.version("ansible"))' >&2
}

# One request through the host's nginx (from inside the host): the status and the version /health reports.
newest_health() { # expected-version
  local out
  out=$(docker exec "$host" python3 -c '
import json, sys, urllib.request
request = urllib.request.Request("http://127.0.0.1/health", headers={"Host": sys.argv[1]})
with urllib.request.urlopen(request, timeout=10) as response:
    body = json.load(response)
    print(response.status, body.get("version"))
' "$domain" 2>&1) || { log "GET /health failed: $out"; return 1; }
  log "GET /health through nginx: $out"
  [ "$out" = "200 $1" ] || { log "expected: 200 $1"; return 1; }
}

# A playbook in the controller; prints the recap's counts of the host: ok changed failed.
newest_play() { # name playbook [args...]
  local name=$1 pb=$2 rc=0 t0
  shift 2
  t0=$(date +%s)
  in_controller env ANSIBLE_CONFIG=/build/ansible.cfg ANSIBLE_COLLECTIONS_PATH=/build/.collections \
    /opt/venv/bin/ansible-playbook -i /build/.cache/matrix/hosts.yml "/build/playbooks/$pb" "$@" \
    >"$cache/$name.log" 2>&1 || rc=$?
  grep -E '^\S+ +: ok=' "$cache/$name.log" | tail -1 >&2 || true
  log "$pb ($name): exit $rc in $(($(date +%s) - t0))s (log: .cache/matrix-newest/$name.log)"
  if [ "$rc" != 0 ]; then
    tail -40 "$cache/$name.log" >&2
    return 1
  fi
}

newest_scenario() {
  log "scenario: a Debian 12 host over SSH ($host_image)"
  docker image inspect "$host_image" >/dev/null 2>&1 ||
    { log "no image $host_image: scripts/test-hosts.sh image-ssh debian12"; return 2; }
  docker run -d --name "$host" --hostname "$host" --network "$net" --network-alias "$domain" \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock "$host_image" >/dev/null
  local booted=
  for _ in $(seq 1 30); do
    case "$(docker exec "$host" systemctl is-system-running 2>/dev/null || true)" in running|degraded) booted=1; break ;; esac
    sleep 1
  done
  [ -n "$booted" ] || { log "$host did not boot"; return 1; }
  # A throwaway key made in the controller, authorised for root on the host.
  in_controller sh -c 'install -d -m 0700 /root/.ssh && rm -f /root/.ssh/id_ed25519* &&
      ssh-keygen -q -t ed25519 -N "" -C flaskops-matrix -f /root/.ssh/id_ed25519 && cat /root/.ssh/id_ed25519.pub' |
    docker exec -i "$host" sh -c 'install -d -m 0700 /root/.ssh && cat >>/root/.ssh/authorized_keys &&
      chmod 600 /root/.ssh/authorized_keys'
  local ip ready=
  ip=$(docker inspect -f "{{ (index .NetworkSettings.Networks \"$net\").IPAddress }}" "$host")
  for _ in $(seq 1 30); do
    if in_controller ssh -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no \
      -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "root@$ip" true </dev/null 2>/dev/null; then
      ready=1; break
    fi
    sleep 1
  done
  [ -n "$ready" ] || { log "sshd of $host ($ip) does not let the key in"; return 1; }

  # The inventory: the demo's application settings, served over plain HTTP (the ACME exchange is the certbot
  # scenario's), the host reached over SSH as root with pipelining.
  in_controller sh -c 'set -e; mkdir -p .cache/matrix/group_vars .cache/matrix/releases
    mkdir -p .collections/ansible_collections/flaskops && ln -sfn /build .collections/ansible_collections/flaskops/deploy
    cat >.cache/matrix/hosts.yml <<EOF
all:
  children:
    web:
      hosts:
        '"$host"':
          ansible_host: '"$ip"'
          ansible_user: root
          ansible_connection: ansible.builtin.ssh
          ansible_ssh_pipelining: true
          ansible_ssh_common_args: "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ControlMaster=auto -o ControlPersist=60s"
          ansible_python_interpreter: /usr/bin/python3
EOF
    sed -e "s|{{ inventory_dir }}/../../|/build/|g" \
        -e "s|inventory_dir ~ '"'"'/../../.cache/demo/secret_key'"'"'|'"'"'/build/.cache/matrix/secret_key'"'"'|" \
        inventories/demo/group_vars/web.yml | grep -v "^certbot_" >.cache/matrix/group_vars/all.yml
    echo "certbot_tls_mode: none" >>.cache/matrix/group_vars/all.yml
    rm -rf .cache/matrix/releases/hello-2.0.0 && cp -a examples/hello_app .cache/matrix/releases/hello-2.0.0
    echo 2.0.0 >.cache/matrix/releases/hello-2.0.0/hello_app/VERSION'
  local v1
  v1=$(tr -d '[:space:]' <"$here/examples/hello_app/hello_app/VERSION")

  newest_play site site.yml && newest_health "$v1" || return 1
  newest_play site-again site.yml || return 1
  local changed
  changed=$(sed -nE 's/^\S+ +: ok=[0-9]+ +changed=([0-9]+).*/\1/p' "$cache/site-again.log" | tail -1)
  log "second run of site.yml: changed=$changed"
  [ "$changed" = 0 ] || { grep -E '^changed:' "$cache/site-again.log" | head -20 >&2; return 1; }
  newest_health "$v1" || return 1
  newest_play deploy deploy.yml -e app_source_path=/build/.cache/matrix/releases/hello-2.0.0 && newest_health 2.0.0 ||
    return 1
  newest_play restart restart.yml -e app_source_path=/build/.cache/matrix/releases/hello-2.0.0 &&
    newest_health 2.0.0 || return 1
  newest_play rollback rollback.yml && newest_health "$v1" || return 1
  newest_play validate validate.yml && newest_health "$v1" || return 1
}

leg_newest() {
  local start status=0 steps=${MATRIX_STEPS:-unit sanity scenario}
  start=$(date +%s)
  docker image inspect "$controller_image" >/dev/null 2>&1 ||
    { log "no image $controller_image: scripts/test-hosts.sh all"; exit 2; }
  mkdir -p "$cache"
  trap newest_down EXIT
  trap 'exit 130' INT TERM
  newest_down
  newest_controller_up
  if [[ " $steps " == *" unit "* ]]; then
    log "newest: make unit (Python 3.13)"
    # The plugins' tests run in make sanity (ansible-test units) when it is a step too.
    in_controller make --no-print-directory unit VENV=/opt/venv \
      UNIT_PLUGINS="$([[ " $steps " == *" sanity "* ]] && echo 0 || echo 1)" || status=$?
  fi
  if [[ " $steps " == *" sanity "* ]]; then
    log "newest: make sanity (Python 3.13)"
    in_controller env SANITY_PYTHON=3.13 SANITY_EXTRA_PYTHONS='' make --no-print-directory sanity VENV=/opt/venv ||
      status=$?
  fi
  if [[ " $steps " == *" scenario "* ]]; then
    log "newest: scenario over SSH"
    newest_scenario || status=1
  fi
  log "newest: done in $(($(date +%s) - start))s (exit $status)"
  return $status
}

main() {
  case "${1:-}" in
    venv-min) venv_min ;;
    min) leg_min ;;
    newest) leg_newest ;;
    *) echo "usage: $0 venv-min|min|newest" >&2; return 2 ;;
  esac
}

# On one line: bash has read all of it before it runs, so an edit of this file during a run cannot change the run.
main "$@"; exit $?
