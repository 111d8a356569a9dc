# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""app_shared_files become the entries of one flaskops.deploy.config_files call (tasks/layout.yml)."""

from __future__ import annotations

from ansible_collections.flaskops.deploy.tests.unit.roles.app.test_slot_units import expr, templar

FILES = [
    {"path": "instance/config.py", "content": "SECRET_KEY = 'x'\n", "secret": True},
    {"path": "conf/app.ini", "template": "app.ini.j2", "owner": "root", "mode": "0644"},
    {"path": "conf/deep/data.txt", "src": "data.txt", "group": "www-data", "mode": 0o600},
]


def test_directories_not_in_app_shared_dirs_come_first_then_the_files_with_their_defaults():
    t = templar({"app_shared_files": FILES, "app_shared_dirs": ["instance", "logs"]})
    root = expr(t, "app_root") + "/shared/"
    entries = expr(t, "__app_shared_file_entries")
    assert entries == [
        {"path": root + "conf", "state": "directory", "owner": "root", "group": "hello", "mode": "0750"},
        {"path": root + "conf/deep", "state": "directory", "owner": "root", "group": "hello", "mode": "0750"},
        {"path": root + "instance/config.py", "content": "SECRET_KEY = 'x'\n", "owner": "hello", "group": "hello",
         "mode": "0640", "hide_content": True},
        {"path": root + "conf/app.ini", "template": "app.ini.j2", "owner": "root", "group": "hello", "mode": "0644",
         "hide_content": False},
        {"path": root + "conf/deep/data.txt", "src": "data.txt", "owner": "hello", "group": "www-data", "mode": 0o600,
         "hide_content": False},
    ]
    assert expr(t, "__app_shared_files_secret") is True


def test_the_parents_of_a_nested_directory_are_created_like_it_unless_they_are_app_shared_dirs():
    files = [{"path": "instance/sub/config.py", "content": "x"}, {"path": "a/b/c.txt", "content": "y"}]
    t = templar({"app_shared_files": files, "app_shared_dirs": ["instance"]})
    root = expr(t, "app_root") + "/shared/"
    directories = [entry for entry in expr(t, "__app_shared_file_entries") if entry.get("state") == "directory"]
    assert [entry["path"] for entry in directories] == [root + "instance/sub", root + "a", root + "a/b"]
    assert {(entry["owner"], entry["group"], entry["mode"]) for entry in directories} == {("root", "hello", "0750")}


def test_no_secret_item_leaves_the_call_logged():
    t = templar({"app_shared_files": FILES[1:]})
    assert expr(t, "__app_shared_files_secret") is False
    assert expr(templar({"app_shared_files": [dict(FILES[1], secret="yes")]}), "__app_shared_files_secret") is True
    assert expr(templar(), "__app_shared_file_entries") == []
