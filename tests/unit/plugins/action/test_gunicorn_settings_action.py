# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""flaskops.deploy.gunicorn_settings through ansible-playbook: what the gunicorn role gets back, the warning a user
sees, and the refusal that names the variables (the decisions themselves: module_utils/test_gunicorn.py)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[4]


def _ansible_playbook():
    script = pathlib.Path(sys.executable).parent / "ansible-playbook"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from ansible.cli.playbook import main; sys.argv[0] = 'ansible-playbook'; main()"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("collections")
    (root / "ansible_collections" / "flaskops").mkdir(parents=True)
    os.symlink(REPO, root / "ansible_collections" / "flaskops" / "deploy")
    paths = [str(root)]
    if REPO.parent.parent.name == "ansible_collections":
        paths.append(str(REPO.parent.parent.parent))

    def _run(args):
        work = tmp_path_factory.mktemp("play")
        playbook = work / "play.yml"
        playbook.write_text(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
            "    - flaskops.deploy.gunicorn_settings: " + json.dumps(args) + "\n      register: out\n"
            "    - ansible.builtin.copy: {content: '{{ out | to_json }}', dest: '" + str(work / "out.json") + "'}\n"
        )
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(paths), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default")
        argv = _ansible_playbook() + ["-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
                                      str(playbook)]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=work, check=False)
        out = work / "out.json"
        return proc, (json.loads(out.read_text()) if out.exists() else None)

    return _run


def test_async_workers_set_to_recycle_are_kept_and_warned(run):
    proc, out = run({"worker_class": "eventlet", "formula_workers": 5, "max_requests": 500})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["max_requests"] == 500 and out["changed"] is False
    assert "gunicorn_max_requests" in proc.stdout + proc.stderr  # the warning the user sees names the variable


def test_sync_workers_get_the_default_recycling_quietly(run):
    proc, out = run({"worker_class": "sync", "formula_workers": 5, "max_requests": ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["workers"] == 5 and out["max_requests"] == 1000
    assert "[WARNING]" not in proc.stdout + proc.stderr


def test_socketio_on_several_workers_fails_naming_the_variables(run):
    proc, out = run({"worker_class": "eventlet", "formula_workers": 5, "workers": 3, "socketio": True})
    assert proc.returncode != 0 and out is None
    assert "gunicorn_socketio" in proc.stdout and "gunicorn_workers" in proc.stdout
