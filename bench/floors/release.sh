#!/usr/bin/env bash
# The floors of deploy.yml and restart.yml (and rollback.yml): the unavoidable work of putting a release live through
# the idle slot without dropping a request, by hand, on a host converged by site.yml. It approximates that work; it
# does not reproduce the playbooks.
#
#   deploy APP DOMAIN DIR   DIR is a new release already copied to the host (bench/release.sh copies it, and times
#                           the copy with the floor): a new venv from the host's warm cache (uv venv --seed and
#                           uv pip install -r, as the collection does, when /opt/flaskops/uv/bin/uv exists; else
#                           python3 -m venv and pip with the collection's pip cache), then the slot steps below.
#   restart APP DOMAIN      the live release through the idle slot: the slot steps below. A rollback puts a release
#                           that is already built live the same way, so this is the floor of rollback.yml as well.
#
# The slot steps: read the live slot from /etc/APP/slots/state.json; point the idle slot at the release (its
# configuration copied from the live slot, its 50-release.conf drop-in, systemctl daemon-reload); start it; GET
# /health on its socket until it answers 200 (with python3: curl is not on the test image); write nginx's upstream
# file and `nginx -s reload`; record the live slot in state.json and move the `current` link; stop the old slot.
# Left out, as a floor should: the playbooks' preflight and fact gathering, the configuration check, the hooks, the
# bytecode compile, the check through nginx, the wait for nginx's old workers to drain, enabling the slot at boot,
# the cleanup of old releases, and any repair of a host that an interrupted run left behind.
#
# It runs INSIDE a test host: bench/release.sh feeds it to `bash -s` there (over docker exec or SSH, as the playbook
# is run). Do not run it on your own machine.
#   FLASKOPS_BENCH_FLOOR=1 bash -s -- deploy hello hello.flaskops.test /srv/hello/releases/floor-2.1.0 < bench/floors/release.sh
set -euo pipefail
[ "${FLASKOPS_BENCH_FLOOR:-}" = 1 ] || { echo "a floor of bench/release.sh; it runs inside a test host" >&2; exit 2; }

ms() { date +%s%3N; }
# Run a step and print how long it took.
step() { # what command...
  local what=$1 t0
  shift
  t0=$(ms)
  "$@"
  printf '  %-66s %6.1fs\n' "$what" "$(($(ms) - t0))e-3"
}
# Run a command without its output, unless it fails.
quiet() {
  local out
  out=$("$@" 2>&1) || { echo "$out" | tail -20 >&2; return 1; }
}

venv() { # release-dir
  local dir=$1 uv=/opt/flaskops/uv/bin/uv
  if [ -x "$uv" ]; then
    export UV_CACHE_DIR=/var/cache/flaskops/uv UV_LINK_MODE=hardlink UV_SYSTEM_CERTS=1 UV_NATIVE_TLS=1 UV_NO_PROGRESS=1 \
      UV_PYTHON_DOWNLOADS=never
    step "uv venv --seed (the collection's uv)" quiet "$uv" venv --seed --no-project --quiet --python /usr/bin/python3 "$dir/.venv"
    step "uv pip install -r requirements.txt (warm uv cache)" \
      quiet "$uv" pip install --python "$dir/.venv/bin/python" --requirement "$dir/requirements.txt"
  else
    export PIP_CACHE_DIR=/var/cache/flaskops/pip PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
    step "python3 -m venv (no uv on the host)" quiet python3 -m venv "$dir/.venv"
    step "pip install -r requirements.txt (warm pip cache)" quiet "$dir/.venv/bin/pip" install --requirement "$dir/requirements.txt"
  fi
}

# The idle slot runs the release: its configuration and drop-in follow the live slot's, with the release's directory.
point() { # app live idle live-dir new-dir
  local app=$1 live=$2 idle=$3 live_dir=$4 new_dir=$5 units=/etc/systemd/system
  install -d -m 0750 "/etc/$app/slots/$idle"
  cp -a "/etc/$app/slots/$live/." "/etc/$app/slots/$idle/"
  install -d "$units/$app@$idle.service.d"
  sed -e "s#$live_dir#$new_dir#g" -e "s/\\b$live\\b/$idle/g" "$units/$app@$live.service.d/50-release.conf" \
    >"$units/$app@$idle.service.d/50-release.conf"
  systemctl daemon-reload
}

health() { # socket host-header
  python3 - "$1" "$2" <<'PY'
import socket, sys, time
path, host = sys.argv[1], sys.argv[2]
for attempt in range(1, 41):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(path)
            s.sendall(("GET /health HTTP/1.0\r\nHost: %s\r\n\r\n" % host).encode())
            head = b""
            while b"\r\n" not in head:
                chunk = s.recv(256)
                if not chunk:
                    break
                head += chunk
        if head.split(b" ")[1:2] == [b"200"]:
            sys.exit(0)
    except (OSError, IndexError):
        pass
    time.sleep(0.25)
sys.exit("no 200 from %s after 40 tries" % path)
PY
}

switch() { # app idle
  printf 'server unix:/run/%s/%s.sock max_fails=0;\n' "$1" "$2" >"/etc/nginx/flaskops/$1.upstream.conf"
  nginx -s reload
}

record() { # app live idle live-dir new-dir
  python3 - "/etc/$1/slots/state.json" "$2" "$3" "$4" "$5" <<'PY'
import json, os, sys
path, live, idle, live_dir, new_dir = sys.argv[1:]
state = json.load(open(path))
slot = dict(state.get("slots", {}).get(live, {}))
slot.update(release=os.path.basename(new_dir), release_dir=new_dir)
state.setdefault("slots", {})[idle] = slot
state.update(active=idle, previous=live_dir)
with open(path + ".tmp", "w") as f:
    json.dump(state, f, indent=4, sort_keys=True)
os.replace(path + ".tmp", path)
PY
  ln -sfn "$5" "/srv/$1/current"
}

main() {
  local mode=$1 app=$2 domain=$3 new_dir=${4:-} live idle live_dir
  live=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["active"])' "/etc/$app/slots/state.json")
  case "$live" in
    blue) idle=green ;;
    green) idle=blue ;;
    *) echo "no live slot in /etc/$app/slots/state.json" >&2; exit 1 ;;
  esac
  live_dir=$(sed -n 's/^WorkingDirectory=//p' "/etc/systemd/system/$app@$live.service.d/50-release.conf")
  [ -n "$live_dir" ] || { echo "slot $live has no release drop-in" >&2; exit 1; }
  case "$mode" in
    deploy)
      echo "deploy floor: release $new_dir (copied by bench/release.sh) through slot $idle, live $live"
      venv "$new_dir"
      ;;
    restart)
      echo "restart floor: release $live_dir through slot $idle, live $live"
      new_dir=$live_dir
      ;;
    *) echo "usage: deploy APP DOMAIN DIR | restart APP DOMAIN" >&2; exit 2 ;;
  esac
  step "point slot $idle at the release (config, drop-in, daemon-reload)" point "$app" "$live" "$idle" "$live_dir" "$new_dir"
  step "systemctl start $app@$idle.service" systemctl start "$app@$idle.service"
  step "GET /health on /run/$app/$idle.sock until 200" health "/run/$app/$idle.sock" "$domain"
  step "nginx upstream -> $idle, nginx -s reload" switch "$app" "$idle"
  step "record $idle live (state.json, current link)" record "$app" "$live" "$idle" "$live_dir" "$new_dir"
  step "systemctl stop $app@$live.socket $app@$live.service" systemctl stop "$app@$live.socket" "$app@$live.service"
}

# Everything above is read before main runs: its commands get no stdin, which holds this script under `bash -s`.
main "$@" </dev/null
