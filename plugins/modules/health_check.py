#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: health_check
short_description: Verify that a deployed web application answers as expected, and fail when it does not
version_added: 1.0.0
description:
  - "Sends HTTP(S) requests to a deployed application and checks the answer: status code, body text, a regular expression,
    values in a JSON body, response headers, latency and, for HTTPS, how long the served certificate stays valid."
  - Meant to gate releases. When the application is not healthy after all attempts the module B(fails), so the play stops
    (or a C(rescue) block rolls back). The failed result still carries all the data described under RETURN, with
    RV(healthy=false) and a RV(msg) that names what did not match and shows the last response seen.
  - Run it on the target to check the application on the loopback interface or on its unix socket (O(unix_socket)), or
    delegate it to the controller (C(delegate_to=localhost)) to check the public URL through TLS.
  - Uses only the Python standard library and C(ansible.module_utils.urls) on the host that runs it.
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
  - flaskops.deploy.attributes.info_module
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the work run on the controller.
    support: full
    details:
      - The action plugin merges O(check) under the options the task gives.
options:
  url:
    description:
      - The URL to request, V(http://...) or V(https://...). Required, here or in O(check).
      - With O(unix_socket), the host part of the URL is only used for the C(Host) header and for TLS (SNI and the
        certificate name check); the connection goes to the socket.
    type: str
  check:
    description:
      - A whole check as one dict, with any of this module's other options as keys (a key set to V(null) counts as
        absent), so that a check kept in one variable is the same wherever it runs. An option the task gives wins over
        the key of the same name.
      - Merged on the controller by the action plugin, before the module runs.
    type: dict
  unix_socket:
    description:
      - Path of a unix domain socket to connect to instead of the host and port of O(url), for example the socket that
        gunicorn listens on.
      - A socket that does not exist yet counts as a failed attempt, so O(retries) can wait for the application to
        start.
    type: path
  method:
    description:
      - The HTTP method.
      - The request is sent in check mode too, so the endpoint must be free of side effects.
    type: str
    default: GET
    choices: [GET, HEAD, OPTIONS, POST]
  headers:
    description:
      - Request headers, for example V(Host) to reach a name-based virtual host through its IP address, or V(Accept).
      - These values are not hidden from the output. Put credentials only into a task with C(no_log=true).
    type: dict
    default: {}
  body:
    description:
      - Request body, sent as given. Set a C(Content-Type) in O(headers) to go with it.
    type: str
  status_code:
    description:
      - The status codes that count as healthy.
      - Redirects are not followed unless O(follow_redirects) says so, so a V(301) can be checked as such.
    type: list
    elements: int
    default: [200]
  body_contains:
    description:
      - A string that the response body must contain.
    type: str
  body_regex:
    description:
      - A Python regular expression that must match somewhere in the response body (C(re.search), multi-line mode).
    type: str
  json:
    description:
      - 'Values expected in a JSON response body, keyed by dotted path, for example V({"status": "ok", "checks.db": "ok"}).'
      - 'Nested dicts are the same as dotted paths, so V({"checks": {"db": "ok"}}) equals V({"checks.db": "ok"}). A path
        segment that is a number indexes into a list (V(items.0.name)). Only the given paths are compared.'
      - An expected string also matches the JSON text of a number, boolean or null (V("3") matches V(3), V("true")
        matches V(true)), since templated values often arrive as strings.
      - The check fails when the body is not JSON.
    type: dict
  expect_headers:
    description:
      - Response headers that must be present, as a dict of header name to expected value. Names are case-insensitive.
      - 'The header value must contain the expected value as a substring. An empty string only requires the header to be
        present, for example V({"Strict-Transport-Security": "max-age=", "X-Request-Id": ""}).'
    type: dict
  validate_certs:
    description:
      - Whether to verify the server certificate (chain and host name) for V(https) URLs.
      - Only set this to V(false) for a self-signed certificate in a test environment; prefer O(ca_path).
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of CA certificates to verify the server certificate with, instead of the system trust store.
    type: path
  client_cert:
    description:
      - A PEM file with the client certificate (and optionally its key) for TLS client authentication.
    type: path
  client_key:
    description:
      - A PEM file with the private key of O(client_cert), when that file does not contain it.
    type: path
  timeout:
    description:
      - Seconds to wait for the connection and for each read of one attempt.
    type: float
    default: 5
  retries:
    description:
      - How many failed attempts are allowed on top of the O(success_threshold) successful ones.
      - The module makes at most O(success_threshold) + O(retries) attempts, and stops as soon as the application is
        healthy or can no longer become healthy within that budget.
    type: int
    default: 0
  delay:
    description:
      - Seconds to wait between two attempts. After failed attempts the wait grows by O(backoff).
    type: float
    default: 1
  backoff:
    description:
      - Factor by which the wait grows after each failed attempt in a row. After the n-th failure in a row the module
        waits O(delay) * O(backoff) ** (n - 1) seconds; after a success it waits O(delay).
      - V(1) keeps a constant delay; V(2) doubles it each time.
    type: float
    default: 1
  success_threshold:
    description:
      - How many attempts in a row must succeed before the application counts as healthy. A failure in between resets
        the count.
      - Use V(2) or more to make sure a freshly restarted application stays up and is not answering from an old worker.
    type: int
    default: 1
  max_latency_ms:
    description:
      - The longest time in milliseconds that one attempt may take, from sending the request to reading the body. A
        slower attempt counts as failed.
    type: int
  cert_min_days:
    description:
      - Fail when the certificate served for an V(https) URL expires in fewer than this many days.
      - The certificate is read whether or not O(validate_certs) is set. Only valid with an V(https) URL, or with
        O(connect_to) when the URL redirects to one.
    type: int
  follow_redirects:
    description:
      - Which redirects to follow. V(none) reports the redirect status itself (and its C(Location) header); V(safe)
        follows redirects of C(GET) and C(HEAD) requests; V(all) follows every redirect.
    type: str
    default: none
    choices: [none, safe, all]
  use_proxy:
    description:
      - Whether to use the proxy from the C(http_proxy), C(https_proxy) and C(no_proxy) environment variables.
      - Set it to V(false) to check an address on the host itself when a proxy is configured.
      - Never used with O(unix_socket) or O(connect_to).
    type: bool
    default: true
  connect_to:
    description:
      - Open the connection to this address (V(host), V(host:port), V([v6]) or V([v6]:port)) instead of the host named in
        O(url), like C(curl --connect-to). The host of O(url) still goes into the C(Host) header and, for V(https), into
        the TLS server name (SNI) and the certificate's host name check.
      - Without a port the URL's own port is used, so V(127.0.0.1) reaches port 80 for an V(http) URL and port 443 for
        the V(https) URL it may redirect to. This checks a site on the host's own web server with no DNS entry and no
        C(/etc/hosts) line for its name.
      - Redirects are followed (as O(follow_redirects) says) only while they stay on the host of O(url); the scheme may
        change, so an C(http) to C(https) redirect is followed to the same address. A redirect to another host is
        reported as the response.
    type: str
  trust_served_certificate:
    description:
      - For V(https), trust the certificate the server presents for the name in O(url) instead of a CA, and still check
        that the certificate names that host. Meant for a check through the host's own web server on loopback (with
        O(connect_to)), where the certificate may be self-signed or come from a CA the host does not trust, and where
        what matters is that the server serves the site's certificate and the application behind it answers.
      - Ignores O(ca_path) and O(validate_certs).
    type: bool
    default: false
notes:
  - The module fails when the application is unhealthy. To record the result without failing, use
    C(ignore_errors=true) or C(failed_when=false) with C(register) and test RV(healthy).
  - The certificate data (RV(cert_not_after), RV(cert_days_left)) is read from the TLS connection of the request itself,
    so it is the certificate served for the name in O(url) (SNI), through O(unix_socket) if given. If that connection is
    no longer available, the module opens one more TLS connection with the same CA, verification and client
    certificate settings to read it.
  - Response bodies are read up to 1 MiB.
seealso:
  - module: ansible.builtin.uri
    description: Interact with web services in general.
  - module: ansible.builtin.wait_for
    description: Wait for a port or a file, without looking at the answer.
  - module: flaskops.deploy.flask_config_validate
    description: Refuse a Flask configuration that is not fit for production, before it is started.
"""

EXAMPLES = r"""
- name: Check the application on its gunicorn socket, as nginx would reach it
  flaskops.deploy.health_check:
    url: http://localhost/health
    unix_socket: /run/hello_app/gunicorn.sock
    headers:
      Host: app.example.com
      X-Forwarded-Proto: https
    json:
      status: ok
      checks.db: ok
    retries: 10
    delay: 1
    backoff: 1.5
    success_threshold: 2

- name: Check the site through nginx with the check a deploy makes (kept in one variable), a longer timeout here
  flaskops.deploy.health_check:
    check: "{{ site_check }}"
    timeout: 10
  vars:
    site_check:
      url: http://app.example.com/health
      connect_to: 127.0.0.1
      follow_redirects: safe
      trust_served_certificate: true
      retries: 5

- name: Check the public URL through TLS from the controller
  flaskops.deploy.health_check:
    url: https://app.example.com/health
    status_code: [200]
    body_regex: '"status":\s*"ok"'
    expect_headers:
      Strict-Transport-Security: max-age=
      X-Content-Type-Options: nosniff
    cert_min_days: 14
    max_latency_ms: 500
    retries: 5
    delay: 2
  delegate_to: localhost

- name: Check a test host that serves a certificate from the test CA
  flaskops.deploy.health_check:
    url: https://app.test/health
    ca_path: /etc/ssl/certs/test-ca.pem
    retries: 3

- name: Plain HTTP must redirect to HTTPS
  flaskops.deploy.health_check:
    url: http://127.0.0.1/
    headers:
      Host: app.example.com
    status_code: [301, 308]
    expect_headers:
      Location: https://app.example.com/

- name: Check a site through the host's own nginx, with no DNS, following its redirect to HTTPS
  flaskops.deploy.health_check:
    url: http://app.example.com/health
    connect_to: 127.0.0.1
    follow_redirects: safe
    trust_served_certificate: true
    json:
      status: ok

- name: Gate the release and roll back when it is not healthy
  block:
    - name: Check the new release
      flaskops.deploy.health_check:
        url: http://127.0.0.1:8000/health
        json:
          status: ok
        retries: 15
        delay: 2
        success_threshold: 3
      register: app_health
  rescue:
    - name: Roll back to the previous release
      ansible.builtin.include_tasks: rollback.yml
    - name: Stop the play with what did not match
      ansible.builtin.fail:
        msg: "The new release is not healthy: {{ app_health.mismatches | join('; ') }}"

- name: Record the state without failing the play
  flaskops.deploy.health_check:
    url: http://127.0.0.1:8000/health
  register: app_health
  failed_when: false

- name: Report it
  ansible.builtin.debug:
    msg: "healthy={{ app_health.healthy }} status={{ app_health.status }} ms={{ app_health.elapsed_ms }}"
"""

RETURN = r"""
healthy:
  description: Whether the application met every expectation in O(success_threshold) attempts in a row.
  returned: always
  type: bool
  sample: true
status:
  description: The HTTP status code of the last response, or V(null) when the last attempt got no response.
  returned: always
  type: int
  sample: 200
attempts:
  description: How many requests were sent.
  returned: always
  type: int
  sample: 3
elapsed_ms:
  description: The duration of each attempt in milliseconds, from sending the request to reading the body, in order.
  returned: always
  type: list
  elements: int
  sample: [12, 9, 10]
mismatches:
  description: What did not match in the last attempt, one string per failed expectation. Empty when healthy.
  returned: always
  type: list
  elements: str
  sample: ["status 503 is not one of [200]", "json path 'checks.db' is \"down\", expected \"ok\""]
headers:
  description: The headers of the last response, with lower-case names. Repeated headers are joined with V(", ").
  returned: always
  type: dict
  sample: {"content-type": "application/json", "content-length": "42"}
body:
  description: The body of the last response as text, cut to 512 characters.
  returned: always
  type: str
  sample: '{"status": "ok", "checks": {"db": "ok"}}'
json:
  description: The body of the last response parsed as JSON, or V(null) when it is not JSON.
  returned: always
  type: raw
  sample: {"status": "ok", "checks": {"db": "ok"}}
url:
  description: The URL of the last response, after the redirects followed on the O(connect_to) address.
  returned: when O(connect_to) is set, or O(url) is an V(https) URL
  type: str
  sample: https://app.example.com/health
cert_not_after:
  description: When the certificate served for an V(https) URL expires, in ISO 8601 UTC; V(null) when it could not be
    read.
  returned: when O(url) is an V(https) URL, or O(connect_to) followed a redirect to one
  type: str
  sample: "2026-03-01T12:00:00Z"
cert_days_left:
  description: Whole days until the served certificate expires (negative once expired); V(null) when it could not be
    read.
  returned: when O(url) is an V(https) URL, or O(connect_to) followed a redirect to one
  type: int
  sample: 73
msg:
  description: Why the application is not healthy, with the last response seen (its body cut to 512 characters).
  returned: failure
  type: str
  sample: "http://127.0.0.1:8000/healthz is not healthy after 3 attempts: status 503 is not one of [200]; last response:
    status 503, body: 'database unavailable'"
"""

import os
import re
import typing as t
import urllib.parse

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flaskops.deploy.plugins.module_utils._health import connect_address
from ansible_collections.flaskops.deploy.plugins.module_utils._health_client import CHECK_OPTIONS, check


def _validate(module: AnsibleModule) -> str:
    """Check the inputs that the argument spec cannot; return the URL scheme."""
    params = module.params
    scheme = urllib.parse.urlsplit(params["url"]).scheme.lower()
    if scheme not in ("http", "https"):
        module.fail_json(msg=f"url must be an http:// or https:// URL, got {params['url']!r}")
    if params["cert_min_days"] is not None and scheme != "https" and not params["connect_to"]:
        module.fail_json(msg=f"cert_min_days needs an https:// url, got {params['url']!r}")
    if params["body_regex"] is not None:
        try:
            re.compile(params["body_regex"])
        except re.error as error:
            module.fail_json(msg=f"body_regex is not a valid regular expression: {error}")
    if not params["status_code"]:
        module.fail_json(msg="status_code must list at least one status code")
    bad_codes = [code for code in params["status_code"] if not 100 <= code <= 599]
    if bad_codes:
        module.fail_json(msg=f"status_code must hold HTTP status codes from 100 to 599, got {bad_codes}")
    lower_bounds = (
        ("retries", 0),
        ("success_threshold", 1),
        ("delay", 0),
        ("backoff", 1),
        ("max_latency_ms", 1),
        ("cert_min_days", 0),
    )
    for name, minimum in lower_bounds:
        if params[name] is not None and params[name] < minimum:
            module.fail_json(msg=f"{name} must be at least {minimum}, got {params[name]}")
    if params["connect_to"] is not None:
        try:
            connect_address(params["url"], params["connect_to"])
        except ValueError as error:
            module.fail_json(msg=str(error))
    if params["timeout"] <= 0:
        module.fail_json(msg=f"timeout must be more than 0 seconds, got {params['timeout']}")
    for name in ("ca_path", "client_cert", "client_key"):
        if params[name] is not None and not os.path.isfile(params[name]):
            module.fail_json(msg=f"{name} {params[name]!r} is not a file")
    for name in ("json", "expect_headers"):
        empty = [key for key in (params[name] or {}) if not str(key)]
        if empty:
            module.fail_json(msg=f"{name} has an empty key")
    return scheme


def main() -> t.NoReturn:
    module = AnsibleModule(
        # The options every health check of the collection shares (slot_flip takes the same as dicts).
        argument_spec=dict(CHECK_OPTIONS, check={"type": "dict"}),
        required_by={"client_key": "client_cert"},
        mutually_exclusive=[("connect_to", "unix_socket")],
        supports_check_mode=True,
    )
    params = module.params
    if not params["url"]:
        module.fail_json(msg="missing required arguments: url (here or in check)")
    _validate(module)
    result = check(params, warn=module.warn)
    if not result["healthy"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
