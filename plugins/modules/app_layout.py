#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: app_layout
short_description: Create an application's system user and group and its directory layout
version_added: 1.0.0
description:
  - The layout of the C(flaskops.deploy.app) role on a host, in one step.
  - The system group O(group) and the system user O(user) (primary group O(group), home O(root), not created, shell
    O(shell)); an existing user gets that primary group, home and shell.
  - "The directories, created when missing, with their owner, group and mode set: O(root) and C(<root>/releases)
    (C(0755) root:root: the application cannot rewrite its code), O(config_dir) and C(<config_dir>/slots) (the
    slots' copies of the configuration and the release state; C(0750) root:O(group)),
    C(<root>/shared) (C(0755) root:O(group)) and each of O(shared_dirs) under it (C(0750) O(user):O(group))."
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is created or changed; C(changed) and RV(changes) say what a real run would do.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  user:
    description: The application's system user.
    type: str
    required: true
  group:
    description: The application's system group.
    type: str
    required: true
  root:
    description: The application's root directory (releases, shared files), also the user's home.
    type: path
    required: true
  config_dir:
    description: The application's configuration directory.
    type: path
    required: true
  shared_dirs:
    description: Directories under C(<root>/shared) that the application writes (data, uploads, logs).
    type: list
    elements: str
    default: []
  shell:
    description: The user's shell.
    type: path
    default: /usr/sbin/nologin
seealso:
  - module: ansible.builtin.user
  - module: ansible.builtin.group
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Create the user, the group and the directories of the application hello
  flaskops.deploy.app_layout:
    user: hello
    group: hello
    root: /srv/hello
    config_dir: /etc/hello
    shared_dirs: [instance, uploads, logs]
"""

RETURN = r"""
changes:
  description: What was (in check mode, would be) changed, one line each.
  returned: always
  type: list
  elements: str
  sample: ["group hello: create", "user hello: create", "/srv/hello: create"]
"""

import grp
import os
import pwd
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flaskops.deploy.plugins.module_utils import _layout as layout


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


def main() -> t.NoReturn:
    module = AnsibleModule(
        argument_spec=dict(
            user=dict(type="str", required=True),
            group=dict(type="str", required=True),
            root=dict(type="path", required=True),
            config_dir=dict(type="path", required=True),
            shared_dirs=dict(type="list", elements="str", default=[]),
            shell=dict(type="path", default="/usr/sbin/nologin"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    changes: list[str] = []
    gid = _group_id(p["group"])
    if gid is None:
        changes.append("group %s: create" % p["group"])
        if not module.check_mode:
            _run(module, [module.get_bin_path("groupadd", required=True), "--system", p["group"]])
            gid = _group_id(p["group"])
    user_changes = layout.user_changes(_user(p["user"]), gid, p["root"], p["shell"])
    if user_changes == ["create"]:
        changes.append("user %s: create" % p["user"])
        argv = [module.get_bin_path("useradd", required=True), "--system", "--gid", p["group"], "--home-dir",
                p["root"], "--no-create-home", "--shell", p["shell"], p["user"]]
    elif user_changes:
        changes.append("user %s: %s" % (p["user"], " ".join(user_changes)))
        values = {"-g": p["group"], "-d": p["root"], "-s": p["shell"]}
        argv = [module.get_bin_path("usermod", required=True)]
        for option in user_changes:
            argv += [option, values[option]]
        argv.append(p["user"])
    if user_changes and not module.check_mode:
        _run(module, argv)
    user = _user(p["user"])
    for wanted in layout.directories(p["root"], p["config_dir"], p["shared_dirs"], p["user"], p["group"]):
        path = wanted["path"]
        ids = {"root": 0, p["user"]: user["uid"] if user else None}
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
    module.exit_json(changed=bool(changes), changes=changes)


if __name__ == "__main__":
    main()
