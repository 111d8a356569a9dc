# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The requests of a health check and its attempt loop, shared by ``health_check`` and ``slot_flip``.

:func:`check` runs the check that ``flaskops.deploy.health_check`` documents with the same parameters (see
:data:`DEFAULTS`) and returns the module's result; the decisions (expectations, retries, redirects, certificate
dates) are the pure functions of ``_health``.
"""

from __future__ import annotations

import datetime
import http.client
import re
import socket
import ssl
import time
import typing as t
import urllib.error
import urllib.parse

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


DEFAULTS: dict[str, t.Any] = {
    "url": None,
    "unix_socket": None,
    "method": "GET",
    "headers": {},
    "body": None,
    "status_code": [200],
    "body_contains": None,
    "body_regex": None,
    "json": None,
    "expect_headers": None,
    "validate_certs": True,
    "ca_path": None,
    "client_cert": None,
    "client_key": None,
    "timeout": 5,
    "retries": 0,
    "delay": 1,
    "backoff": 1,
    "success_threshold": 1,
    "max_latency_ms": None,
    "cert_min_days": None,
    "follow_redirects": "none",
    "use_proxy": True,
    "connect_to": None,
    "trust_served_certificate": False,
}
"""The parameters of :func:`check` and their defaults: the options of ``flaskops.deploy.health_check``."""

CHECK_OPTIONS: dict[str, dict[str, t.Any]] = {
    "url": {"type": "str"},
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
}
"""The argument spec of a health check given as a dict option of another module (``url`` checked by it)."""


def check(
    params: t.Mapping[str, t.Any],
    warn: t.Callable[[str], t.Any] | None = None,
    sleep: t.Callable[[float], t.Any] = time.sleep,
) -> dict[str, t.Any]:
    """Run the check described by ``params`` (missing keys take :data:`DEFAULTS`) until it succeeds
    ``success_threshold`` times in a row or cannot succeed any more.

    Returns health_check's result: ``{changed, healthy, status, attempts, elapsed_ms, mismatches, headers, body,
    json}`` (plus ``url``, ``cert_not_after``, ``cert_days_left`` for HTTPS) and, when not healthy, ``msg``.
    """
    params = dict(DEFAULTS, **params)
    is_https = urllib.parse.urlsplit(params["url"]).scheme.lower() == "https"
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
            sleep(next_delay(params["delay"], params["backoff"], failures))
        observation = probe(params, is_https)
        attempts += 1
        elapsed.append(observation["elapsed_ms"])
        observation["cert_days_left"] = None
        cert_not_after = None
        if observation["cert_der"]:
            try:
                cert_not_after = der_certificate_not_after(observation["cert_der"])
            except ValueError as error:
                if warn is not None:
                    warn(f"Could not read the expiry date of the server certificate: {error}")
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
        result["msg"] = f"{params['url']} is not healthy after {attempts} attempt{plural}: {reasons}; last response: {last}"
    return result
