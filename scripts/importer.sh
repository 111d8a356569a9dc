#!/usr/bin/env bash
# Run galaxy-importer, the checks Galaxy and Automation Hub run on an upload, on the built collection tarball.
#
#   scripts/importer.sh          build the tarball, import it; fails on any error or warning the importer reports
#
# It takes about a minute of CPU, most of it the importer's ansible-lint step; on a busy machine that step can pass
# the importer's fixed limit of 180 s. IMPORTER_ANSIBLE_LINT=0 leaves it out, as `make test` does: `make lint` has
# run the same ansible-lint (tests/unit/test_collection_release.py keeps the two pins equal) on the same files with the
# production profile and more rules than the importer enables.
#
# The configuration is .config/galaxy-importer.cfg (Automation Hub's require_v1_or_greater and required tags; the
# importer's ansible-test step is off: it needs a container image from a registry, and `make sanity` runs
# ansible-test on the same tarball). galaxy-importer pins its own ansible-core and ansible-lint, so it runs from a
# venv of its own (make importer-venv, from scripts/tools/galaxy-importer.txt), never the controller's.
#
# The importer runs ansible-lint with ANSIBLE_COLLECTIONS_PATH set to its own extraction of the tarball alone, so
# every module of a dependency collection is "unknown" to its syntax check (Galaxy's own import shows these warnings
# for any collection with dependencies). Here the dependencies are installed the way a user gets them
# (scripts/install-check.sh --install-only: the declared dependencies, packed from the ansible package, offline) into
# a directory on the importer's PYTHONPATH, where Ansible finds collections too (ANSIBLE_COLLECTIONS_SCAN_SYS_PATH):
# a module of a collection that galaxy.yml does not declare still shows as a warning and fails this script.
#
# Environment:
#   VENV             the controller virtualenv: builds the tarball and packs the dependencies (default: .venv)
#   IMPORTER_VENV    galaxy-importer's virtualenv (default: .cache/galaxy-importer-venv)
#   IMPORTER_ANSIBLE_LINT
#                    0 to leave out the importer's ansible-lint step (default: 1)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
importer_venv=${IMPORTER_VENV:-$here/.cache/galaxy-importer-venv}

log() { printf '[importer] %s\n' "$*" >&2; }

if [ ! -x "$importer_venv/bin/python" ] || ! "$importer_venv/bin/python" -c 'import galaxy_importer' 2>/dev/null; then
  log "galaxy-importer not found in $importer_venv: run 'make importer-venv' first"
  exit 2
fi

start=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

VENV=$venv "$here/scripts/install-check.sh" --install-only "$work/collections"
rm -rf "$work/collections/ansible_collections/flaskops" # the importer's extraction is the collection under test
"$venv/bin/ansible-galaxy" collection build --force --output-path "$work/dist" "$here" >/dev/null
tarball=$(ls "$work/dist"/*.tar.gz)
log "importing $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"

cd "$work"
if [ "${IMPORTER_ANSIBLE_LINT:-1}" = 0 ]; then
  log "the importer's ansible-lint step is left out (IMPORTER_ANSIBLE_LINT=0; make lint runs the same ansible-lint)"
  export GALAXY_IMPORTER_RUN_ANSIBLE_LINT=false
fi
# The importer calls ansible-doc, ansible-lint and flake8 by name: its own.
set +e
env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH PATH="$importer_venv/bin:$PATH" PYTHONPATH="$work/collections" \
  ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=true ANSIBLE_HOME="$work/home" GALAXY_IMPORTER_CONFIG="$here/.config/galaxy-importer.cfg" \
  "$importer_venv/bin/python" -m galaxy_importer.main "$tarball" >"$work/import.log" 2>&1
rc=$?
set -e
grep -vE '^(Loading|Linting) |^$' "$work/import.log" >&2 || true

findings=$(grep -cE '^(WARNING|ERROR)|Traceback' "$work/import.log" || true)
if [ $rc -ne 0 ] || ! grep -q '^Importer processing completed successfully' "$work/import.log"; then
  log "galaxy-importer failed (exit $rc) after $(($(date +%s) - start))s"
  exit 1
fi
if [ "$findings" -ne 0 ]; then
  log "galaxy-importer passed with $findings warning(s) or error(s) above: fix them"
  exit 1
fi
log "passed with no warning in $(($(date +%s) - start))s"
