#!/usr/bin/env bash
# The iis role's integration test on a real Windows host, in the order a user would go:
#   1. check mode on the fresh host (preview; stops early if IIS/ARR/Python/NSSM are still to be installed)
#   2. converge and verify (test.yml)
#   3. idempotence: converge again, no task may report a change
#   4. check mode on the converged host: no task may report a change
#   5. rollback: a release with a failing health check must not stay live; verify again
#
#   tests/integration/windows/run.sh -i path/to/inventory.yml [-e @windows-sources.yml] [-l host]
#
# The inventory needs the host in group "windows" (or set -e flaskops_test_hosts=GROUP) with its connection
# variables, and the MSI/installer sources of the role: iis_url_rewrite_msi, iis_arr_msi,
# iis_python_installer, iis_nssm_source (see roles/iis/README.md).
# Run it from the repository root with the collection on the collections path (make collection).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
logs=$(mktemp -d)
trap 'echo "logs: $logs"' EXIT

step() { printf '\n=== %s\n' "$*"; }

# Fail unless every PLAY RECAP line of the log says changed=0.
no_changes() {
  local log=$1 recap
  recap=$(sed -n '/^PLAY RECAP/,$p' "$log" | grep -E ' : ok=' || true)
  if [ -z "$recap" ] || echo "$recap" | grep -Evq 'changed=0( |$)'; then
    echo "expected no changes:"; echo "$recap"; return 1
  fi
}

step "1. check mode on the fresh host"
ansible-playbook "$@" "$here/converge.yml" --check --diff | tee "$logs/1-check.log"

step "2. converge and verify"
ansible-playbook "$@" "$here/test.yml" | tee "$logs/2-test.log"

step "3. idempotence"
ansible-playbook "$@" "$here/converge.yml" | tee "$logs/3-idempotence.log"
no_changes "$logs/3-idempotence.log"

step "4. check mode on the converged host"
ansible-playbook "$@" "$here/converge.yml" --check --diff | tee "$logs/4-check.log"
no_changes "$logs/4-check.log"

step "5. rollback of a release whose health check fails"
ansible-playbook "$@" "$here/rollback.yml" | tee "$logs/5-rollback.log"

echo
echo "iis integration test: 5 passed, 0 failed"
