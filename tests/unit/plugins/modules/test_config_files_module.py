# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of flaskops.deploy.config_files in tmp_path, with a real validator: a Python script that records the files it
saw and rejects a configuration that holds the word "bad"."""

from __future__ import annotations

import json
import os
import sys

import pytest

from ansible_collections.flaskops.deploy.plugins.modules import config_files
from ansible_collections.flaskops.deploy.tests.unit.plugins.modules.utils import run_module, run_module_failing

CHECKER = """
import json, os, sys
root, seen = sys.argv[1], {}
for dirpath, dirnames, filenames in os.walk(root):
    for name in filenames:
        path = os.path.join(dirpath, name)
        if os.path.isfile(path):
            with open(path) as handle:
                seen[os.path.relpath(path, root)] = handle.read()
with open(sys.argv[2], "a") as handle:
    handle.write(json.dumps(seen) + "\\n")
bad = [name for name, text in seen.items() if "bad" in text]
if bad:
    sys.stderr.write("unknown directive in %s\\n" % bad[0])
    sys.exit(1)
"""


class Host:
    def __init__(self, root):
        self.root = root
        self.etc = root / "etc"
        self.etc.mkdir()
        self.calls = root / "calls"
        self.checker = root / "checker.py"
        self.checker.write_text(CHECKER)
        (self.etc / "main.conf").write_text("keep\n    ssl_protocols TLSv1 TLSv1.1;\n")
        (self.etc / "enabled").mkdir()
        os.symlink("/usr/share/default", self.etc / "enabled" / "default")

    def args(self, site="good\n", **extra):
        args = {
            "files": [
                {"path": str(self.etc / "app"), "state": "directory", "mode": "0755"},
                {"path": str(self.etc / "app" / "site.conf"), "content": site, "mode": "0644"},
                {"path": str(self.etc / "enabled" / "site.conf"), "state": "link", "src": str(self.etc / "app" / "site.conf")},
                {"path": str(self.etc / "enabled" / "default"), "state": "absent"},
                {"path": str(self.etc / "main.conf"), "state": "lines", "regexp": r"^(\s*)ssl_protocols\s",
                 "line": r"\1ssl_protocols TLSv1.3;"},
            ],
            "validate": [sys.executable, str(self.checker), str(self.etc), str(self.calls)],
        }
        args.update(extra)
        return args

    def validations(self):
        if not self.calls.exists():
            return []
        return [json.loads(line) for line in self.calls.read_text().splitlines()]

    def tree(self):
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.etc):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                info = os.lstat(path)
                out[os.path.relpath(path, self.etc)] = (
                    info.st_mode, os.readlink(path) if os.path.islink(path) else
                    (open(path).read() if os.path.isfile(path) else None))
        return out


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


def test_a_first_run_writes_everything_validates_once_with_the_files_in_place(host):
    result = run_module(config_files.main, host.args())
    assert result["changed"] is True and result["validate_rc"] == 0
    assert result["changed_paths"] == [str(host.etc / p) for p in
                                       ("app", "app/site.conf", "enabled/site.conf", "enabled/default", "main.conf")]
    [seen] = host.validations()
    assert seen["app/site.conf"] == "good\n" and "ssl_protocols TLSv1.3;" in seen["main.conf"]
    assert os.readlink(host.etc / "enabled" / "site.conf") == str(host.etc / "app" / "site.conf")
    assert not os.path.lexists(host.etc / "enabled" / "default")
    assert (host.etc / "main.conf").read_text() == "keep\n    ssl_protocols TLSv1.3;\n"


def test_a_second_run_changes_nothing_and_does_not_validate(host):
    run_module(config_files.main, host.args())
    result = run_module(config_files.main, host.args())
    assert result["changed"] is False and result["changed_paths"] == []
    assert "validate_rc" not in result and len(host.validations()) == 1


def test_a_rejected_configuration_puts_every_changed_path_back(host):
    run_module(config_files.main, host.args())
    (host.etc / "enabled" / "other").symlink_to("/nowhere")
    good = host.tree()
    args = host.args(site="bad\n")
    args["files"][2]["src"] = "/elsewhere"  # the link moves too
    args["files"].append({"path": str(host.etc / "enabled" / "other"), "state": "absent"})
    args["files"].append({"path": str(host.etc / "app" / "new.conf"), "content": "new\n"})
    result = run_module_failing(config_files.main, args)
    assert result["msg"].startswith(os.path.basename(sys.executable) + " rejected the new configuration")
    assert "unknown directive in app/site.conf" in result["msg"] and "restored files pass the check" in result["msg"]
    assert sorted(result["restored_paths"]) == sorted(
        str(host.etc / p) for p in ("app/site.conf", "enabled/site.conf", "enabled/other", "app/new.conf"))
    assert result["changed"] is False
    assert host.validations()[-2]["app/site.conf"] == "bad\n"  # the check saw the new file in place
    assert host.tree() == good  # contents, modes, link targets; the removed link is back, the new file gone


def test_a_first_run_that_is_rejected_leaves_nothing_behind(host):
    before = host.tree()
    result = run_module_failing(config_files.main, host.args(site="bad\n", validator_name="nginx"))
    assert result["msg"].startswith("nginx rejected the new configuration")
    assert host.tree() == before
    assert not (host.etc / "app").exists()


def test_check_mode_reports_the_changes_and_diffs_and_changes_nothing(host):
    before = host.tree()
    args = dict(host.args(), _ansible_diff=True)
    result = run_module(config_files.main, args, check_mode=True)
    assert result["changed"] is True and len(result["changed_paths"]) == 5
    assert host.tree() == before and host.validations() == []
    diffs = {d["before_header"]: d for d in result["diff"]}
    assert diffs[str(host.etc / "main.conf")]["after"] == "keep\n    ssl_protocols TLSv1.3;\n"
    assert diffs[str(host.etc / "app" / "site.conf")]["after"] == "good\n"


def test_check_mode_after_a_run_reports_only_the_path_that_would_change(host):
    run_module(config_files.main, host.args())
    args = host.args()
    args["files"][1]["mode"] = "0600"
    result = run_module(config_files.main, args, check_mode=True)
    assert result["changed_paths"] == [str(host.etc / "app" / "site.conf")]
    assert result["changes"] == {str(host.etc / "app" / "site.conf"): ["mode"]}
    assert os.stat(host.etc / "app" / "site.conf").st_mode & 0o777 == 0o644


def test_hidden_content_stays_out_of_the_diff(host):
    args = {"files": [{"path": str(host.etc / "secret.env"), "content": "TOKEN=s3cr3t\n", "hide_content": True}],
            "_ansible_diff": True}
    result = run_module(config_files.main, args)
    assert "s3cr3t" not in json.dumps(result["diff"])
    assert (host.etc / "secret.env").read_text() == "TOKEN=s3cr3t\n"


def test_bad_entries_are_refused_naming_the_path(host):
    result = run_module_failing(config_files.main, {"files": [{"path": str(host.etc / "l"), "state": "link"}]})
    assert str(host.etc / "l") in result["msg"] and "src" in result["msg"]
    result = run_module_failing(config_files.main, {"files": [{"path": str(host.etc / "f"), "content": "",
                                                               "owner": "no-such-user-here"}]})
    assert "no user 'no-such-user-here'" in result["msg"]


def test_the_command_after_a_change_runs_once_after_a_change_only(host):
    marker = host.root / "reloaded"
    command = [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write('x')", str(marker)]
    result = run_module(config_files.main, host.args(on_change=command))
    assert result["changed"] is True and result["on_change_rc"] == 0 and marker.read_text() == "x"
    result = run_module(config_files.main, host.args(on_change=command))
    assert "on_change_rc" not in result and marker.read_text() == "x"
    result = run_module(config_files.main, host.args(site="other\n", on_change=command), check_mode=True)
    assert result["changed"] is True and "on_change_rc" not in result and marker.read_text() == "x"


def test_a_failing_command_after_a_change_fails_the_task_and_keeps_the_paths(host):
    result = run_module_failing(config_files.main, host.args(on_change=[sys.executable, "-c", "import sys; sys.exit('no bus')"]))
    assert "no bus" in result["msg"] and result["on_change_rc"] == 1
    assert (host.etc / "app" / "site.conf").read_text() == "good\n"


def test_base_defaults_and_parents_write_relative_paths_and_their_directories(host):
    base = host.etc / "shared"
    args = {"files": [{"path": "conf/deep/app.ini", "content": "a\n"}, {"path": "key.bin", "content_base64": "AP8K"},
                      {"path": "secret.py", "content": "KEY = 1\n", "secret": True}],
            "base": str(base), "defaults": {"mode": "0640"}, "parents": {"mode": "0750"}}
    result = run_module(config_files.main, dict(args, _ansible_diff=True))
    assert result["changed_paths"] == [str(base / p) for p in ("conf", "conf/deep", "conf/deep/app.ini", "key.bin",
                                                               "secret.py")]
    assert (base / "conf" / "deep" / "app.ini").read_text() == "a\n"
    assert (base / "key.bin").read_bytes() == b"\x00\xff\n"  # not text: sent in base64
    assert oct(os.stat(base / "conf").st_mode & 0o7777) == "0o750"
    assert oct(os.stat(base / "key.bin").st_mode & 0o7777) == "0o640"
    assert "KEY = 1" not in json.dumps(result["diff"])  # secret: the alias of hide_content
    assert run_module(config_files.main, args)["changed"] is False


def test_a_relative_path_without_base_or_content_base64_that_is_not_base64_is_refused(host):
    result = run_module_failing(config_files.main, {"files": [{"path": str(host.etc / "x"), "content_base64": "%%"}]})
    assert "content_base64 is not base64" in result["msg"]
    result = run_module_failing(config_files.main, {"files": [{"path": "../x", "content": "x"}], "base": str(host.etc)})
    assert "without '..'" in result["msg"]
