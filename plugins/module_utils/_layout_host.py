# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The layout of an application of the ``app`` role carried out on the host: its system group and user and its
directories (:mod:`._layout` decides what each needs). ``flaskops.deploy.app_layout`` runs it on its own,
``flaskops.deploy.release_build`` (option ``create_layout``) before it unpacks a release, in the same call."""

from __future__ import annotations

import grp
import os
import pwd
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flaskops.deploy.plugins.module_utils import _layout as layout

# The options of a layout (app_layout's, release_build's create_layout), as an argument spec.
LAYOUT_OPTIONS: dict[str, dict[str, t.Any]] = {
    "user": {"type": "str", "required": True},
    "group": {"type": "str", "required": True},
    "root": {"type": "path", "required": True},
    "config_dir": {"type": "path", "required": True},
    "shared_dirs": {"type": "list", "elements": "str", "default": []},
    "shell": {"type": "path", "default": "/usr/sbin/nologin"},
}


def _group_id(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def _user(name: str) -> dict[str, t.Any] | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return {"uid": entry.pw_uid, "gid": entry.pw_gid, "home": entry.pw_dir, "shell": entry.pw_shell}


def _run(module: AnsibleModule, argv: list[str]) -> None:
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg="%s failed: %s" % (" ".join(argv), (err or out).strip()), cmd=argv, rc=rc)


def ensure(module: AnsibleModule, user: str, group: str, root: str, config_dir: str, shared_dirs: t.Sequence[str],
           shell: str) -> list[str]:
    """Create or fix the group, the user and the directories; return what was (in check mode, would be) changed,
    one line each. A path of the layout that is not a directory fails the module."""
    changes: list[str] = []
    gid = _group_id(group)
    if gid is None:
        changes.append("group %s: create" % group)
        if not module.check_mode:
            _run(module, [module.get_bin_path("groupadd", required=True), "--system", group])
            gid = _group_id(group)
    user_changes = layout.user_changes(_user(user), gid, root, shell)
    argv: list[str] = []
    if user_changes == ["create"]:
        changes.append("user %s: create" % user)
        argv = [module.get_bin_path("useradd", required=True), "--system", "--gid", group, "--home-dir", root,
                "--no-create-home", "--shell", shell, user]
    elif user_changes:
        changes.append("user %s: %s" % (user, " ".join(user_changes)))
        values = {"-g": group, "-d": root, "-s": shell}
        argv = [module.get_bin_path("usermod", required=True)]
        for option in user_changes:
            argv += [option, values[option]]
        argv.append(user)
    if user_changes and not module.check_mode:
        _run(module, argv)
    entry = _user(user)
    for wanted in layout.directories(root, config_dir, shared_dirs, user, group):
        path = wanted["path"]
        ids = {"root": 0, user: entry["uid"] if entry else None}
        wanted_ids = dict(wanted, uid=ids.get(wanted["owner"]), gid=0 if wanted["group"] == "root" else gid)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        if st is not None and not os.path.isdir(path):
            module.fail_json(msg="%s exists and is not a directory" % path)
        current = None if st is None else {"uid": st.st_uid, "gid": st.st_gid, "mode": st.st_mode}
        found = layout.directory_changes(current, wanted_ids)
        if not found:
            continue
        changes.append("%s: %s" % (path, ", ".join(found)))
        if module.check_mode:
            continue
        if "create" in found:
            os.makedirs(path, mode=wanted["mode"], exist_ok=True)
        os.chown(path, wanted_ids["uid"], wanted_ids["gid"])
        os.chmod(path, wanted["mode"])
    return changes
