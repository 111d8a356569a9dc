# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""app_shared_files as the app role passes them to flaskops.deploy.config_files (tasks/converge.yml: base, defaults and
parents): the entries the module plans from them."""

from __future__ import annotations

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _config_files as cf
from ansible_collections.flaskops.deploy.tests.unit.roles.app.test_slot_units import expr, templar

BASE = "/srv/hello/shared"
DEFAULTS = {"owner": "hello", "group": "hello", "mode": "0640"}
FILES = [
    {"path": "instance/config.py", "content": "SECRET_KEY = 'x'\n", "secret": True},
    {"path": "conf/app.ini", "template": "app.ini.j2", "owner": "root", "mode": "0644"},
    {"path": "conf/deep/data.txt", "src": "data.txt", "group": "www-data", "mode": 0o600},
]


def parents(exclude):
    return {"owner": "root", "group": "hello", "mode": "0750", "exclude": exclude}


def test_directories_not_in_app_shared_dirs_come_first_then_the_files_with_their_defaults():
    entries = cf.expand(FILES, BASE, DEFAULTS, parents(["instance", "logs"]))
    assert entries == [
        {"path": BASE + "/conf", "state": "directory", "owner": "root", "group": "hello", "mode": "0750"},
        {"path": BASE + "/conf/deep", "state": "directory", "owner": "root", "group": "hello", "mode": "0750"},
        {"path": BASE + "/instance/config.py", "content": "SECRET_KEY = 'x'\n", "secret": True, "owner": "hello",
         "group": "hello", "mode": "0640"},
        {"path": BASE + "/conf/app.ini", "template": "app.ini.j2", "owner": "root", "group": "hello", "mode": "0644"},
        {"path": BASE + "/conf/deep/data.txt", "src": "data.txt", "owner": "hello", "group": "www-data", "mode": 0o600},
    ]
    assert FILES[0] == {"path": "instance/config.py", "content": "SECRET_KEY = 'x'\n", "secret": True}  # unchanged


def test_the_parents_of_a_nested_directory_are_created_unless_app_shared_dirs_or_above_them():
    files = [{"path": "instance/sub/config.py", "content": "x"}, {"path": "a/b/c.txt", "content": "y"},
             {"path": "data/uploads/keep.txt", "content": "z"}]
    directories = [entry["path"] for entry in cf.expand(files, BASE, DEFAULTS, parents(["instance", "data/uploads"]))
                   if entry.get("state") == "directory"]
    # data/ is above app_shared_dirs' data/uploads: the layout's, not this call's.
    assert directories == [BASE + "/instance/sub", BASE + "/a", BASE + "/a/b"]


@pytest.mark.parametrize("path", ["/etc/passwd", "../x", "a/../../x", ""])
def test_a_path_outside_the_base_is_refused(path):
    with pytest.raises(cf.ConfigFilesError, match="relative to %s" % BASE):
        cf.expand([{"path": path, "content": "x"}], BASE, DEFAULTS, parents([]))


def test_without_base_the_entries_keep_their_paths_and_only_get_the_defaults():
    entries = cf.expand([{"path": "/etc/x", "content": "x", "mode": None}], defaults={"mode": "0600", "owner": None})
    assert entries == [{"path": "/etc/x", "content": "x", "mode": "0600"}]


def test_a_secret_item_leaves_the_call_unlogged():
    t = templar({"app_shared_files": FILES[1:]})
    assert expr(t, "__app_shared_files_secret") is False
    assert expr(templar({"app_shared_files": [dict(FILES[1], secret="yes")]}), "__app_shared_files_secret") is True
