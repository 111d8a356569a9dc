#!/usr/bin/env bash
# The changelog of the release that galaxy.yml names, with antsibull-changelog.
#
#   scripts/changelog.sh release   cut the release of galaxy.yml's version, or update it when changelogs/changelog.yaml
#                                  has it already (fragments added or edited since, today's date); writes
#                                  changelogs/changelog.yaml and CHANGELOG.rst and moves the fragments it took to
#                                  changelogs/archive/<version>/
#   scripts/changelog.sh check     fail when a fragment is invalid, or when the committed changelog is not what
#                                  `release` would write (see below); changes nothing in the checkout
#
# What `check` demands depends on galaxy.yml's version:
# - it is a release in changelogs/changelog.yaml (the release is cut, or being cut): `release` run on a copy, with the
#   recorded date, must leave changelog.yaml and CHANGELOG.rst as they are and no fragment behind. A fragment added
#   after the release was cut fails the check until `make changelog` takes it in (or galaxy.yml names the next
#   version).
# - it is not (the next version, in development): fragments accumulate for it; CHANGELOG.rst must be what
#   changelog.yaml gives.
#
# Environment:
#   VENV               the controller virtualenv: its ansible-doc reads the plugins' documentation (default: .venv)
#   CHANGELOG_VENV     antsibull-changelog's own virtualenv (default: .cache/antsibull-changelog-venv; `make changelog`
#                      creates it from scripts/tools/antsibull-changelog.txt)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
changelog_venv=${CHANGELOG_VENV:-$here/.cache/antsibull-changelog-venv}
antsibull=$changelog_venv/bin/antsibull-changelog
python=$changelog_venv/bin/python

log() { printf '[changelog] %s\n' "$*" >&2; }

for tool in "$antsibull" "$venv/bin/ansible-doc"; do
  if [ ! -x "$tool" ]; then
    log "$tool not found: run 'make changelog-venv venv' first"
    exit 2
  fi
done
# ansible-doc lists the plugins of the collection (new modules and plugins of a release come from their version_added).
export PATH=$venv/bin:$PATH

version=$("$python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$here/galaxy.yml")
release_args=(release --version "$version" --update-existing --refresh-fragments with-archives
  --reload-plugins --refresh-plugins prevent-removal --ansible-doc-bin "$venv/bin/ansible-doc")

# The date recorded for a version in changelog.yaml, empty when the version is not there.
recorded_date() {
  "$python" - "$1/changelogs/changelog.yaml" "$version" <<'PY'
import sys
import yaml
with open(sys.argv[1], encoding="utf-8") as handle:
    releases = (yaml.safe_load(handle) or {}).get("releases") or {}
print((releases.get(sys.argv[2]) or {}).get("release_date", ""))
PY
}

# The fragments waiting for a release (the directory's files but its .keep).
pending_fragments() {
  find "$1/changelogs/fragments" -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) -printf '%f\n' | sort
}

case "${1:-}" in
release)
  cd "$here"
  log "release $version: fragments $(pending_fragments "$here" | xargs echo)"
  "$antsibull" "${release_args[@]}"
  # Fragments that a release takes are recorded without their trivial section, while a refresh from the archive
  # keeps it: refresh once more, so that the next run (and `check`) finds nothing to change.
  "$antsibull" generate --refresh-fragments with-archives
  rm -f changelogs/.plugin-cache.yaml
  left=$(pending_fragments "$here")
  if [ -n "$left" ]; then
    log "fragments not taken (a release already has a fragment of the same name; rename them): $left"
    exit 1
  fi
  log "CHANGELOG.rst and changelogs/changelog.yaml updated for $version ($(recorded_date "$here"))"
  ;;
check)
  cd "$here"
  "$antsibull" lint
  "$antsibull" lint-changelog-yaml --strict changelogs/changelog.yaml
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # What antsibull-changelog reads: the collection's metadata, its plugins (ansible-doc) and the changelog.
  cp -a galaxy.yml meta plugins changelogs "$work/"
  [ -f CHANGELOG.rst ] && cp CHANGELOG.rst "$work/"
  rm -f "$work/changelogs/.plugin-cache.yaml"
  date=$(recorded_date "$here")
  if [ -n "$date" ]; then
    (cd "$work" && "$antsibull" "${release_args[@]}" --date "$date" >/dev/null)
    left=$(pending_fragments "$work")
  else
    (cd "$work" && "$antsibull" generate >/dev/null)
    left=
  fi
  status=0
  for file in CHANGELOG.rst changelogs/changelog.yaml; do
    if ! diff -u "$file" "$work/$file" >"$work/diff" 2>&1; then
      head -40 "$work/diff" >&2
      log "$file is not what the fragments give for $version: run 'make changelog' and commit the result"
      status=1
    fi
  done
  if [ -n "$left" ]; then
    log "fragments with the name of one that a release already has: $(echo "$left" | xargs echo) (rename them)"
    status=1
  fi
  if [ $status = 0 ]; then
    if [ -n "$date" ]; then
      log "ok: $version is released ($date) with every fragment, and CHANGELOG.rst is up to date"
    else
      log "ok: $version is in development ($(pending_fragments "$here" | wc -l) fragments), CHANGELOG.rst is up to date"
    fi
  fi
  exit $status
  ;;
*)
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
