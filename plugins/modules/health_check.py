#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: health_check
short_description: Verify that a deployed web application answers as expected, and fail when it does not
version_added: 0.1.0
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
options:
  url:
    description:
      - The URL to request, V(http://...) or V(https://...).
      - With O(unix_socket), the host part of the URL is only used for the C(Host) header and for TLS (SNI and the
        certificate name check); the connection goes to the socket.
    type: str
    required: true
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

import datetime
import http.client
import os
import re
import socket
import ssl
import time
import typing as t
import urllib.error
import urllib.parse

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import make_context, open_url

from ansible_collections.flaskops.deploy.plugins.module_utils._health import (
    REDIRECT_STATUSES,
    can_still_succeed,
    connect_address,
    days_left,
    der_certificate_not_after,
    evaluate,
    header_dict,
    iso8601,
    max_attempts,
    next_delay,
    parse_json_body,
    redirect_within,
    truncate,
)

MAX_BODY_BYTES = 1024 * 1024
USER_AGENT = "flaskops.deploy.health_check"


def _socket_of(response: t.Any) -> t.Any:
    """Find the socket under a urllib response (or an HTTPError wrapping one), or None."""
    candidate = response
    for dummy in range(3):
        fp = getattr(candidate, "fp", None)
        raw = getattr(fp, "raw", None)
        sock = getattr(raw, "_sock", None)
        if sock is not None:
            return sock
        candidate = fp
        if candidate is None:
            return None
    return None


def _peer_cert_from_response(response: t.Any) -> bytes | None:
    sock = _socket_of(response)
    if sock is None or not hasattr(sock, "getpeercert"):
        return None
    try:
        return sock.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None


def _peer_cert_from_new_connection(params: dict[str, t.Any]) -> bytes | None:
    """Open one TLS connection with the request's settings just to read the peer certificate."""
    parts = urllib.parse.urlsplit(params["url"])
    host = parts.hostname or "localhost"
    port = parts.port or 443
    try:
        context = make_context(
            cafile=params["ca_path"],
            validate_certs=params["validate_certs"],
            client_cert=params["client_cert"],
            client_key=params["client_key"],
        )
        if params["unix_socket"]:
            raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            raw.settimeout(params["timeout"])
            raw.connect(params["unix_socket"])
        else:
            raw = socket.create_connection((host, port), timeout=params["timeout"])
        with raw, context.wrap_socket(raw, server_hostname=host) as tls:
            return tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None


def _describe_error(error: BaseException, timeout: float) -> str:
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        reason = error.reason
        if isinstance(reason, socket.timeout):
            return f"timed out after {timeout:g} s"
        return to_native(reason)
    if isinstance(error, socket.timeout):
        return f"timed out after {timeout:g} s"
    return f"{type(error).__name__}: {to_native(error)}"


def _decode(body: bytes, content_type: str | None) -> str:
    charset = "utf-8"
    if content_type:
        match = re.search(r"charset=([\w.-]+)", content_type, re.IGNORECASE)
        if match:
            charset = match.group(1)
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


class _AddressedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a fixed address; the Host header still names the URL's host."""

    def __init__(self, host: str, port: int, address: tuple[str, int], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection(self._address, self.timeout)


class _AddressedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a fixed address, with the URL's host as server name (SNI) and for the name check."""

    def __init__(self, host: str, port: int, address: tuple[str, int], timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls_context = context

    def connect(self) -> None:
        raw = socket.create_connection(self._address, self.timeout)
        try:
            self.sock = self._tls_context.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def _served_certificate(host: str, address: tuple[str, int], timeout: float) -> bytes:
    """The certificate a server presents for ``host`` at ``address``, read without verifying it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(address, timeout) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError(f"{address[0]}:{address[1]} presented no certificate for {host}")
    return der


def _tls_context(params: dict[str, t.Any], host: str, address: tuple[str, int]) -> ssl.SSLContext:
    if not params["trust_served_certificate"]:
        return make_context(
            cafile=params["ca_path"],
            validate_certs=params["validate_certs"],
            client_cert=params["client_cert"],
            client_key=params["client_key"],
        )
    served = _served_certificate(host, address, params["timeout"])
    context = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(served))
    # The served certificate itself is the trust anchor, even when it is not self-signed.
    context.verify_flags |= getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
    if params["client_cert"]:
        context.load_cert_chain(params["client_cert"], params["client_key"])
    return context


def _probe_connect_to(params: dict[str, t.Any], observation: dict[str, t.Any]) -> None:
    """One request (and the redirects that stay on the URL's host) sent to the O(connect_to) address."""
    url = params["url"]
    method = params["method"]
    data = params["body"].encode("utf-8") if params["body"] is not None else None
    headers = {"User-Agent": USER_AGENT}
    headers.update(params["headers"])
    for hop in range(6):
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or "localhost"
        address = connect_address(url, params["connect_to"])
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        if parts.scheme.lower() == "https":
            connection: http.client.HTTPConnection = _AddressedHTTPSConnection(
                host, port, address, params["timeout"], _tls_context(params, host, address))
        else:
            connection = _AddressedHTTPConnection(host, port, address, params["timeout"])
        try:
            target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
            connection.request(method, target, body=data, headers=headers)
            response = connection.getresponse()
            observation["status"] = response.status
            observation["headers"] = header_dict(response.getheaders())
            observation["cert_der"] = None
            if parts.scheme.lower() == "https" and connection.sock is not None:
                observation["cert_der"] = connection.sock.getpeercert(binary_form=True)
            raw_body = response.read(MAX_BODY_BYTES) or b""
        finally:
            connection.close()
        content_type = observation["headers"].get("content-type")
        observation["body"] = _decode(raw_body, content_type)
        observation["is_json"], observation["json"] = parse_json_body(observation["body"], content_type)
        observation["url"] = url
        follow = params["follow_redirects"] == "all" or (params["follow_redirects"] == "safe" and method in ("GET", "HEAD"))
        next_url = redirect_within(url, observation["headers"].get("location")) if follow else None
        if response.status not in REDIRECT_STATUSES or next_url is None or hop == 5:
            return
        url = next_url
        if response.status == 303:
            method, data = "GET", None


def probe(params: dict[str, t.Any], is_https: bool) -> dict[str, t.Any]:
    """Send one request and describe what came back."""
    observation: dict[str, t.Any] = {
        "error": None,
        "status": None,
        "headers": {},
        "body": "",
        "is_json": False,
        "json": None,
        "cert_der": None,
    }
    start = time.monotonic()
    response = None
    if params["connect_to"]:
        try:
            _probe_connect_to(params, observation)
        except (OSError, http.client.HTTPException, ValueError) as error:
            observation["error"] = _describe_error(error, params["timeout"])
        observation["elapsed_ms"] = int(round((time.monotonic() - start) * 1000))
        return observation
    try:
        response = open_url(
            params["url"],
            data=params["body"],
            headers=params["headers"],
            method=params["method"],
            use_proxy=params["use_proxy"] and not params["unix_socket"],
            timeout=params["timeout"],
            validate_certs=params["validate_certs"],
            http_agent=USER_AGENT,
            follow_redirects=params["follow_redirects"],
            client_cert=params["client_cert"],
            client_key=params["client_key"],
            unix_socket=params["unix_socket"],
            ca_path=params["ca_path"],
            use_netrc=False,
        )
    except urllib.error.HTTPError as error:
        # 4xx and 5xx answers (and unfollowed redirects) are responses too.
        response = error
    except (OSError, http.client.HTTPException, UrlsConnectionError, ValueError) as error:
        observation["error"] = _describe_error(error, params["timeout"])

    if response is not None:
        try:
            observation["status"] = int(getattr(response, "status", None) or response.getcode())
            headers = getattr(response, "headers", None)
            observation["headers"] = header_dict(headers.items()) if headers is not None else {}
            if is_https:
                observation["cert_der"] = _peer_cert_from_response(response)
            raw_body = response.read(MAX_BODY_BYTES) or b""
            content_type = observation["headers"].get("content-type")
            observation["body"] = _decode(raw_body, content_type)
            observation["is_json"], observation["json"] = parse_json_body(observation["body"], content_type)
        except (OSError, http.client.HTTPException, ValueError) as error:
            observation["error"] = f"reading the response failed: {_describe_error(error, params['timeout'])}"
        finally:
            try:
                response.close()
            except (OSError, AttributeError):
                pass

    observation["elapsed_ms"] = int(round((time.monotonic() - start) * 1000))
    if is_https and observation["cert_der"] is None and observation["status"] is not None:
        observation["cert_der"] = _peer_cert_from_new_connection(params)
    return observation


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
        argument_spec={
            "url": {"type": "str", "required": True},
            "unix_socket": {"type": "path"},
            "method": {"type": "str", "default": "GET", "choices": ["GET", "HEAD", "OPTIONS", "POST"]},
            "headers": {"type": "dict", "default": {}},
            "body": {"type": "str"},
            "status_code": {"type": "list", "elements": "int", "default": [200]},
            "body_contains": {"type": "str"},
            "body_regex": {"type": "str"},
            "json": {"type": "dict"},
            "expect_headers": {"type": "dict"},
            "validate_certs": {"type": "bool", "default": True},
            "ca_path": {"type": "path"},
            "client_cert": {"type": "path"},
            "client_key": {"type": "path"},
            "timeout": {"type": "float", "default": 5},
            "retries": {"type": "int", "default": 0},
            "delay": {"type": "float", "default": 1},
            "backoff": {"type": "float", "default": 1},
            "success_threshold": {"type": "int", "default": 1},
            "max_latency_ms": {"type": "int"},
            "cert_min_days": {"type": "int"},
            "follow_redirects": {"type": "str", "default": "none", "choices": ["none", "safe", "all"]},
            "use_proxy": {"type": "bool", "default": True},
            "connect_to": {"type": "str"},
            "trust_served_certificate": {"type": "bool", "default": False},
        },
        required_by={"client_key": "client_cert"},
        mutually_exclusive=[("connect_to", "unix_socket")],
        supports_check_mode=True,
    )
    params = module.params
    is_https = _validate(module) == "https"
    expectations = {
        "status_code": params["status_code"],
        "body_contains": params["body_contains"],
        "body_regex": params["body_regex"],
        "json": params["json"],
        "expect_headers": params["expect_headers"],
        "max_latency_ms": params["max_latency_ms"],
        "cert_min_days": params["cert_min_days"],
    }

    budget = max_attempts(params["retries"], params["success_threshold"])
    attempts = successes = failures = 0
    elapsed: list[int] = []
    mismatches: list[str] = []
    observation: dict[str, t.Any] = {}
    cert_not_after: datetime.datetime | None = None

    while attempts < budget:
        if attempts:
            time.sleep(next_delay(params["delay"], params["backoff"], failures))
        observation = probe(params, is_https)
        attempts += 1
        elapsed.append(observation["elapsed_ms"])
        observation["cert_days_left"] = None
        cert_not_after = None
        if observation["cert_der"]:
            try:
                cert_not_after = der_certificate_not_after(observation["cert_der"])
            except ValueError as error:
                module.warn(f"Could not read the expiry date of the server certificate: {error}")
            if cert_not_after is not None:
                now = datetime.datetime.now(datetime.timezone.utc)
                observation["cert_days_left"] = days_left(cert_not_after, now)
        mismatches = evaluate(observation, expectations)
        if mismatches:
            failures += 1
            successes = 0
        else:
            successes += 1
            failures = 0
        if successes >= params["success_threshold"]:
            break
        if not can_still_succeed(attempts, successes, params["retries"], params["success_threshold"]):
            break

    healthy = successes >= params["success_threshold"]
    result: dict[str, t.Any] = {
        "changed": False,
        "healthy": healthy,
        "status": observation.get("status"),
        "attempts": attempts,
        "elapsed_ms": elapsed,
        "mismatches": mismatches,
        "headers": observation.get("headers") or {},
        "body": truncate(observation.get("body") or ""),
        "json": observation.get("json") if observation.get("is_json") else None,
    }
    if is_https or str(observation.get("url", "")).startswith("https://"):
        result["url"] = observation.get("url", params["url"])
        result["cert_not_after"] = iso8601(cert_not_after) if cert_not_after is not None else None
        result["cert_days_left"] = observation.get("cert_days_left")

    if observation.get("url"):
        result["url"] = observation["url"]
    if not healthy:
        if observation.get("error"):
            last = f"no response ({observation['error']})"
        else:
            last = f"status {observation.get('status')}, body: {truncate(observation.get('body') or '')!r}"
        plural = "" if attempts == 1 else "s"
        reasons = "; ".join(mismatches) or f"fewer than {params['success_threshold']} successful attempts in a row"
        module.fail_json(
            msg=f"{params['url']} is not healthy after {attempts} attempt{plural}: {reasons}; last response: {last}",
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
