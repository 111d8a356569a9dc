#!/usr/bin/env bash
# make newcomer: the path a new user takes, as a test.
#   1. make demo-clean, then make demo (the demo container, the local ACME server, site.yml, TLS)
#   2. make demo again: site.yml must report changed=0 (the README promises that a second run changes nothing)
#   3. the commands of the README's "Day 2 on the demo host" block (between <!-- newcomer:begin --> and
#      <!-- newcomer:end -->), exactly as written and in order, each in a shell like a user's (no ANSIBLE_* or make
#      variables, no venv on PATH); each must exit 0. Meanwhile a bounded load runs inside the demo container against
#      nginx over TLS and counts failed requests: there must be none.
#   4. the output of site.yml (both make demo runs) and of each day-2 playbook ends with the run summary and, but in
#      check mode, has no warning; then an AWX-style job (tests/runner/awx-job.sh: ansible-runner from PyPI runs
#      deploy.yml) must leave the run summary in its artifacts (set_stats), still under the load
#   5. make demo-clean
# It prints the duration of each step and a closing line "newcomer: N passed, M failed"; exit code 1 when M > 0.
# Logs: .cache/newcomer/<step>.log. NEWCOMER_KEEP=1 leaves the demo hosts up at the end (to look at a failure).
# It removes the demo container (yours too, if one is running) before it starts.
set -uo pipefail
cd "$(dirname "$0")/.."

name=flaskops-demo
domain=hello.flaskops.test
logs=.cache/newcomer
readme=README.md
# The load: 2 threads, a short pause between requests (the controller shares the machine), stopped by the test
# when the last command ends, and in any case after NEWCOMER_LOAD_SECONDS or NEWCOMER_LOAD_REQUESTS.
load_seconds=${NEWCOMER_LOAD_SECONDS:-2700}
load_requests=${NEWCOMER_LOAD_REQUESTS:-300000}
load_script=/usr/local/bin/flaskops-loadgen.py
load_out=/run/flaskops-newcomer-load.json
load_stop=/run/flaskops-newcomer-load.stop

passed=0
failed=0
results=()
rm -rf "$logs" && mkdir -p "$logs"

# A user's shell: none of the Makefile's exports (ANSIBLE_*, PY_COLORS, make's own variables), the venv not on PATH.
user_env=()
for var in $(compgen -e); do
  case "$var" in ANSIBLE_*|PY_COLORS|MAKEFLAGS|MAKELEVEL|MFLAGS|MAKEOVERRIDES) user_env+=(-u "$var") ;; esac
done
user_path=$(tr ':' '\n' <<<"$PATH" | grep -vxF "$PWD/.venv/bin" | paste -sd: -)

record() { # record <passed|FAILED> <label> <seconds> [note]
  if [ "$1" = passed ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  results+=("$(printf '%-7s %5ss  %s%s' "$1" "$3" "$2" "${4:+  ($4)}")")
}

# run_step <label> <log> <command>: run one command line as a user types it; record it; 0 when it exited 0.
run_step() {
  local label=$1 log=$2 line=$3 start rc
  printf '\n[newcomer] $ %s\n' "$line"
  start=$(date +%s)
  env "${user_env[@]}" PATH="$user_path" bash -c "$line" >"$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    record passed "$label" $(($(date +%s) - start))
    awk '/^PLAY RECAP/ { recap = ""; next } /(ok|changed)=/ { recap = recap $0 "\n" } END { printf "%s", recap }' "$log"
  else
    record FAILED "$label" $(($(date +%s) - start)) "exit $rc, log $log"
    echo "[newcomer] FAILED (exit $rc): the errors, then the end of $log"
    grep -nE 'fatal:|FAILED!|ERROR|msg:' "$log" | head -20
    tail -30 "$log"
  fi
  return $rc
}

# check_output <label> <log> <tests/run_output.py options>: check a playbook's output; record it.
check_output() {
  local label=$1 log=$2 out
  shift 2
  if out=$(python3 tests/run_output.py "$log" "$@" 2>&1); then
    record passed "$label" 0
  else
    record FAILED "$label" 0 "see $log"
    printf '%s\n' "$out" | tail -30
  fi
}

# The changed count of the last play recap in a log (site.yml is the last playbook scripts/demo.sh runs).
recap_changed() {
  awk '/^PLAY RECAP/ { total = 0; seen = 1; next }
       seen && /changed=/ { for (i = 1; i <= NF; i++) if ($i ~ /^changed=/) { split($i, kv, "="); total += kv[2] } }
       END { print (seen ? total : "none") }' "$1"
}

# The README's day-2 block: the lines of the fenced block between the markers, without comments and blank lines.
mapfile -t commands < <(sed -n '/<!-- newcomer:begin -->/,/<!-- newcomer:end -->/p' "$readme" |
  sed -e '/^<!--/d' -e '/^```/d' -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d')

stop_load() { docker exec "$name" touch "$load_stop" >/dev/null 2>&1 || true; }
trap stop_load EXIT

summary() {
  printf '\n=== newcomer summary\n'
  printf '%s\n' "${results[@]}"
  echo "newcomer: $passed passed, $failed failed"
}

if [ ${#commands[@]} -eq 0 ]; then
  record FAILED "read the day-2 commands from $readme" 0 "no <!-- newcomer:begin --> block with commands"
  summary
  exit 1
fi

run_step "make demo-clean (clean state)" "$logs/00-demo-clean.log" "make demo-clean" || true

if ! run_step "make demo" "$logs/01-demo.log" "make demo"; then
  echo "[newcomer] make demo failed: the day-2 commands are not run"
else
  if run_step "make demo again" "$logs/02-demo-again.log" "make demo"; then
    changed=$(recap_changed "$logs/02-demo-again.log")
    if [ "$changed" = 0 ]; then
      record passed "second make demo: site.yml changed=0" 0
    else
      record FAILED "second make demo: site.yml changed=0" 0 "changed=$changed, see $logs/02-demo-again.log"
      grep -B3 -E '^changed:' "$logs/02-demo-again.log" | grep -E '^TASK|^changed' | head -20
    fi
  fi

  # The load runs inside the demo container, through nginx over TLS: https://<domain> resolves there (the container's
  # alias on the demo network) and sends the name as SNI, which nginx needs (a bare IP gets no TLS handshake).
  docker cp tests/load/loadgen.py "$name:$load_script" >/dev/null
  docker exec "$name" rm -f "$load_out" "$load_stop"
  docker exec -d "$name" python3 "$load_script" --url "https://$domain/health" --host "$domain" --insecure \
    --threads 2 --pause 0.01 --timeout 10 --max-seconds "$load_seconds" --max-requests "$load_requests" \
    --stop-file "$load_stop" --out "$load_out"
  load_start=$(date +%s)

  i=0
  for line in "${commands[@]}"; do
    i=$((i + 1))
    label=$(sed -E 's#^\.venv/bin/##; s#-i inventories/demo ##; s#playbooks/##' <<<"$line")
    run_step "$label" "$logs/$(printf '%02d' $((i + 2)))-day2.log" "$line" || true
  done

  # Each playbook's output ends with its run summary, and no run warns (the demo inventory is single-tier: no
  # "Could not match supplied host pattern" for a load balancer group it does not have). A check-mode run may warn
  # about what only a real run can read (a release not unpacked yet).
  check_output "make demo: site.yml ends with its summary, no warning" "$logs/01-demo.log" \
    --summary "(site): release " --summary "went live in slot" --summary "health:   healthy" --no-warnings
  check_output "make demo again: site.yml's summary, unchanged, no warning" "$logs/02-demo-again.log" \
    --summary "(site): release " --summary "unchanged by this run" --summary "health:   healthy" --no-warnings
  i=0
  for line in "${commands[@]}"; do
    i=$((i + 1))
    playbook=$(grep -oE 'playbooks/[a-z]+\.yml' <<<"$line" | head -1)
    case "$playbook" in playbooks/site.yml|playbooks/deploy.yml|playbooks/restart.yml|playbooks/rollback.yml|playbooks/validate.yml) ;; *) continue ;; esac
    expect=(--summary "($(basename "$playbook" .yml)): " --summary "health:   healthy")
    release=$(grep -oE 'app_release_id=[^ ]+' <<<"$line" | cut -d= -f2 || true)
    if grep -q -- '--check' <<<"$line"; then
      expect+=(--summary "check mode: release ${release:-}")
    else
      expect+=(--no-warnings)
      [ -n "$release" ] && expect+=(--summary "release $release ")
      if [ "$playbook" = playbooks/validate.yml ]; then expect+=(--summary "unchanged by this run")
      else expect+=(--summary "went live in slot" --summary "took:     build "); fi
    fi
    check_output "$(basename "$playbook") ${release:+($release) }ends with its summary" \
      "$logs/$(printf '%02d' $((i + 2)))-day2.log" "${expect[@]}"
  done

  # An AWX-style job: ansible-runner (its own venv, from PyPI) runs deploy.yml; the job's artifacts must hold the run
  # summary that set_stats gave (artifact_data.flaskops_summary), as an AWX workflow reads it.
  run_step "AWX-style job (ansible-runner): deploy.yml, set_stats summary in its artifacts" "$logs/90-awx-job.log" \
    "tests/runner/awx-job.sh deploy '{\"app_release_id\": \"demo-awx\"}' demo-awx" || true

  ended_early=false
  if docker exec "$name" test -e "$load_out"; then ended_early=true; fi
  stop_load
  for _ in $(seq 1 30); do docker exec "$name" test -e "$load_out" && break; sleep 1; done
  load=$(docker exec "$name" cat "$load_out" 2>/dev/null || echo '{}')
  echo "$load" >"$logs/load.json"
  read -r requests failures statuses < <(python3 -c 'import json, sys
s = json.loads(sys.argv[1] or "{}")
print(s.get("requests", 0), s.get("failed", "none"), json.dumps(s.get("statuses", {}), separators=(",", ":")))' "$load")
  note="$requests requests, $failures failed, statuses $statuses"
  if [ "$ended_early" = true ]; then
    record FAILED "load during the day-2 commands: 0 failed" $(($(date +%s) - load_start)) \
      "$note; it reached its bound before the last command ended (NEWCOMER_LOAD_SECONDS, NEWCOMER_LOAD_REQUESTS)"
  elif [ "$failures" = 0 ] && [ "${requests:-0}" -gt 0 ]; then
    record passed "load during the day-2 commands: 0 failed" $(($(date +%s) - load_start)) "$note"
  else
    record FAILED "load during the day-2 commands: 0 failed" $(($(date +%s) - load_start)) "$note, see $logs/load.json"
  fi
fi

if [ "${NEWCOMER_KEEP:-0}" = 1 ]; then
  echo "[newcomer] NEWCOMER_KEEP=1: the demo hosts stay up (make demo-clean removes them)"
else
  run_step "make demo-clean" "$logs/99-demo-clean.log" "make demo-clean" || true
fi

summary
[ "$failed" -eq 0 ]
