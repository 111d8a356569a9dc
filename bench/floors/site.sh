#!/usr/bin/env bash
# The floor of a fresh site.yml: the same unavoidable work done by hand, in a fresh test host. It installs the Debian
# packages site.yml installs for the example app (nginx, python3-venv), makes a venv, installs the
# app's requirements into it with pip and starts nginx, nothing else: no configuration, no users, no units, no checks.
#
# It runs INSIDE a test host: bench/release.sh feeds it to `bash -s` there (over docker exec or SSH, as the playbook
# is run) after copying the app to the directory given as its argument. Do not run it on your own machine.
#   FLASKOPS_BENCH_FLOOR=1 bash -s -- /tmp/flaskops-floor/app < bench/floors/site.sh
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

main() {
  local app=$1
  echo "site floor: packages, venv, requirements and nginx by hand"
  step "apt-get update" quiet apt-get update
  step "apt-get install nginx python3-venv" \
    quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx python3-venv
  step "python3 -m venv /opt/floor/.venv" quiet python3 -m venv /opt/floor/.venv
  step "pip install -r requirements.txt (a cold pip cache, as on a new host)" \
    quiet /opt/floor/.venv/bin/pip install --disable-pip-version-check -r "$app/requirements.txt"
  step "systemctl enable --now nginx" quiet systemctl enable --now nginx
}

# Everything above is read before main runs: its commands get no stdin, which holds this script under `bash -s`.
main "$@" </dev/null
