#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: preflight_secrets
short_description: Refuse weak application secrets on the controller, before anything changes on a host
version_added: 1.0.0
description:
  - Runs on the controller only (an action plugin); changes nothing on any host. The app role's
    C(tasks/validate.yml) runs the same check in the playbooks' preflight (M(flaskops.deploy.app_inputs)), so a weak
    secret stops a run before its first change.
  - "Checks every key of O(secrets) whose name looks like a secret: upper-cased, the name contains C(SECRET), or its
    last word (after the last underscore, or the whole name) is C(KEY), C(TOKEN), C(PASSWORD), C(PASSWD) or
    C(PASSPHRASE). C(FLASK_SECRET_KEY), C(API_TOKEN) and C(MAIL_PASSWORD) are checked; C(DATABASE_URL) and
    C(MAIL_USERNAME) are not."
  - "A checked value is weak when it is a well-known placeholder (the list of
    M(flaskops.deploy.flask_config_validate): C(changeme), C(dev), C(secret), C(your-secret-key), or a value that
    contains C(change-me), C(insecure), C(placeholder) and the like), when it is shorter than 32 bytes (16 for a
    password: passwords are often issued by another service), when its Shannon entropy is under 3.0 bits per
    character (the threshold of the configuration check), or when it is one short unit repeated."
  - Fails with one message per weak secret naming the inventory variable (C(app_secrets.FLASK_SECRET_KEY)) and why.
    Values are never returned or printed.
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
  - flaskops.deploy.attributes.info_module
options:
  secrets:
    description:
      - The secrets, name to value (the app role's C(app_secrets)).
    type: dict
    required: true
  allow_weak:
    description:
      - Names of O(secrets) not checked, for a value that cannot change (a password issued by another service).
    type: list
    elements: str
    default: []
  variable:
    description:
      - The inventory variable O(secrets) comes from, for the messages.
    type: str
    default: app_secrets
  allow_weak_variable:
    description:
      - The inventory variable O(allow_weak) comes from, for the messages.
    type: str
    default: app_secrets_allow_weak
notes:
  - O(secrets) is a C(no_log) option. The measures are the same as those of the configuration check's
    C(secret-key-*) rules, so a C(SECRET_KEY) that passes here is not refused later for its strength.
"""

EXAMPLES = r"""
- name: Refuse weak secrets
  flaskops.deploy.preflight_secrets:
    secrets: "{{ app_secrets }}"

- name: Keep a short password issued by the mail provider
  flaskops.deploy.preflight_secrets:
    secrets: "{{ app_secrets }}"
    allow_weak: [MAIL_PASSWORD]

- name: Refuse weak secrets of another variable, with its own opt-out list
  flaskops.deploy.preflight_secrets:
    secrets: "{{ worker_secrets }}"
    variable: worker_secrets
    allow_weak: "{{ worker_secrets_allow_weak }}"
    allow_weak_variable: worker_secrets_allow_weak
"""

RETURN = r"""
checked:
  description: The names checked (sorted).
  returned: always
  type: list
  elements: str
  sample: [FLASK_SECRET_KEY, MAIL_PASSWORD]
allowed:
  description: The names that look like secrets but are listed in O(allow_weak), not checked.
  returned: always
  type: list
  elements: str
  sample: []
problems:
  description: One message per weak secret (empty when none is weak).
  returned: always
  type: list
  elements: str
  sample: ["app_secrets.FLASK_SECRET_KEY is a well-known placeholder. Set a random value ..."]
msg:
  description: The problems joined, or a summary.
  returned: always
  type: str
"""
