"""No secret goes through a task's ``environment:`` keyword.

Ansible puts the ``environment:`` of a task on the command line it runs on a Linux host (``/bin/sh -c 'NAME=value
python3'``, wrapped in sudo's with become): ``-vvv`` prints it, sudo writes it to the journal and any local user sees
it in ``ps``. Secrets reach a command through a file read on the host instead (the app role's hooks: systemd-run with
``EnvironmentFile=``; its config check: ``env_file``).

The rule: no ``environment:`` of a task in ``roles/`` or ``playbooks/`` may read a secret-bearing variable. A variable
is secret-bearing when its name says so (``app_secrets``, ``*_secrets``, ``*password*``, ``*token*``, ``*secret*``,
``*_key``, ``*hmac*``, ``vault_*``) or when its value, anywhere in a role's defaults, vars, ``set_fact`` or a task's
``vars:``, reads one (``__app_env: "{{ app_env | combine(app_secrets) }}"`` is secret-bearing).
"""

from __future__ import annotations

import re

import pytest
import yaml

from test_declared_variables import ROOT, load, template_reads, value_reads

SECRET_NAME = re.compile(r"(^|_)secrets$|password|passwd|passphrase|token|secret|hmac|_key$|^vault_", re.IGNORECASE)
# Tasks allowed to pass a secret-bearing variable through environment:, each with its reason.
ALLOWED = {
    ("roles/iis/tasks/release.yml", "Run the pre-activation hooks in the new release (with the app's environment)"): (
        "Windows: the PowerShell exec wrapper sets the environment from the module payload it reads on stdin; no "
        "command line carries it, and the task never uses become."
    ),
}
SECTIONS = ("block", "rescue", "always")
SET_FACT = ("set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact")
# Modules whose one argument is a string (a command line, a file to include, a message).
FREE_FORM = ("ansible.builtin.command", "ansible.builtin.shell", "ansible.builtin.include_tasks",
             "ansible.builtin.import_tasks", "ansible.builtin.import_playbook", "ansible.builtin.meta",
             "ansible.builtin.raw", "ansible.builtin.script", "ansible.builtin.include_vars")


def _walk(tasks):
    """Every task of a task list, blocks included, with the vars of its enclosing blocks."""
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        yield task
        for section in SECTIONS:
            if isinstance(task.get(section), list):
                yield from _walk(task[section])


def task_files():
    files = sorted((ROOT / "roles").glob("*/tasks/*.yml")) + sorted((ROOT / "roles").glob("*/handlers/*.yml"))
    plays = []
    for path in sorted((ROOT / "playbooks").rglob("*.yml")):
        data = load(path) or []
        if data and isinstance(data, list) and isinstance(data[0], dict) and "hosts" in data[0]:
            plays.append(path)
        else:
            files.append(path)
    return files, plays


def _tasks_of(path, is_play):
    data = load(path) or []
    if not is_play:
        return list(_walk(data))
    found = []
    for play in data:
        for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            found.extend(_walk(play.get(section)))
    return found


def definitions():
    """Every variable a role or playbook defines -> the names its values read (defaults, vars, set_fact, vars:)."""
    defined = {}

    def add(name, value):
        defined.setdefault(str(name), set()).update(value_reads(value))

    for path in sorted((ROOT / "roles").glob("*/defaults/*.yml")) + sorted((ROOT / "roles").glob("*/vars/*.yml")):
        for name, value in (load(path) or {}).items():
            add(name, value)
    files, plays = task_files()
    for path, is_play in [(p, False) for p in files] + [(p, True) for p in plays]:
        for task in _tasks_of(path, is_play):
            for key in SET_FACT:
                if isinstance(task.get(key), dict):
                    for name, value in task[key].items():
                        add(name, value)
            for name, value in (task.get("vars") or {}).items():
                add(name, value)
    return defined


def secret_bearing(defined):
    """The names that carry a secret: by their name, or because their value reads one (transitively)."""
    bearing = {name for name in defined if SECRET_NAME.search(name)}
    reads = set().union(*defined.values()) if defined else set()
    bearing |= {name for name in reads if SECRET_NAME.search(name)}
    changed = True
    while changed:
        changed = False
        for name, names in defined.items():
            if name not in bearing and names & bearing:
                bearing.add(name)
                changed = True
    return bearing


def environment_leaks(tasks, bearing, where):
    """(where, task name, secret-bearing names read) for each task whose environment: reads one."""
    leaks = []
    for task in _walk(tasks):
        if "environment" not in task:
            continue
        names = value_reads(task["environment"])
        if isinstance(task["environment"], str) and "{{" not in task["environment"]:
            names = template_reads("{{ %s }}" % task["environment"])
        hits = sorted(name for name in names if name in bearing or SECRET_NAME.search(name))
        if hits and (where, task.get("name", "")) not in ALLOWED:
            leaks.append((where, task.get("name", ""), hits))
    return leaks


@pytest.fixture(scope="module")
def bearing():
    return secret_bearing(definitions())


def test_the_secret_bearing_names_are_found(bearing):
    assert {"app_secrets", "backup_password", "certbot_eab_hmac_key", "__iis_secrets"} <= bearing
    # A value that reads a secret carries it too.
    assert {"__iis_secrets", "__backup_settings"} <= bearing


def test_no_task_passes_a_secret_through_environment(bearing):
    files, plays = task_files()
    leaks = []
    for path in files:
        leaks += environment_leaks(load(path) or [], bearing, str(path.relative_to(ROOT)))
    for path in plays:
        for play in load(path) or []:
            for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                leaks += environment_leaks(play.get(section), bearing, str(path.relative_to(ROOT)))
    assert not leaks, "environment: carries secrets (use a file read on the host): %s" % leaks


def test_allowed_entries_still_exist():
    for where, name in ALLOWED:
        names = [task.get("name") for task in _walk(load(ROOT / where) or [])]
        assert name in names, "ALLOWED entry %s / %s matches no task any more: remove it" % (where, name)


def test_the_hooks_of_earlier_versions_are_caught():
    """The pre-activation hooks as they were: become with the app's environment, secrets included."""
    tasks = yaml.safe_load(
        """
- name: Set the release paths
  ansible.builtin.set_fact:
    __app_env: "{{ app_env | combine(app_secrets) }}"
- name: Prepare
  block:
    - name: Run the pre-activation hooks in the new release
      ansible.builtin.command:
        cmd: "{{ item }}"
      become: true
      become_user: "{{ app_user }}"
      environment: "{{ __app_env | combine({'PATH': '/usr/bin'}) }}"
      loop: "{{ app_pre_activate_hooks }}"
    - name: A token given directly
      ansible.builtin.command:
        cmd: curl https://example.org
      environment:
        API: "{{ vault_api_token }}"
    - name: Only a path
      ansible.builtin.command:
        cmd: "true"
      environment:
        PATH: "/opt/bin:{{ ansible_env.PATH }}"
"""
    )
    defined = {"__app_env": value_reads("{{ app_env | combine(app_secrets) }}")}
    leaks = environment_leaks(tasks, secret_bearing(defined), "old/release.yml")
    assert [(name, hits) for where, name, hits in leaks if where == "old/release.yml"] == [
        ("Run the pre-activation hooks in the new release", ["__app_env"]),
        ("A token given directly", ["vault_api_token"]),
    ]


def test_no_task_takes_its_arguments_from_a_template():
    """``args: "{{ ... }}"`` makes ansible-core warn on every run ("Using a template for task args is unsafe"): a task
    lists its module's arguments, or the module takes a dict option of its own (the app role's ``layout``)."""
    files, plays = task_files()
    templated = []
    for path, is_play in [(f, False) for f in files] + [(p, True) for p in plays]:
        for task in _tasks_of(path, is_play):
            splat = [key for key, value in task.items() if key.startswith(("flaskops.deploy.", "ansible.builtin."))
                     and key not in FREE_FORM and isinstance(value, str) and value.strip().startswith("{{")]
            if isinstance(task.get("args"), str) or splat:
                templated.append((str(path.relative_to(ROOT)), task.get("name", "")))
    assert templated == []
