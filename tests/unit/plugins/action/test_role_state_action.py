# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""flaskops.deploy.role_state through ansible-playbook: the records of several roles kept on the controller and
written in one call at the handler flush, once the handlers of every role that recorded have run."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

from ansible_collections.flaskops.deploy.tests.unit.plugins.action.playbook import REPO, _ansible_playbook

SPEC = "---\nargument_specs:\n  main:\n    short_description: A test role.\n    options:\n      {role}_value:\n        type: str\n"
RECORD = """---
- name: Write the file of {role}
  ansible.builtin.copy:
    content: "{{{{ {role}_value }}}}"
    dest: "{work}/{role}.conf"
    mode: "0600"
- name: Record what {role} left on the host
  flaskops.deploy.role_state:
    state: record
    path: "{work}/state"
    files: ["{work}/{role}.conf"]
  notify: [{role} reload, flaskops {role} state]
"""
HANDLERS = """---
- name: Reload {role}
  ansible.builtin.command: "{reload}"
  changed_when: false
  listen: {role} reload
- name: Commit the {role} stamp
  flaskops.deploy.role_state:
    state: commit
    role: {role}
  register: __{role}_commit
  listen: flaskops {role} state
"""
PLAY = """---
- hosts: localhost
  gather_facts: false
  roles: [alpha, beta]
  post_tasks:
    - ansible.builtin.meta: flush_handlers
    - ansible.builtin.copy:
        content: "{{{{ {{'alpha': __alpha_commit, 'beta': __beta_commit}} | to_json }}}}"
        dest: "{work}/out.json"
      check_mode: false
"""


def _role(tmp_path: pathlib.Path, role: str, tasks: str, handlers: str | None = None) -> None:
    """A role with one input (<role>_value: one) declared in its argument spec."""
    base = tmp_path / "roles" / role
    for sub in ("meta", "tasks", "handlers", "defaults"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "meta" / "argument_specs.yml").write_text(SPEC.format(role=role))
    (base / "defaults" / "main.yml").write_text("---\n%s_value: one\n" % role)
    (base / "tasks" / "main.yml").write_text(tasks)
    if handlers is not None:
        (base / "handlers" / "main.yml").write_text(handlers)


def _run(tmp_path: pathlib.Path, play_text: str, *extra: str):
    """ansible-playbook of play_text on localhost with the roles under tmp_path/roles; (process, out.json or None)."""
    (tmp_path / "play.yml").write_text(play_text)
    root = tmp_path / "collections"
    (root / "ansible_collections" / "flaskops").mkdir(parents=True, exist_ok=True)
    if not (root / "ansible_collections" / "flaskops" / "deploy").exists():
        os.symlink(REPO, root / "ansible_collections" / "flaskops" / "deploy")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(root), ANSIBLE_ROLES_PATH=str(tmp_path / "roles"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default")
    argv = _ansible_playbook() + ["-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
                                  str(tmp_path / "play.yml")] + list(extra)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    out = tmp_path / "out.json"
    return proc, (json.loads(out.read_text()) if out.exists() else None)


def _answers(tmp_path: pathlib.Path, play_text: str, *extra: str):
    proc, out = _run(tmp_path, play_text, *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def play(tmp_path: pathlib.Path, beta_reload: str = "true", check: bool = False):
    for role in ("alpha", "beta"):
        _role(tmp_path, role, RECORD.format(role=role, work=tmp_path),
              HANDLERS.format(role=role, reload=beta_reload if role == "beta" else "true"))
    return _run(tmp_path, PLAY.format(work=tmp_path), *(["--check"] if check else []))


def test_the_stamps_of_every_role_are_written_in_one_call_after_every_role_handlers(tmp_path):
    proc, out = play(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    state = tmp_path / "state"
    assert sorted(os.listdir(state)) == ["alpha.json", "beta.json"]
    # alpha's commit handler runs first and only marks its record done: beta's handlers have not run yet
    assert out["alpha"]["committed"] == [] and out["alpha"]["changed"] is False
    assert out["beta"]["committed"] == [str(state / "alpha.json"), str(state / "beta.json")]
    # the next run finds both roles converged, and records nothing new
    stamp = json.loads((state / "beta.json").read_text())
    assert stamp["files"] == {str(tmp_path / "beta.conf"): stamp["files"][str(tmp_path / "beta.conf")]}


def test_a_failed_handler_leaves_no_stamp_for_any_role(tmp_path):
    proc, out = play(tmp_path, beta_reload="false")
    assert proc.returncode != 0
    assert out is None
    assert not (tmp_path / "state").exists()


def test_check_mode_writes_nothing(tmp_path):
    proc, out = play(tmp_path, check=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["beta"]["changed"] is True
    assert not (tmp_path / "state").exists()


QUERY_ROLE = """---
- name: Decide whether {role} has anything to do
  flaskops.deploy.role_state:
    state: query
    path: "{work}/state"
  register: __{role}_query
- name: Keep the answer
  ansible.builtin.set_fact:
    __answers: "{{{{ __answers | default({{}}) | combine({{'{role}': __{role}_query}}) }}}}"
- name: Run the full path
  ansible.builtin.include_tasks: full.yml
  when: __{role}_query.stale
"""
# The full path: RECORD with the stamp written in place at once (no handler).
FULL = RECORD.replace("  notify: [{role} reload, flaskops {role} state]\n", "    defer: false\n")
# The play's preflight, in a role next to the others (outside a role, role_state finds roles in the collection).
PREFLIGHT = """---
- name: Find the roles whose inputs or host changed
  flaskops.deploy.role_state:
    query_roles: [alpha, beta]
    path: "{work}/state"
  register: __flaskops_preflight_states
"""
PREFLIGHT_PLAY = """---
- hosts: localhost
  gather_facts: false
  roles: [preflight, alpha, beta]
  post_tasks:
    - ansible.builtin.copy:
        content: "{{{{ __answers | to_json }}}}"
        dest: "{work}/out.json"
      check_mode: false
"""


def preflight_play(tmp_path: pathlib.Path, *extra: str):
    for role in ("alpha", "beta"):
        _role(tmp_path, role, QUERY_ROLE.format(role=role, work=tmp_path))
        (tmp_path / "roles" / role / "tasks" / "full.yml").write_text(FULL.format(role=role, work=tmp_path))
    _role(tmp_path, "preflight", PREFLIGHT.format(work=tmp_path))
    return _answers(tmp_path, PREFLIGHT_PLAY.format(work=tmp_path), *extra)


def test_the_preflight_answers_are_reused_fresh_ones_only_until_a_role_is_found_stale(tmp_path):
    first = preflight_play(tmp_path)
    assert first["alpha"]["stale"] and first["alpha"]["preflight"] and first["beta"]["stale"] and first["beta"]["preflight"]

    # Nothing changed: both roles take the preflight's fresh answer, with no call of their own.
    quiet = preflight_play(tmp_path)
    assert not quiet["alpha"]["stale"] and quiet["alpha"].get("preflight") is True
    assert not quiet["beta"]["stale"] and quiet["beta"].get("preflight") is True

    # alpha's input changed: it is stale and runs its full path, so beta asks the host itself (and is fresh there).
    changed = preflight_play(tmp_path, "-e", "alpha_value=two")
    assert changed["alpha"]["stale"] and changed["alpha"]["preflight"]
    assert not changed["beta"]["stale"] and "preflight" not in changed["beta"]


OUTER = """---
- name: Decide whether outer has anything to do
  flaskops.deploy.role_state:
    state: query
    path: "{work}/state"
    prefetch:
      - role: inner
        vars: {{inner_value: "{{{{ outer_value }}}}-x"}}
  register: __outer_query
- name: Include inner as the full path does
  ansible.builtin.include_role:
    name: inner
  vars:
    inner_value: "{{{{ inner_given }}}}"
- name: Keep the answers
  ansible.builtin.copy:
    content: "{{{{ {{'outer': __outer_query, 'inner': __inner_query}} | to_json }}}}"
    dest: "{work}/out.json"
    mode: "0600"
  check_mode: false
"""
INNER = """---
- name: Decide whether inner has anything to do
  flaskops.deploy.role_state:
    state: query
    path: "{work}/state"
  register: __inner_query
- name: Record inner
  flaskops.deploy.role_state:
    state: record
    path: "{work}/state"
    defer: false
  when: __inner_query.stale
"""


def prefetch_play(tmp_path: pathlib.Path, inner_given: str):
    for role, tasks in (("outer", OUTER), ("inner", INNER)):
        _role(tmp_path, role, tasks.format(work=tmp_path))
    return _answers(tmp_path, "---\n- hosts: localhost\n  gather_facts: false\n  roles: [outer]\n",
                    "-e", "inner_given=" + inner_given)


def test_an_including_role_asks_for_the_roles_it_includes_in_its_own_call(tmp_path):
    # The include gives inner what the prefetch computed: inner takes the prefetched answer (stale, no stamp yet).
    first = prefetch_play(tmp_path, "one-x")
    assert first["outer"]["prefetched"] == ["inner"] and first["outer"]["stale"]
    assert first["inner"]["stale"] and first["inner"]["prefetched"] is True
    # Recorded: the next run's prefetched answer is fresh, and taken.
    again = prefetch_play(tmp_path, "one-x")
    assert not again["inner"]["stale"] and again["inner"]["prefetched"] is True
    # The include gives inner another value than the prefetch computed: inner asks the host itself.
    other = prefetch_play(tmp_path, "two")
    assert other["inner"]["stale"] and "prefetched" not in other["inner"]


def test_a_role_the_preflight_found_stale_still_asks_for_the_roles_it_includes_in_one_call(tmp_path):
    for role, tasks in (("outer", OUTER), ("inner", INNER)):
        _role(tmp_path, role, tasks.format(work=tmp_path))
    _role(tmp_path, "preflight", PREFLIGHT.replace("[alpha, beta]", "[outer]").format(work=tmp_path))
    out = _answers(tmp_path, "---\n- hosts: localhost\n  gather_facts: false\n  roles: [preflight, outer]\n",
                   "-e", "inner_given=one-x")
    # outer's own answer is the preflight's (stale); inner's came in the one call outer made for it.
    assert out["outer"]["stale"] and out["outer"]["preflight"] and out["outer"]["prefetched"] == ["inner"]
    assert out["inner"]["stale"] and out["inner"]["prefetched"] is True


def _host_commands(output: str, task: str) -> list[str]:
    """The commands run on the host (-vvv prints each EXEC) by the task of that name."""
    section = output.split("TASK [%s]" % task, 1)[1].split("\nTASK [", 1)[0]
    return [line for line in section.splitlines() if " EXEC " in line]


def test_a_stamp_the_preflight_did_not_find_is_stale_without_a_call(tmp_path):
    """On a host's first run the preflight found no stamp: the roles outer includes are stale without a call. Once
    inner has a stamp, outer (stale: it records none) asks the host for inner in one call, and inner is fresh."""
    for role, tasks in (("outer", OUTER), ("inner", INNER)):
        _role(tmp_path, role, tasks.format(work=tmp_path))
    _role(tmp_path, "preflight", PREFLIGHT.replace("[alpha, beta]", "[outer]").format(work=tmp_path))
    text = "---\n- hosts: localhost\n  gather_facts: false\n  roles: [preflight, outer]\n"
    task = "outer : Decide whether outer has anything to do"
    proc, out = _run(tmp_path, text, "-e", "inner_given=one-x", "-vvv")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert out["outer"]["preflight"] and out["outer"]["prefetched"] == ["inner"]
    assert out["inner"]["stale"] and out["inner"]["prefetched"] is True
    assert out["inner"]["reasons"] == ["no stamp (first run, or the last full run did not finish)"]
    assert _host_commands(proc.stdout, task) == []
    proc, out = _run(tmp_path, text, "-e", "inner_given=one-x", "-vvv")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert out["outer"]["stale"] and not out["inner"]["stale"] and out["inner"]["prefetched"] is True
    assert _host_commands(proc.stdout, task)
