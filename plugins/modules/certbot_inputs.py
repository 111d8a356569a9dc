#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: certbot_inputs
short_description: Check the certbot role's inputs on the controller, before anything changes on a host
version_added: 1.0.0
description:
  - Runs on the controller only (an action plugin); changes nothing on any host. It is the certbot role's
    C(tasks/validate.yml), run in the playbooks' preflight and by the role when no preflight ran it.
  - "Checks, each option named as the certbot role's variable it takes, nothing when O(certbot_tls_mode=none): the
    domains are a non-empty list of distinct, lower-case, fully qualified names (a wildcard first label allowed); the
    certificate name is a file name."
  - "With O(certbot_tls_mode=letsencrypt): no wildcard domain (HTTP-01 cannot validate them); the ACME server is an
    C(https://) directory URL; an e-mail address, or O(certbot_register_unsafely_without_email=true); O(certbot_eab_kid)
    and O(certbot_eab_hmac_key) together; O(certbot_acme_ca_bundle) empty or PEM certificates."
  - "With O(certbot_tls_mode=provided): both files are found on the controller where M(ansible.builtin.copy) finds its
    C(src) (the role's or the play's C(files/), or an absolute path), the certificate (the leaf first) and the key
    (PEM, no passphrase) parse with the C(cryptography) library, the key is the certificate's, the certificate has not
    expired and its DNS names cover every domain (a name itself, or a wildcard one level above it)."
  - Fails with every problem found, one message each (RV(problems)), joined in RV(msg); each names the inventory
    variable to change. No key, HMAC or file content goes into the result.
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
  - flaskops.deploy.attributes.info_module
options:
  certbot_tls_mode:
    description: V(letsencrypt), V(selfsigned), V(provided) or V(none).
    type: str
    required: true
    choices: [letsencrypt, selfsigned, provided, none]
  certbot_domains:
    description: The certificate's domains.
    type: raw
    default: []
  certbot_cert_name:
    description: The certificate's name, a file name.
    type: str
    default: ""
  certbot_acme_server:
    description: The ACME directory URL.
    type: str
    default: https://acme-v02.api.letsencrypt.org/directory
  certbot_acme_ca_bundle:
    description: PEM certificates that sign the ACME server's, or empty.
    type: str
    default: ""
  certbot_email:
    description: The account's e-mail address.
    type: str
    default: ""
  certbot_register_unsafely_without_email:
    description: Register without an e-mail address.
    type: bool
    default: false
  certbot_eab_kid:
    description: The external account binding's key id.
    type: str
    default: ""
  certbot_eab_hmac_key:
    description: The external account binding's HMAC key.
    type: str
    default: ""
  certbot_provided_certificate:
    description: The provided certificate (full chain, PEM) on the controller.
    type: str
    default: ""
  certbot_provided_private_key:
    description: The provided private key (PEM) on the controller.
    type: str
    default: ""
requirements:
  - cryptography (on the controller; ansible-core depends on it)
seealso:
  - module: flaskops.deploy.nginx_inputs
  - module: flaskops.deploy.app_inputs
"""

EXAMPLES = r"""
- name: Check the certbot role's inputs (the role's tasks/validate.yml passes every variable)
  flaskops.deploy.certbot_inputs:
    certbot_tls_mode: provided
    certbot_domains: [app.example.com]
    certbot_cert_name: app
    certbot_provided_certificate: files/app.fullchain.pem
    certbot_provided_private_key: files/app.key.pem
"""

RETURN = r"""
problems:
  description: One message per problem, each naming the inventory variable to change (empty when none).
  returned: always
  type: list
  elements: str
  sample: ["certbot_provided_certificate has expired."]
provided_read:
  description: Whether the provided certificate and key were read and compared on the controller.
  returned: always
  type: bool
  sample: true
msg:
  description: The problems joined with C( | ), or a summary.
  returned: always
  type: str
  sample: the inputs of the certbot role are valid (mode provided)
"""
