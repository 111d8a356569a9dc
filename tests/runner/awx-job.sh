#!/usr/bin/env bash
# An AWX-style job on the demo host: ansible-runner (scripts/runner-venv.sh, from PyPI in .cache/runner-venv) runs a
# playbook of the collection from a private data directory (project, env/extravars, env/envvars) with the demo
# inventory, then tests/runner/check_artifacts.yml reads the job's artifacts (rc, status, the playbook_on_stats event)
# through molecule/shared/tasks/runner_artifacts.yml and asserts that set_stats' artifact_data holds the run summary
# of every host: what an AWX workflow hands to its next job.
#   tests/runner/awx-job.sh <playbook> [<extra vars as JSON>] [<release the summary must name>]
#   tests/runner/awx-job.sh deploy '{"app_release_id": "demo-awx"}' demo-awx
set -euo pipefail
cd "$(dirname "$0")/../.."

playbook=${1:?usage: $0 <playbook> [<extra vars as JSON>] [<release>]}
extravars=${2:-"{}"}
release=${3:-}
runner=$(scripts/runner-venv.sh)
pdd=$PWD/.cache/runner/$playbook
ident=job-$(date +%s%N)

rm -rf "$pdd" && mkdir -p "$pdd/project" "$pdd/env"
printf -- '---\n- name: %s, as an AWX job template runs it\n  ansible.builtin.import_playbook: flaskops.deploy.%s\n' \
  "$playbook" "$playbook" > "$pdd/project/$playbook.yml"
printf '%s\n' "$extravars" > "$pdd/env/extravars"
# What an execution environment provides: this checkout as flaskops.deploy, the controller's ansible on PATH.
printf -- '---\nANSIBLE_COLLECTIONS_PATH: %s\nANSIBLE_PIPELINING: "True"\nANSIBLE_HOST_KEY_CHECKING: "False"\n' \
  "$PWD/.collections" > "$pdd/env/envvars"

echo "[awx-job] ansible-runner run $pdd --playbook $playbook.yml --inventory inventories/demo --ident $ident"
rc=0
PATH="$PWD/.venv/bin:$PATH" "$runner" run "$pdd" --playbook "$playbook.yml" --inventory "$PWD/inventories/demo" \
  --ident "$ident" --quiet || rc=$?
echo "[awx-job] ansible-runner exited $rc; its stdout ends with:"
tail -25 "$pdd/artifacts/$ident/stdout" || true

.venv/bin/ansible-playbook -i localhost, -c local tests/runner/check_artifacts.yml \
  -e "{\"runner_pdd\": \"$pdd\", \"runner_release\": \"$release\", \"runner_hosts\": [\"flaskops-demo\"]}"
