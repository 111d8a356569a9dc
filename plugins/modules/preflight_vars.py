#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: preflight_vars
short_description: Warn about role variables that the inventory or extra vars set but no role of the play declares
version_added: 1.0.0
description:
  - Runs on the controller only (an action plugin); changes nothing on any host.
  - Reads the names (never the values) of the variables defined for the host by the inventory (inventory files,
    C(group_vars/) and C(host_vars/) next to the inventory or the playbook) and by extra vars, and keeps those
    whose name starts with the prefix of a role of this collection (C(app_), C(python_venv_), C(gunicorn_),
    C(waitress_), C(uwsgi_), C(systemd_), C(nginx_), C(iis_), C(certbot_), C(ufw_), C(fail2ban_), C(backup_)).
  - "Such a variable is reported when its prefix belongs to a role that takes part in the play and none of the
    play's roles declares it in C(meta/argument_specs.yml) (any entry point), or when no role of the collection
    declares it at all (a typo). A role included by one of O(roles) (C(include_role) with a static name, e.g. the
    app role includes C(python_venv) and C(systemd)) takes part too, but only with the inputs the including role
    does not set itself in every include: C(systemd_units) given to C(site.yml) is reported, since the app role sets
    it. A variable of a role that takes no part in the play (C(ufw_rules) given to C(deploy.yml)) is not reported."
  - Each report is one warning line that names the variable, where it was set, the roles looked in, and the closest
    declared name when there is one (or the role that sets it itself, or the role it belongs to).
  - Also returns the argument specs of O(roles), so that the preflight validates them without looking for files.
  - "Fails when a required option without a default of a role's entry point (C(main), or the one
    C(flaskops_preflight_entry_points) names for the role) is not defined for the host at all, naming it
    (C(missing required arguments: app_name)), before any role default derived from it fails to template."
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
  - flaskops.deploy.attributes.info_module
options:
  roles:
    description:
      - Short names of the roles of this play, as in C(flaskops_preflight_roles).
    type: list
    elements: str
    required: true
  roles_path:
    description:
      - Directory of the roles. Defaults to the C(roles/) directory of this collection.
    type: path
  fail_on_unknown:
    description:
      - Fail, with the same lines in RV(msg), instead of warning.
    type: bool
    default: false
notes:
  - Variables set by the playbooks themselves (C(flaskops_*)), play vars and role defaults are not looked at.
"""

EXAMPLES = r"""
- name: Warn about role variables no role of this play declares
  flaskops.deploy.preflight_vars:
    roles: [app, gunicorn, nginx, certbot]

- name: Refuse to run with an unknown role variable
  flaskops.deploy.preflight_vars:
    roles: [backup]
    fail_on_unknown: true

- name: Look at the roles of a checkout of the collection
  flaskops.deploy.preflight_vars:
    roles: [ufw, fail2ban]
    roles_path: /srv/src/flaskops.deploy/roles
  register: preflight
"""

RETURN = r"""
unknown:
  description: The names reported (sorted).
  returned: always
  type: list
  elements: str
  sample: [app_sercrets, systemd_units]
roles:
  description: The roles looked in, from O(roles).
  returned: unless a required variable is missing
  type: list
  elements: str
  sample: [app, gunicorn]
included_roles:
  description: Roles included by O(roles) whose inputs were looked in too.
  returned: unless a required variable is missing
  type: list
  elements: str
  sample: [python_venv, systemd]
missing_required:
  description: Required variables without a default that the host does not define, each with the roles needing it.
  returned: always
  type: dict
  sample: {"app_name": ["app", "gunicorn"]}
argument_specs:
  description: The C(argument_specs) of each role of O(roles), by role, as in its C(meta/argument_specs.yml).
  returned: unless a required variable is missing
  type: dict
  sample: {"backup": {"main": {"options": {"backup_repository": {"type": "str", "required": true}}}}}
msg:
  description: A summary, or with O(fail_on_unknown) the reports.
  returned: always
  type: str
  sample: 1 variable(s) no role of this play declares
"""
