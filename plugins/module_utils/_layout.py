# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The directory layout of an application of the ``app`` role, and what it takes to reach it, as pure functions
(``flaskops.deploy.app_layout``).

The code is root-owned (the application cannot rewrite it), the configuration and the shared directory belong to
root with the app's group, and only the shared data directories belong to the app user.
"""

from __future__ import annotations

import posixpath
import typing as t


def directories(root: str, config_dir: str, shared_dirs: t.Sequence[str], user: str, group: str) -> list[dict[str, t.Any]]:
    """Return the directories of the layout, parents first, each ``{path, owner, group, mode}``."""
    shared = posixpath.join(root, "shared")
    layout = [
        {"path": root, "owner": "root", "group": "root", "mode": 0o755},
        {"path": posixpath.join(root, "releases"), "owner": "root", "group": "root", "mode": 0o755},
        {"path": config_dir, "owner": "root", "group": group, "mode": 0o750},
        # The slots' copies of the configuration and the release state (the app role's slots directory).
        {"path": posixpath.join(config_dir, "slots"), "owner": "root", "group": group, "mode": 0o750},
        {"path": shared, "owner": "root", "group": group, "mode": 0o755},
    ]
    for name in shared_dirs:
        layout.append({"path": posixpath.join(shared, name), "owner": user, "group": group, "mode": 0o750})
    return layout


def directory_changes(current: t.Mapping[str, t.Any] | None, wanted: t.Mapping[str, t.Any]) -> list[str]:
    """Return what differs between a directory as it is (``{isdir, uid, gid, mode}``, or ``None`` when nothing is at
    its path) and as wanted (``{uid, gid, mode}``): ``create``, ``owner``, ``group``, ``mode``."""
    if current is None:
        return ["create"]
    changes = []
    if current["uid"] != wanted["uid"]:
        changes.append("owner")
    if current["gid"] != wanted["gid"]:
        changes.append("group")
    if current["mode"] & 0o7777 != wanted["mode"]:
        changes.append("mode")
    return changes


def user_changes(current: t.Mapping[str, t.Any] | None, gid: int | None, home: str, shell: str) -> list[str]:
    """Return the ``usermod`` options that bring an existing user (``{gid, home, shell}``) to the wanted primary
    group, home and shell, or ``["create"]`` when the user does not exist. ``gid`` ``None``: the group is being
    created, so the primary group changes."""
    if current is None:
        return ["create"]
    changes = []
    if gid is None or current["gid"] != gid:
        changes.append("-g")
    if current["home"] != home:
        changes.append("-d")
    if current["shell"] != shell:
        changes.append("-s")
    return changes
