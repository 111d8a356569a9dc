# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one task of an action plugin of this collection through ansible-playbook on localhost, and read back what it
registered: the tests of the action plugins see what a playbook sees (warnings, failures, check mode)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import typing as t

REPO = pathlib.Path(__file__).resolve().parents[4]


def _ansible_playbook() -> list[str]:
    script = pathlib.Path(sys.executable).parent / "ansible-playbook"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from ansible.cli.playbook import main; sys.argv[0] = 'ansible-playbook'; main()"]


def task_runner(tmp_path_factory: t.Any, action: str, ignore_errors: bool = False) -> t.Callable[..., t.Any]:
    """Return ``run(args, check_mode=False, prepare=None, play_vars=None, keywords=None, env=None) -> (completed process,
    registered result)``.

    ``prepare(work)`` may write files into the play's directory first; ``play_vars`` are the play's variables;
    ``keywords`` are more keywords of the task (``environment``: the module's environment on the host) and ``env``
    the environment of ansible-playbook on the controller. With ``ignore_errors`` the play goes on after a failed
    task, so its result is read back too."""
    root = tmp_path_factory.mktemp("collections")
    (root / "ansible_collections" / "flaskops").mkdir(parents=True)
    os.symlink(REPO, root / "ansible_collections" / "flaskops" / "deploy")
    paths = [str(root)]
    if REPO.parent.parent.name == "ansible_collections":
        paths.append(str(REPO.parent.parent.parent))

    def run(args: dict[str, t.Any], check_mode: bool = False, prepare: t.Callable[[pathlib.Path], None] | None = None,
            play_vars: dict[str, t.Any] | None = None, keywords: dict[str, t.Any] | None = None,
            env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, t.Any]:
        work = tmp_path_factory.mktemp("play")
        if prepare:
            prepare(work)
        playbook = work / "play.yml"
        lines = [
            "- hosts: localhost\n  gather_facts: false\n",
            "  vars: " + json.dumps(play_vars) + "\n" if play_vars else "",
            "  tasks:\n",
            "    - flaskops.deploy." + action + ": " + json.dumps(args) + "\n      register: out\n",
            "      ignore_errors: true\n" if ignore_errors else "",
            "".join("      %s: %s\n" % (key, json.dumps(value)) for key, value in (keywords or {}).items()),
            "    - ansible.builtin.copy: {content: '{{ out | to_json }}', dest: '" + str(work / "out.json") + "'}\n",
            "      check_mode: false\n",
        ]
        playbook.write_text("".join(lines))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(paths), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default", **(env or {}))
        argv = _ansible_playbook() + ["-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
                                      str(playbook)] + (["--check"] if check_mode else [])
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=work, check=False)
        out = work / "out.json"
        return proc, (json.loads(out.read_text()) if out.exists() else None)

    return run
