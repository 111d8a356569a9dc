"""Every module option the role and its integration playbooks pass exists in that module's documentation.

Nothing here can run the Windows modules; this at least proves no option was guessed: the task files are
read, each module call is matched against `ansible-doc --json` of the collections the project pins.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.flaskops.deploy.tests.unit.roles.iis.conftest import REPO, ROLE, ansible_cli, load_yaml

TASK_KEYWORDS = {
    "name", "when", "loop", "loop_control", "register", "vars", "tags", "notify", "no_log", "changed_when",
    "failed_when", "until", "retries", "delay", "check_mode", "diff", "become", "become_user", "delegate_to",
    "run_once", "environment", "ignore_errors", "block", "rescue", "always", "args", "listen",
    "delegate_facts", "any_errors_fatal", "throttle", "timeout",
}

FILES = sorted((ROLE / "tasks").glob("*.yml")) + sorted((REPO / "tests" / "integration" / "windows").glob("*.yml"))


def tasks_of(items):
    for item in items or []:
        if not isinstance(item, dict):
            continue
        if "tasks" in item:  # a play
            yield from tasks_of(item.get("tasks"))
            continue
        for section in ("block", "rescue", "always"):
            yield from tasks_of(item.get(section))
        yield item


def calls():
    found = []
    for path in FILES:
        data = load_yaml(path)
        if not isinstance(data, list):
            continue  # a vars file
        for task in tasks_of(data):
            modules = [k for k in task if k not in TASK_KEYWORDS and k.count(".") == 2]
            if modules:
                args = task[modules[0]]
                found.append((path.relative_to(REPO), task.get("name", "?"), modules[0], args if isinstance(args, dict) else {}))
    return found


CALLS = calls()


@pytest.fixture(scope="module")
def docs(collections_path):
    modules = sorted({call[2] for call in CALLS if not call[2].startswith("ansible.builtin.import_")})
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(p for p in (collections_path, env.get("ANSIBLE_COLLECTIONS_PATH")) if p)
    out = subprocess.run(ansible_cli("ansible-doc") + ["--json", "-t", "module", *modules], capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout)


def test_tasks_were_found():
    assert len(CALLS) > 60
    expected = {"microsoft.iis.website", "community.windows.win_nssm", "ansible.windows.win_uri", "ansible.windows.win_powershell"}
    assert {call[2] for call in CALLS} >= expected


@pytest.mark.parametrize("path, task, module, args", CALLS, ids=["%s: %s" % (c[0], c[1]) for c in CALLS])
def test_module_options_exist(docs, path, task, module, args):
    free_form = ("ansible.builtin.include_role", "ansible.builtin.set_fact")
    if module.startswith("ansible.builtin.import_") or module in free_form:
        return  # their keys are free-form (file names, fact names)
    assert module in docs, "%s is not a module ansible-doc knows" % module
    options = docs[module]["doc"].get("options") or {}
    known = set(options)
    for spec in options.values():
        known |= set(spec.get("aliases") or [])
    unknown = sorted(set(args) - known)
    assert unknown == [], "%s in %s: %s" % (module, path, unknown)
