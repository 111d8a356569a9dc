# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.flaskops.deploy.plugins.module_utils import _layout as layout


def test_the_code_is_root_owned_and_only_the_shared_data_belongs_to_the_app():
    dirs = layout.directories("/srv/hello", "/etc/hello", ["instance", "logs"], "hello", "hello")
    assert [(d["path"], d["owner"], d["group"], oct(d["mode"])) for d in dirs] == [
        ("/srv/hello", "root", "root", "0o755"),
        ("/srv/hello/releases", "root", "root", "0o755"),
        ("/etc/hello", "root", "hello", "0o750"),
        ("/etc/hello/slots", "root", "hello", "0o750"),
        ("/srv/hello/shared", "root", "hello", "0o755"),
        ("/srv/hello/shared/instance", "hello", "hello", "0o750"),
        ("/srv/hello/shared/logs", "hello", "hello", "0o750"),
    ]


def test_directory_changes():
    wanted = {"uid": 0, "gid": 998, "mode": 0o750}
    assert layout.directory_changes(None, wanted) == ["create"]
    assert layout.directory_changes({"uid": 0, "gid": 998, "mode": 0o40750}, wanted) == []
    assert layout.directory_changes({"uid": 1000, "gid": 0, "mode": 0o40755}, wanted) == ["owner", "group", "mode"]


def test_user_changes():
    assert layout.user_changes(None, 998, "/srv/hello", "/usr/sbin/nologin") == ["create"]
    same = {"gid": 998, "home": "/srv/hello", "shell": "/usr/sbin/nologin"}
    assert layout.user_changes(same, 998, "/srv/hello", "/usr/sbin/nologin") == []
    assert layout.user_changes(same, 997, "/srv/other", "/bin/sh") == ["-g", "-d", "-s"]
    # The group is being created (check mode): the user's primary group would change.
    assert layout.user_changes(same, None, "/srv/hello", "/usr/sbin/nologin") == ["-g"]
