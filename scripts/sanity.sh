#!/usr/bin/env bash
# Run `ansible-test sanity` and `ansible-test units` on the built collection.
#
#   scripts/sanity.sh                      sanity on Python 3.11 (plus compile and import on 3.13), then units
#   scripts/sanity.sh --test validate-modules
#                                          extra arguments go to the 3.11 run of ansible-test sanity (units and the
#                                          other Python versions are not run then)
#
# What is checked is what users install: scripts/install-check.sh builds the tarball (galaxy.yml's build_ignore keeps
# the development tooling out) and installs it, with its dependencies packed from the ansible package, into
# <tmp>/ansible_collections, where ansible-test runs (the dependencies sit beside it, as ansible-test expects); the
# tree is removed afterwards. Each test runs in its own virtualenv (--venv) with the requirements ansible-test pins, installed from
# PyPI; no container runtime is needed.
#
# Sanity tests that are skipped, and why:
#   pslint      needs PowerShell (pwsh) and PSScriptAnalyzer, which neither PyPI nor Debian's archive has; the iis
#               role's PowerShell is checked by its unit tests (tests/unit/roles/iis) instead.
# The shellcheck test runs when the shellcheck program is there; as root it is installed from Debian's archive when missing.
# No ignore file: every finding is fixed (galaxy-importer warns about any ignore entry).
#
# Units: `ansible-test units` runs tests/unit/plugins (about 30 s) with tests/unit/requirements.txt. tests/unit/roles
# runs under it too (SANITY_UNIT_TARGETS="tests/unit/plugins/ tests/unit/roles/"; the two README-table checks skip
# there, scripts/ not being part of the built collection), but it takes about 6 minutes there against about 1 under
# plain pytest (many ansible-playbook runs), so by default `make unit` covers the roles, like tests/unit/awx and
# tests/unit/test_collection_metadata.py, which look at files that are not part of the built collection.
#
# Environment:
#   VENV             the controller virtualenv with ansible-core (default: .venv of this checkout)
#   SANITY_PYTHON    the Python version of the full run (default: 3.11, the controller's)
#   SANITY_EXTRA_PYTHONS
#                    target Python versions for the compile and import tests (default: 3.13; empty to skip)
#   SANITY_UNITS     0 to skip ansible-test units
#   SANITY_UNIT_TARGETS
#                    what ansible-test units runs (default: tests/unit/plugins/)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
ansible_test=$venv/bin/ansible-test
python_version=${SANITY_PYTHON:-3.11}
extra_pythons=${SANITY_EXTRA_PYTHONS-3.13}

log() { printf '[sanity] %s\n' "$*" >&2; }

if [ ! -x "$ansible_test" ]; then
  log "ansible-test not found in $venv: run 'make venv' first"
  exit 2
fi

start=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

VENV=$venv "$here/scripts/install-check.sh" --install-only "$work"
dest=$work/ansible_collections/$(sed -n 's/^namespace:[[:space:]]*//p' "$here/galaxy.yml" | tr -d "\"' ")/$(sed -n 's/^name:[[:space:]]*//p' "$here/galaxy.yml" | tr -d "\"' ")
# ansible-test needs no git repository here: outside one it
# takes every file of the tree, which is exactly the installed collection.

if ! command -v shellcheck >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing shellcheck from Debian's archive"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null) ||
    log "could not install shellcheck: the shellcheck test will say it is missing"
fi

# ansible-test bootstraps pip into each test virtualenv with a get-pip script that it downloads from its own CI
# file host. Where that host cannot be reached, put a stand-in in its cache: it installs the bundled pip with
# ensurepip and then the requested pip version from the package index.
pip_version=$("$venv/bin/python" -c 'from ansible_test._internal.python_requirements import get_venv_packages as g; from types import SimpleNamespace as N; print(g(N(version="3"))["pip"])' 2>/dev/null || echo 24.2)
get_pip_cache=${HOME}/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$get_pip_cache" ]; then
  mkdir -p "$(dirname "$get_pip_cache")"
  # ansible-test would download its pip bootstrap script from outside; use pip from the package index instead.
  if true; then
    log "pip bootstrap for ansible-test: ensurepip, then pip from the package index ($get_pip_cache)"
    cat >"$get_pip_cache" <<'PY'
"""Stand-in for get-pip.py, written by flaskops.deploy's scripts/sanity.sh: ensurepip, then pip install ARGS."""
import ensurepip
import os
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
# ensurepip turns off pip's configuration (index, certificates) in os.environ; keep it for the real install.
environment = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args, env=environment))
PY
  fi
fi

# A pyenv shim for a version that is installed but not selected fails; use the real interpreter then.
usable_python() {
  local version=$1 prefix
  if "python$version" -c 'import sys' >/dev/null 2>&1; then
    return 0
  fi
  if command -v pyenv >/dev/null 2>&1; then
    prefix=$(pyenv versions --bare 2>/dev/null | grep -E "^${version//./\\.}(\\.[0-9]+)?$" | sort -V | tail -n 1)
    if [ -n "$prefix" ] && [ -x "$(pyenv root)/versions/$prefix/bin/python$version" ]; then
      PATH="$(pyenv root)/versions/$prefix/bin:$PATH"
      export PATH
      return 0
    fi
  fi
  return 1
}

cd "$dest"
status=0

usable_python "$python_version" || log "python$python_version not found: ansible-test will say what it needs"
log "ansible-test sanity on Python $python_version"
"$ansible_test" sanity --venv --python "$python_version" --color no --skip-test pslint "$@" || status=$?

if [ $# -eq 0 ]; then
  for version in $extra_pythons; do
    if usable_python "$version"; then
      log "ansible-test sanity --test compile/import on Python $version"
      "$ansible_test" sanity --venv --python "$version" --color no --test compile --test import || status=$?
    else
      log "python$version not found: compile and import not checked on it"
    fi
  done
  if [ "${SANITY_UNITS:-1}" != 0 ]; then
    log "ansible-test units on Python $python_version"
    # shellcheck disable=SC2086 # a list of targets
    "$ansible_test" units --venv --python "$python_version" --color no --requirements ${SANITY_UNIT_TARGETS:-tests/unit/plugins/} ||
      status=$?
  fi
fi

log "done in $(($(date +%s) - start))s (exit $status)"
exit $status
