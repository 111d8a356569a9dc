#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: preflight_source
short_description: Check on the controller that an application's source has its requirements file and WSGI module
version_added: 1.0.0
description:
  - Runs on the controller only (an action plugin); changes nothing on any host. The app role's
    C(tasks/validate.yml) runs the same check in the playbooks' preflight (M(flaskops.deploy.app_inputs)) for
    I(app_source_type=path) and I(app_source_type=archive), before anything changes on a host.
  - Checks that the requirements file O(requirements_file) exists in the source when it is not empty. When it does
    not but the source has a C(pyproject.toml) or a C(setup.py), the message says so and suggests
    C(app_requirements_file) empty with C(app_install_project=true).
  - Checks that the module of O(wsgi) (C(module:callable), the module possibly dotted, the callable possibly a
    factory call such as C(create_app())) is C(module.py) or C(module/__init__.py) at the root of the source. With
    O(install_project=true) the module may come from the installed project, so only the form of O(wsgi) is checked.
  - An archive (tar in any compression, or zip) is not unpacked; its member list is read. When every member is
    under one directory, the message says the archive should hold that directory's content.
  - Fails with a message that names the inventory variable to change (C(app_requirements_file), C(app_wsgi),
    C(app_source_path) or C(app_source_archive)).
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
  - flaskops.deploy.attributes.info_module
options:
  source_type:
    description:
      - C(path) for a directory, C(archive) for a tar or zip file (the app role's C(app_source_type)).
    type: str
    required: true
    choices: [path, archive]
  source:
    description:
      - The directory or the archive on the controller. A relative archive is also looked for where
        C(ansible.builtin.unarchive) looks (the role's C(files/), next to the playbook).
    type: str
    required: true
  requirements_file:
    description:
      - Requirements file relative to the source; empty for none.
    type: str
    default: ""
  wsgi:
    description:
      - WSGI entry point, C(module:callable).
    type: str
    required: true
  install_project:
    description:
      - The project itself is installed into the release's venv (C(app_install_project)).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Check a source directory
  flaskops.deploy.preflight_source:
    source_type: path
    source: examples/hello_app
    requirements_file: requirements.txt
    wsgi: "wsgi:app"

- name: Check an archive with an application factory in a package
  flaskops.deploy.preflight_source:
    source_type: archive
    source: dist/shop-1.4.0.tar.gz
    requirements_file: requirements.lock
    wsgi: "shop.web:create_app()"

- name: Check a project installed by pip, without a requirements file
  flaskops.deploy.preflight_source:
    source_type: path
    source: /srv/src/shop
    requirements_file: ""
    wsgi: "shop:create_app()"
    install_project: true
"""

RETURN = r"""
source:
  description: The source checked, as given.
  returned: always
  type: str
  sample: examples/hello_app
problems:
  description: One message per problem found (empty when the source is fine).
  returned: always
  type: list
  elements: str
  sample: ["app_wsgi is 'web:app' but examples/hello_app (app_source_path) has neither web.py nor web/__init__.py."]
msg:
  description: The problems joined, or a summary.
  returned: always
  type: str
"""
