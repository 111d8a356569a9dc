#!/usr/bin/env bash
# Run `ansible-test sanity` on this collection.
#
#   scripts/sanity.sh                      every sanity test on Python 3.11, plus compile and import on 3.13
#   scripts/sanity.sh --test validate-modules
#                                          extra arguments go to the 3.11 run of ansible-test sanity
#
# ansible-test needs the collection at .../ansible_collections/<namespace>/<name>, so plugins/, tests/, meta/
# and galaxy.yml are copied into such a tree in a temporary directory, which is removed afterwards.
# Each test runs in its own virtualenv (--venv) with the requirements ansible-test pins, installed from PyPI;
# no container runtime is needed and nothing else is downloaded.
#
# No test is skipped (no --skip-test): all of them run offline once their requirements are installed from PyPI.
# A few have nothing to look at in the copied tree and pass trivially: pslint (no PowerShell files), shellcheck
# (no shell scripts) and changelog (changelogs/ is not copied; antsibull-changelog lints it separately).
#
# Environment:
#   VENV             the controller virtualenv with ansible-core (default: .venv of this checkout)
#   SANITY_PYTHON    the Python version of the full run (default: 3.11, the controller's)
#   SANITY_EXTRA_PYTHONS
#                    target Python versions for the compile and import tests (default: 3.13; empty to skip)
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

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

namespace=flaskops
name=deploy
if [ -f "$here/galaxy.yml" ]; then
  namespace=$(sed -n 's/^namespace:[[:space:]]*//p' "$here/galaxy.yml" | tr -d "\"' ")
  name=$(sed -n 's/^name:[[:space:]]*//p' "$here/galaxy.yml" | tr -d "\"' ")
fi
dest=$work/ansible_collections/$namespace/$name
mkdir -p "$dest"

# The sanity scope is the collection's plugins and their unit tests (roles, playbooks and the other tests are
# covered by ansible-lint, yamllint and pytest).
for item in plugins meta galaxy.yml tests/unit/plugins tests/unit/conftest.py tests/unit/requirements.txt tests/fixtures; do
  if [ -e "$here/$item" ]; then
    mkdir -p "$dest/$(dirname "$item")"
    cp -R "$here/$item" "$dest/$item"
  fi
done
if [ ! -f "$dest/galaxy.yml" ]; then
  log "no galaxy.yml yet: using a minimal one for this run"
  cat >"$dest/galaxy.yml" <<GALAXY
namespace: $namespace
name: $name
version: 0.1.0
readme: README.md
authors:
  - $namespace.$name maintainers
GALAXY
fi
# Local leftovers are not part of the collection.
rm -rf "$dest/tests/output"
find "$dest" \( -name __pycache__ -o -name .pytest_cache \) -prune -exec rm -rf {} +

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
"$ansible_test" sanity --venv --python "$python_version" --color no "$@" || status=$?

if [ $# -eq 0 ]; then
  for version in $extra_pythons; do
    if usable_python "$version"; then
      log "ansible-test sanity --test compile/import on Python $version"
      "$ansible_test" sanity --venv --python "$version" --color no --test compile --test import || status=$?
    else
      log "python$version not found: compile and import not checked on it"
    fi
  done
fi

exit $status
