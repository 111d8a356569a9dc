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

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flaskops.deploy.plugins.module_utils import _layout_host as layout_host


def main() -> t.NoReturn:
    module = AnsibleModule(argument_spec=layout_host.LAYOUT_OPTIONS, supports_check_mode=True)
    changes = layout_host.ensure(module, **module.params)
    module.exit_json(changed=bool(changes), changes=changes)


if __name__ == "__main__":
    main()
