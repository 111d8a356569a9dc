#!/usr/bin/env bash
# make runner-venv: ansible-runner (the engine AWX runs jobs with) from PyPI in a venv of its own, .cache/runner-venv.
# It runs ansible-playbook from PATH, as in an execution environment: tests/awx-runner.sh puts the controller's first.
#   scripts/runner-venv.sh            create it (again only when the pinned version changed); print its ansible-runner
set -euo pipefail
cd "$(dirname "$0")/.."

version=${ANSIBLE_RUNNER_VERSION:-2.4.2}
venv=.cache/runner-venv

if [ "$("$venv/bin/ansible-runner" --version 2>/dev/null || true)" != "$version" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "ansible-runner==$version"
fi
echo "$PWD/$venv/bin/ansible-runner"
