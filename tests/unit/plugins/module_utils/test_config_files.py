# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plan, the changes and the restore of flaskops.deploy.config_files, on real files in tmp_path."""

from __future__ import annotations

import os

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _config_files as cf


def entry(path, **kwargs):
    base = {"path": str(path), "state": "file", "content": None, "src": None, "regexp": None, "line": None,
            "mode": None, "uid": None, "gid": None, "hide_content": False}
    base.update(kwargs)
    return base


def snapshot(root):
    """Every path under root with what read_state says of it."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            out[path] = cf.read_state(path)
    return out


def test_parse_mode():
    assert cf.parse_mode("0644", "/x") == 0o644
    assert cf.parse_mode("750", "/x") == 0o750
    assert cf.parse_mode(0o600, "/x") == 0o600
    assert cf.parse_mode(None, "/x") is None
    with pytest.raises(cf.ConfigFilesError, match="/x: mode 'u=rw'"):
        cf.parse_mode("u=rw", "/x")


def test_edit_lines_expands_back_references_and_keeps_other_lines():
    text = "http {\n    ssl_protocols TLSv1 TLSv1.1;\n    gzip on;\n}\n"
    out = cf.edit_lines(text, r"^(\s*)ssl_protocols\s", r"\1ssl_protocols TLSv1.2;")
    assert out == "http {\n    ssl_protocols TLSv1.2;\n    gzip on;\n}\n"
    assert cf.edit_lines(text, r"^nomatch", "x") == text


def test_a_fresh_set_is_planned_in_order_then_nothing_is_left_to_do(tmp_path):
    conf = tmp_path / "etc" / "app"
    entries = [
        entry(conf, state="directory", mode=0o750),
        entry(conf / "a.conf", content=b"a\n", mode=0o640),
        entry(tmp_path / "link", state="link", src=str(conf / "a.conf")),
        entry(tmp_path / "gone", state="absent"),
    ]
    changes = cf.plan(entries)
    assert [(c["path"], c["action"]) for c in changes] == [
        (str(conf), "mkdir"), (str(conf / "a.conf"), "write"), (str(tmp_path / "link"), "link")]
    assert not conf.exists()  # planning changes nothing
    cf.apply(changes)
    assert (conf / "a.conf").read_bytes() == b"a\n"
    assert cf.read_state(str(conf / "a.conf"))["mode"] == 0o640
    assert cf.read_state(str(conf))["mode"] == 0o750
    assert os.readlink(tmp_path / "link") == str(conf / "a.conf")
    assert cf.plan(entries) == []


def test_only_what_differs_is_a_change(tmp_path):
    path = tmp_path / "a.conf"
    path.write_bytes(b"same\n")
    os.chmod(path, 0o644)
    assert cf.plan([entry(path, content=b"same\n", mode=0o644)]) == []
    [change] = cf.plan([entry(path, content=b"same\n", mode=0o600)])
    assert change["action"] == "attrs" and change["reasons"] == ["mode"]
    [change] = cf.plan([entry(path, content=b"new\n")])
    assert change["action"] == "write" and change["reasons"] == ["content"]
    cf.apply([change])
    assert path.read_bytes() == b"new\n" and cf.read_state(str(path))["mode"] == 0o644  # the mode is kept


def test_a_line_edit_of_a_missing_file_or_a_path_listed_twice_is_refused(tmp_path):
    with pytest.raises(cf.ConfigFilesError, match="does not exist"):
        cf.plan([entry(tmp_path / "nginx.conf", state="lines", regexp="^x", line="y")])
    with pytest.raises(cf.ConfigFilesError, match="listed twice"):
        cf.plan([entry(tmp_path / "a", content=b""), entry(tmp_path / "a", state="absent")])
    with pytest.raises(cf.ConfigFilesError, match="is a directory"):
        cf.plan([entry(tmp_path, state="absent")])


def test_restore_puts_every_changed_path_back_exactly(tmp_path):
    (tmp_path / "sites-available").mkdir()
    (tmp_path / "sites-enabled").mkdir()
    old = tmp_path / "sites-available" / "old.conf"
    old.write_bytes(b"old\n")
    os.chmod(old, 0o600)
    nginx_conf = tmp_path / "nginx.conf"
    nginx_conf.write_bytes(b"  ssl_protocols TLSv1;\n")
    default = tmp_path / "sites-enabled" / "default"
    os.symlink("/usr/share/default", default)
    moved = tmp_path / "sites-enabled" / "moved"
    os.symlink(str(old), moved)
    before = snapshot(tmp_path)
    entries = [
        entry(tmp_path / "new" / "deeper", state="directory"),
        entry(tmp_path / "new" / "deeper" / "x.conf", content=b"x\n"),
        entry(old, content=b"changed\n", mode=0o644),
        entry(nginx_conf, state="lines", regexp=r"^(\s*)ssl_protocols\s", line=r"\1ssl_protocols TLSv1.3;"),
        entry(default, state="absent"),
        entry(moved, state="link", src="/elsewhere"),
        entry(tmp_path / "sites-enabled" / "site", state="link", src=str(old)),
    ]
    undo = cf.apply(cf.plan(entries))
    assert snapshot(tmp_path) != before
    restored, errors = cf.restore(undo)
    assert errors == []
    assert sorted(restored) == sorted(e["path"] for e in entries)
    assert snapshot(tmp_path) == before  # contents, modes, owners, link targets; new paths gone


def test_a_failing_change_carries_the_undo_of_those_made_before_it(tmp_path):
    first = tmp_path / "first"
    entries = [entry(first, content=b"1\n"), entry(tmp_path / "no-such-dir" / "second", content=b"2\n")]
    with pytest.raises(cf.ConfigFilesError) as caught:
        cf.apply(cf.plan(entries))
    restored, errors = cf.restore(caught.value.undo)
    assert not first.exists() and str(first) in restored


def test_diff_shows_contents_unless_hidden(tmp_path):
    path = tmp_path / "a"
    path.write_bytes(b"before\n")
    [change] = cf.plan([entry(path, content=b"after\n")])
    assert (cf.diff(change)["before"], cf.diff(change)["after"]) == ("before\n", "after\n")
    [change] = cf.plan([entry(path, content=b"secret\n", hide_content=True)])
    assert "secret" not in cf.diff(change)["after"] and "before" not in cf.diff(change)["before"]
    [change] = cf.plan([entry(tmp_path / "l", state="link", src="/t")])
    assert cf.diff(change)["after"] == "link to /t\n"


@pytest.mark.parametrize("changes,command,check_mode,runs", [
    ([{"path": "/x"}], ["systemctl", "daemon-reload"], False, True),
    ([], ["systemctl", "daemon-reload"], False, False),
    ([{"path": "/x"}], None, False, False),
    ([{"path": "/x"}], ["systemctl", "daemon-reload"], True, False),
])
def test_runs_on_change(changes, command, check_mode, runs):
    assert cf.runs_on_change(changes, command, check_mode) is runs
