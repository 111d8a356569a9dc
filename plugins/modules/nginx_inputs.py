#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: nginx_inputs
short_description: Check the nginx role's inputs on the controller, before anything changes on a host
version_added: 1.0.0
description:
  - Runs on the controller only (an action plugin); changes nothing on any host. It is the nginx role's
    C(tasks/validate.yml), run in the playbooks' preflight and by the role when no preflight ran it.
  - "Checks, each option named as the nginx role's variable it takes: the site name is a file name; the server names
    are valid lower-case DNS names (a wildcard first label allowed); the TLS certificate and key come together; the
    ACME webroot is absolute; the TLS and security header profiles and the OCSP switch are known; the default rate
    and burst; the allow-list and the trusted proxies are addresses or CIDRs; each rate zone has a name of its own, a
    rate and a size; each rate-limited location has a path (or a regex with C(~) or C(~*)), a known modifier, a zone
    of O(nginx_limit_req_zones) and an integer burst; the load balancer's backends are distinct host names or
    addresses, its port a port and its counts counts; the WebSocket switch, its paths (absolute, neither C(/) nor a
    rate-limited location) and its timeout."
  - Fails with every problem found, one message each (RV(problems)), joined in RV(msg); each names the inventory
    variable to change.
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
  - flaskops.deploy.attributes.info_module
options:
  nginx_site_name:
    description: The site's name, a file name (C([A-Za-z0-9._-]), not starting with C(.), C(_) or C(-)).
    type: str
    required: true
  nginx_server_names:
    description: The site's server names, at least one.
    type: list
    elements: str
    required: true
  nginx_tls_certificate:
    description: The certificate's path on the host; set together with O(nginx_tls_certificate_key).
    type: str
    default: ""
  nginx_tls_certificate_key:
    description: The key's path on the host; set together with O(nginx_tls_certificate).
    type: str
    default: ""
  nginx_acme_webroot:
    description: The ACME webroot, an absolute path.
    type: str
    default: /var/www/acme
  nginx_security_headers_profile:
    description: V(strict), V(compatible) or V(custom).
    type: str
    default: compatible
  nginx_tls_profile:
    description: V(intermediate) or V(modern).
    type: str
    default: intermediate
  nginx_tls_ocsp_stapling:
    description: V(auto), V(always) or V(never).
    type: str
    default: auto
  nginx_limit_req_default_rate:
    description: The default request rate, like V(20r/s) or V(600r/m).
    type: str
    default: 20r/s
  nginx_limit_req_default_burst:
    description: The default burst, a count.
    type: raw
    default: 200
  nginx_limit_req_allow:
    description: Addresses or CIDRs the rate limit does not apply to.
    type: list
    elements: str
    default: []
  nginx_limit_req_zones:
    description: Rate zones, each with C(name), C(rate) and an optional C(size).
    type: list
    elements: raw
    default: []
  nginx_limit_req_locations:
    description: Rate-limited locations, each with C(path), an optional C(modifier), C(zone) and an optional C(burst).
    type: list
    elements: raw
    default: []
  nginx_lb_backends:
    description: The load balancer's backends, distinct host names or addresses.
    type: list
    elements: str
    default: []
  nginx_lb_backend_port:
    description: The backends' port.
    type: raw
    default: 80
  nginx_lb_max_fails:
    description: A count, 0 or more.
    type: raw
    default: 2
  nginx_lb_fail_timeout:
    description: Seconds, 1 or more.
    type: raw
    default: 10
  nginx_lb_next_upstream_tries:
    description: A count, 0 or more.
    type: raw
    default: 2
  nginx_trusted_proxies:
    description: Addresses or CIDRs whose C(X-Forwarded-*) headers are trusted.
    type: list
    elements: str
    default: []
  nginx_websocket:
    description: V(auto), V(true) or V(false).
    type: raw
    default: auto
  nginx_websocket_locations:
    description: WebSocket paths, absolute, neither C(/) nor a path of O(nginx_limit_req_locations).
    type: list
    elements: str
    default: []
  nginx_websocket_timeout:
    description: Seconds, 1 or more.
    type: raw
    default: 3600
  default_zone:
    description: The name of the role's own rate zone, which no entry of O(nginx_limit_req_zones) may take.
    type: str
    default: default
seealso:
  - module: flaskops.deploy.app_inputs
"""

EXAMPLES = r"""
- name: Check the nginx role's inputs (the role's tasks/validate.yml passes every variable)
  flaskops.deploy.nginx_inputs:
    nginx_site_name: "{{ nginx_site_name }}"
    nginx_server_names: "{{ nginx_server_names }}"
    nginx_limit_req_zones: "{{ nginx_limit_req_zones }}"
    nginx_limit_req_locations: "{{ nginx_limit_req_locations }}"
"""

RETURN = r"""
problems:
  description: One message per problem, each naming the inventory variable to change (empty when none).
  returned: always
  type: list
  elements: str
  sample: ["nginx_tls_certificate and nginx_tls_certificate_key must be set together"]
msg:
  description: The problems joined with C( | ), or a summary.
  returned: always
  type: str
  sample: the inputs of the nginx role for site hello are valid
"""
