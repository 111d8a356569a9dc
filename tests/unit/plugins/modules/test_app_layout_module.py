# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of flaskops.deploy.app_layout in tmp_path, with a stand-in account database: the app user and group "hello"
have uid and gid 0 once created (so that the owners can be set), and groupadd, useradd and usermod are recorded, not
run. No account of the machine is read for the app or changed."""

from __future__ import annotations

import os

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _layout_host as layout_host
from ansible_collections.flaskops.deploy.plugins.modules import app_layout
from ansible_collections.flaskops.deploy.tests.unit.plugins.modules.utils import run_module

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sets owners: needs root")


@pytest.fixture
def accounts(monkeypatch):
    db = {"users": {}, "groups": {}, "ran": []}

    def run(module, argv):
        db["ran"].append([os.path.basename(argv[0])] + argv[1:])
        name = os.path.basename(argv[0])
        if name == "groupadd":
            db["groups"][argv[-1]] = 0
        elif name == "useradd":
            db["users"][argv[-1]] = {"uid": 0, "gid": 0, "home": argv[argv.index("--home-dir") + 1],
                                     "shell": argv[argv.index("--shell") + 1]}
        elif name == "usermod":
            user = db["users"][argv[-1]]
            options = dict(zip(argv[1:-1:2], argv[2:-1:2]))
            user.update({k: v for k, v in (("home", options.get("-d")), ("shell", options.get("-s"))) if v})

    monkeypatch.setattr(layout_host, "_run", run)
    monkeypatch.setattr(layout_host, "_group_id", db["groups"].get)
    monkeypatch.setattr(layout_host, "_user", db["users"].get)
    monkeypatch.setattr(layout_host.AnsibleModule, "get_bin_path", lambda self, name, required=False: "/usr/sbin/" + name)
    return db


def _args(tmp_path):
    return {"user": "hello", "group": "hello", "root": str(tmp_path / "srv/hello"),
            "config_dir": str(tmp_path / "etc/hello"), "shared_dirs": ["instance"]}


def test_check_mode_reports_everything_and_changes_nothing(tmp_path, accounts):
    result = run_module(app_layout.main, _args(tmp_path), check_mode=True)
    assert result["changes"][:2] == ["group hello: create", "user hello: create"]
    assert len(result["changes"]) == 2 + 6
    assert accounts["ran"] == [] and not os.path.exists(str(tmp_path / "srv"))


def test_creates_the_account_and_the_directories_once(tmp_path, accounts):
    args = _args(tmp_path)
    first = run_module(app_layout.main, args)
    assert first["changed"]
    assert accounts["ran"][0] == ["groupadd", "--system", "hello"]
    assert accounts["ran"][1][:2] == ["useradd", "--system"] and "--no-create-home" in accounts["ran"][1]
    assert oct(os.stat(str(tmp_path / "etc/hello")).st_mode & 0o777) == "0o750"
    assert oct(os.stat(str(tmp_path / "srv/hello/shared/instance")).st_mode & 0o777) == "0o750"
    assert oct(os.stat(str(tmp_path / "srv/hello/releases")).st_mode & 0o777) == "0o755"
    again = run_module(app_layout.main, args)
    assert not again["changed"], again["changes"]
    assert len(accounts["ran"]) == 2


def test_fixes_a_mode_and_an_account_that_drifted(tmp_path, accounts):
    args = _args(tmp_path)
    run_module(app_layout.main, args)
    os.chmod(str(tmp_path / "etc/hello"), 0o777)
    accounts["users"]["hello"]["shell"] = "/bin/bash"
    result = run_module(app_layout.main, args)
    assert result["changes"] == ["user hello: -s", "%s: mode" % (tmp_path / "etc/hello")]
    assert accounts["ran"][-1] == ["usermod", "-s", "/usr/sbin/nologin", "hello"]
    assert oct(os.stat(str(tmp_path / "etc/hello")).st_mode & 0o777) == "0o750"
