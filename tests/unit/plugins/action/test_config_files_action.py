# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""flaskops.deploy.config_files through ansible-playbook: templates rendered on the controller with the task's
variables and each entry's template_vars, files read from files/, check mode (the host side:
modules/test_config_files_module.py)."""

from __future__ import annotations

import pytest

from ansible_collections.flaskops.deploy.tests.unit.plugins.action.playbook import task_runner


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return task_runner(tmp_path_factory, "config_files", ignore_errors=True)


def prepare(work):
    (work / "templates").mkdir()
    (work / "templates" / "unit.j2").write_text("{{ ansible_managed | comment }}\nName={{ item.name }} in {{ place }}\n")
    (work / "files").mkdir()
    (work / "files" / "dh.pem").write_text("-----BEGIN DH PARAMETERS-----\n")


def entries(dest):
    return {"files": [
        {"path": str(dest), "state": "directory", "mode": "0755"},
        {"path": str(dest / "a.service"), "template": "unit.j2", "template_vars": {"item": {"name": "a"}, "place": "x"}},
        {"path": str(dest / "b.service"), "template": "unit.j2", "template_vars": {"item": {"name": "b"}, "place": "y"}},
        {"path": str(dest / "dh.pem"), "src": "dh.pem", "mode": "0644"},
    ]}


def test_templates_are_rendered_with_their_own_variables_and_files_are_copied(run, tmp_path):
    dest = tmp_path / "units"
    proc, out = run(entries(dest), prepare=prepare)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["changed"] is True and len(out["changed_paths"]) == 4
    assert (dest / "a.service").read_text().endswith("Name=a in x\n")
    assert (dest / "b.service").read_text().endswith("Name=b in y\n")
    assert (dest / "a.service").read_text().startswith("#")  # ansible_managed, like ansible.builtin.template
    assert (dest / "dh.pem").read_text() == "-----BEGIN DH PARAMETERS-----\n"
    proc, out = run(entries(dest), prepare=prepare)
    assert out["changed"] is False and out["changed_paths"] == []


def test_check_mode_changes_nothing(run, tmp_path):
    dest = tmp_path / "units"
    proc, out = run(entries(dest), check_mode=True, prepare=prepare)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["changed"] is True and out["changed_paths"][0] == str(dest)
    assert not dest.exists()


def test_an_entry_with_two_sources_is_refused(run, tmp_path):
    proc, out = run({"files": [{"path": str(tmp_path / "x"), "template": "unit.j2", "content": "x"}]}, prepare=prepare)
    assert out["failed"] is True and "exactly one of template, src and content" in out["msg"]


def test_a_src_that_is_not_text_is_sent_as_it_is(run, tmp_path):
    def binary(work):
        prepare(work)
        (work / "files" / "key.der").write_bytes(b"\x30\x82\xff\x00")
    dest = tmp_path / "key.der"
    proc, out = run({"files": [{"path": str(dest), "src": "key.der"}]}, prepare=binary)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert dest.read_bytes() == b"\x30\x82\xff\x00"
