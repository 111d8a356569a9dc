# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of flaskops.deploy.health_check against real servers on 127.0.0.1 and on a unix socket."""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
import typing as t

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _health_client
from ansible_collections.flaskops.deploy.plugins.module_utils._health import der_certificate_not_after
from ansible_collections.flaskops.deploy.plugins.modules import health_check
from ansible_collections.flaskops.deploy.tests.unit.plugins.modules.utils import (
    run_module,
    run_module_failing,
)
from ansible_collections.flaskops.deploy.tests.unit.plugins.support import (
    HEALTHY_DOCUMENT,
    AppState,
    closed_port_url,
    make_pki,
    serve_tcp,
    serve_tls,
    serve_tls_unix,
    serve_unix,
)


@pytest.fixture
def state() -> AppState:
    return AppState()


@pytest.fixture
def base_url(state: AppState) -> t.Iterator[str]:
    with serve_tcp(state) as url:
        yield url


@pytest.fixture(scope="module")
def pki() -> t.Iterator[dict[str, t.Any]]:
    directory = tempfile.mkdtemp(prefix="hc-pki-")
    try:
        yield make_pki(directory, server_days=30)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def short_dir() -> t.Iterator[str]:
    # Unix socket paths are limited to about 100 bytes, so keep this one short.
    directory = tempfile.mkdtemp(prefix="hc-")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run(args: dict[str, t.Any], check_mode: bool = False) -> dict[str, t.Any]:
    return run_module(health_check.main, args, check_mode=check_mode)


def run_failing(args: dict[str, t.Any], check_mode: bool = False) -> dict[str, t.Any]:
    return run_module_failing(health_check.main, args, check_mode=check_mode)


# --- healthy answers ------------------------------------------------------------------------------

def test_healthy_json_endpoint(base_url: str) -> None:
    result = run({
        "url": f"{base_url}/healthz",
        "json": {"status": "ok", "checks.db": "ok", "checks": {"cache": "ok"}, "workers": 3, "items.0.name": "a"},
        "expect_headers": {"x-request-id": "", "Strict-Transport-Security": "max-age="},
        "body_contains": '"status"',
        "body_regex": r'"db":\s*"ok"',
    })
    assert result["changed"] is False
    assert result["healthy"] is True
    assert result["status"] == 200
    assert result["attempts"] == 1
    assert len(result["elapsed_ms"]) == 1 and result["elapsed_ms"][0] >= 0
    assert result["mismatches"] == []
    assert result["json"] == HEALTHY_DOCUMENT
    assert result["headers"]["content-type"] == "application/json"
    assert result["headers"]["x-request-id"] == "abc123"
    assert "cert_days_left" not in result
    assert "msg" not in result


def test_check_mode_does_the_same_check(base_url: str, state: AppState) -> None:
    result = run({"url": f"{base_url}/healthz", "json": {"status": "ok"}}, check_mode=True)
    assert result["changed"] is False
    assert result["healthy"] is True
    assert len(state.requests) == 1


def test_check_mode_unhealthy_still_fails(base_url: str) -> None:
    result = run_failing({"url": f"{base_url}/down"}, check_mode=True)
    assert result["healthy"] is False
    assert result["changed"] is False


def test_expected_error_status_is_healthy(base_url: str) -> None:
    result = run({"url": f"{base_url}/down", "status_code": [503], "body_contains": "unavailable"})
    assert result["healthy"] is True
    assert result["status"] == 503
    assert result["json"] is None
    assert result["body"] == "database unavailable"


def test_text_body_checks(base_url: str) -> None:
    result = run({"url": f"{base_url}/text", "body_contains": "hello", "body_regex": r"^version: \d+\.\d+\.\d+$"})
    assert result["healthy"] is True
    assert result["json"] is None


def test_post_with_body_and_host_header(base_url: str, state: AppState) -> None:
    result = run({
        "url": f"{base_url}/echo",
        "method": "POST",
        "headers": {"Host": "app.example.com", "Content-Type": "application/json"},
        "body": '{"ping": 1}',
        "json": {"method": "POST", "host": "app.example.com", "body": '{"ping": 1}', "content_type": "application/json"},
    })
    assert result["healthy"] is True
    assert state.requests[-1]["headers"]["User-Agent"] == "flaskops.deploy.health_check"


def test_head_request(base_url: str, state: AppState) -> None:
    result = run({"url": f"{base_url}/healthz", "method": "HEAD", "expect_headers": {"Content-Type": "json"}})
    assert result["healthy"] is True
    assert result["body"] == ""
    assert state.requests[-1]["method"] == "HEAD"


def test_redirect_is_reported_not_followed_by_default(base_url: str) -> None:
    result = run({"url": f"{base_url}/redirect", "status_code": [301], "expect_headers": {"Location": "/healthz"}})
    assert result["healthy"] is True
    assert result["status"] == 301


def test_redirect_followed_when_asked(base_url: str) -> None:
    result = run({"url": f"{base_url}/redirect", "follow_redirects": "safe", "json": {"status": "ok"}})
    assert result["healthy"] is True
    assert result["status"] == 200


# --- unhealthy answers fail the task with the data ------------------------------------------------

def test_wrong_status_fails_with_last_response(base_url: str) -> None:
    result = run_failing({"url": f"{base_url}/down"})
    assert result["healthy"] is False
    assert result["changed"] is False
    assert result["status"] == 503
    assert result["attempts"] == 1
    assert result["mismatches"] == ["status 503 is not one of [200]"]
    assert "status 503 is not one of [200]" in result["msg"]
    assert "database unavailable" in result["msg"]
    assert result["msg"].startswith(f"{base_url}/down is not healthy after 1 attempt:")


def test_json_mismatch_names_each_path(base_url: str) -> None:
    result = run_failing({"url": f"{base_url}/degraded", "json": {"status": "ok", "checks.db": "ok", "checks.cache": "ok", "missing.key": 1}})
    assert result["mismatches"] == [
        "json path 'status' is \"degraded\", expected \"ok\"",
        "json path 'checks.db' is \"down\", expected \"ok\"",
        "json path 'missing.key' not found",
    ]
    assert result["json"]["checks"]["db"] == "down"


def test_json_expectation_on_text_body(base_url: str) -> None:
    result = run_failing({"url": f"{base_url}/text", "json": {"status": "ok"}})
    assert result["mismatches"] == ["body is not JSON, so the json expectations cannot be checked"]


def test_body_and_header_mismatches(base_url: str) -> None:
    result = run_failing({
        "url": f"{base_url}/text",
        "body_contains": "goodbye",
        "body_regex": "^version: 2",
        "expect_headers": {"X-Frame-Options": "", "Content-Type": "json"},
    })
    assert result["mismatches"] == [
        'body does not contain "goodbye"',
        'body does not match the regular expression "^version: 2"',
        "header 'X-Frame-Options' is missing",
        "header 'Content-Type' is \"text/plain; charset=utf-8\", expected it to contain \"json\"",
    ]


def test_long_body_is_truncated(base_url: str) -> None:
    result = run_failing({"url": f"{base_url}/big", "body_contains": "y"})
    assert result["body"].startswith("x" * 512)
    assert result["body"].endswith("... [1488 more characters]")
    assert "x" * 513 not in result["msg"]


def test_latency_limit(base_url: str) -> None:
    result = run_failing({"url": f"{base_url}/slow", "max_latency_ms": 100})
    assert result["status"] == 200
    assert result["elapsed_ms"][0] >= 300
    assert result["mismatches"][0].startswith("response took ")
    assert result["mismatches"][0].endswith("ms, more than max_latency_ms=100")


def test_timeout_is_no_response(base_url: str) -> None:
    result = run_failing({"url": f"{base_url}/slow", "timeout": 0.1})
    assert result["status"] is None
    assert result["mismatches"] == ["no response: timed out after 0.1 s"]
    assert "last response: no response (timed out after 0.1 s)" in result["msg"]


def test_connection_refused() -> None:
    url = closed_port_url()
    result = run_failing({"url": url, "retries": 1, "delay": 0})
    assert result["healthy"] is False
    assert result["status"] is None
    assert result["attempts"] == 2
    assert result["headers"] == {}
    assert result["mismatches"][0].startswith("no response: ")
    assert "refused" in result["msg"].lower()


# --- retries, backoff, consecutive successes ------------------------------------------------------

def test_retries_until_healthy(base_url: str, state: AppState) -> None:
    state.sequence = [503, 502, 200]
    result = run({"url": f"{base_url}/sequence", "retries": 5, "delay": 0})
    assert result["healthy"] is True
    assert result["attempts"] == 3
    assert len(result["elapsed_ms"]) == 3


def test_retries_exhausted(base_url: str, state: AppState) -> None:
    state.sequence = [503, 503, 503, 503]
    result = run_failing({"url": f"{base_url}/sequence", "retries": 2, "delay": 0})
    assert result["attempts"] == 3
    assert "after 3 attempts" in result["msg"]


def test_backoff_waits_longer_each_failure(base_url: str, state: AppState) -> None:
    state.sequence = [503, 503, 200]
    started = datetime.datetime.now()
    result = run({"url": f"{base_url}/sequence", "retries": 2, "delay": 0.1, "backoff": 3})
    waited = (datetime.datetime.now() - started).total_seconds()
    assert result["attempts"] == 3
    # 0.1 s after the first failure, 0.3 s after the second.
    assert waited >= 0.4


def test_success_threshold_needs_consecutive_successes(base_url: str, state: AppState) -> None:
    state.sequence = [200, 503, 200, 200, 503]
    result = run({"url": f"{base_url}/sequence", "retries": 2, "delay": 0, "success_threshold": 2})
    assert result["healthy"] is True
    assert result["attempts"] == 4


def test_success_threshold_gives_up_when_out_of_reach(base_url: str, state: AppState) -> None:
    state.sequence = [200, 503, 200]
    result = run_failing({"url": f"{base_url}/sequence", "delay": 0, "success_threshold": 2})
    # Two attempts allowed (no retries); after the failure a second success is out of reach.
    assert result["attempts"] == 2
    assert result["status"] == 503


# --- unix socket ----------------------------------------------------------------------------------

def test_unix_socket(state: AppState, short_dir: str) -> None:
    path = os.path.join(short_dir, "app.sock")
    with serve_unix(state, path):
        result = run({"url": "http://app.example.com/healthz", "unix_socket": path, "json": {"status": "ok"}})
    assert result["healthy"] is True
    assert state.requests[-1]["headers"]["Host"] == "app.example.com"


def test_missing_unix_socket_is_unhealthy(short_dir: str) -> None:
    path = os.path.join(short_dir, "missing.sock")
    result = run_failing({"url": "http://localhost/healthz", "unix_socket": path})
    assert result["status"] is None
    assert path in result["msg"]


# --- TLS ------------------------------------------------------------------------------------------

def test_https_unknown_ca_fails(state: AppState, pki: dict[str, t.Any]) -> None:
    with serve_tls(state, pki) as url:
        result = run_failing({"url": f"{url}/healthz"})
    assert result["status"] is None
    assert "certificate verify failed" in result["msg"].lower()


def test_https_with_ca_path_reads_certificate(state: AppState, pki: dict[str, t.Any]) -> None:
    with serve_tls(state, pki) as url:
        result = run({"url": f"{url}/healthz", "ca_path": pki["ca"], "cert_min_days": 7, "json": {"status": "ok"}})
    assert result["healthy"] is True
    assert result["cert_days_left"] in (29, 30)
    assert result["cert_not_after"] == pki["server_not_after"].strftime("%Y-%m-%dT%H:%M:%SZ")


def test_https_certificate_expires_too_soon(state: AppState, pki: dict[str, t.Any]) -> None:
    with serve_tls(state, pki) as url:
        result = run_failing({"url": f"{url}/healthz", "ca_path": pki["ca"], "cert_min_days": 60})
    assert result["healthy"] is False
    assert result["status"] == 200
    assert result["cert_days_left"] in (29, 30)
    assert result["mismatches"] == [f"the server certificate expires in {result['cert_days_left']} days, fewer than cert_min_days=60"]


def test_https_without_validation_still_reads_certificate(state: AppState, pki: dict[str, t.Any]) -> None:
    with serve_tls(state, pki) as url:
        result = run({"url": f"{url}/healthz", "validate_certs": False})
    assert result["healthy"] is True
    assert result["cert_days_left"] in (29, 30)


def test_https_error_status_still_reads_certificate(state: AppState, pki: dict[str, t.Any]) -> None:
    with serve_tls(state, pki) as url:
        result = run({"url": f"{url}/down", "ca_path": pki["ca"], "status_code": [503]})
    assert result["cert_days_left"] in (29, 30)


def test_https_client_certificate(state: AppState, pki: dict[str, t.Any]) -> None:
    with serve_tls(state, pki, require_client_cert=True) as url:
        refused = run_failing({"url": f"{url}/healthz", "ca_path": pki["ca"], "timeout": 2})
        accepted = run({
            "url": f"{url}/healthz",
            "ca_path": pki["ca"],
            "client_cert": pki["client_cert"],
            "client_key": pki["client_key"],
        })
    assert refused["status"] is None
    assert accepted["healthy"] is True


def test_https_over_unix_socket(state: AppState, pki: dict[str, t.Any], short_dir: str) -> None:
    path = os.path.join(short_dir, "tls.sock")
    with serve_tls_unix(state, pki, path):
        result = run({"url": "https://localhost/healthz", "unix_socket": path, "ca_path": pki["ca"], "cert_min_days": 7})
    assert result["healthy"] is True
    assert result["cert_days_left"] in (29, 30)
    assert state.requests[-1]["headers"]["Host"] == "localhost"


def test_certificate_from_a_separate_connection(state: AppState, pki: dict[str, t.Any], short_dir: str) -> None:
    """The fallback used when the request's own connection is gone: same settings, one more TLS handshake."""
    params = {"ca_path": pki["ca"], "validate_certs": True, "client_cert": None, "client_key": None, "timeout": 5}
    with serve_tls(state, pki) as url:
        der = _health_client._peer_cert_from_new_connection(dict(params, url=f"{url}/healthz", unix_socket=None))
        assert der_certificate_not_after(der) == pki["server_not_after"]
        # Verification with the system trust store fails: no certificate then, as for the request itself.
        untrusted = dict(params, ca_path=None, url=f"{url}/healthz", unix_socket=None)
        assert _health_client._peer_cert_from_new_connection(untrusted) is None
        unverified = dict(untrusted, validate_certs=False)
        assert der_certificate_not_after(_health_client._peer_cert_from_new_connection(unverified)) == pki["server_not_after"]
    path = os.path.join(short_dir, "tls.sock")
    with serve_tls_unix(state, pki, path):
        der = _health_client._peer_cert_from_new_connection(dict(params, url="https://localhost/", unix_socket=path))
        assert der_certificate_not_after(der) == pki["server_not_after"]


def test_https_unreachable_has_no_certificate_data() -> None:
    url = closed_port_url().replace("http://", "https://")
    result = run_failing({"url": url, "cert_min_days": 7})
    assert result["cert_days_left"] is None
    assert result["cert_not_after"] is None


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "args, message",
    [
        ({"url": "ftp://example.com/"}, "url must be an http:// or https:// URL, got 'ftp://example.com/'"),
        ({"url": "example.com/healthz"}, "url must be an http:// or https:// URL"),
        ({"url": "http://127.0.0.1/", "cert_min_days": 7}, "cert_min_days needs an https:// url"),
        ({"url": "http://127.0.0.1/", "body_regex": "(unclosed"}, "body_regex is not a valid regular expression"),
        ({"url": "http://127.0.0.1/", "status_code": []}, "status_code must list at least one status code"),
        ({"url": "http://127.0.0.1/", "status_code": [200, 42]}, "status_code must hold HTTP status codes from 100 to 599, got [42]"),
        ({"url": "http://127.0.0.1/", "retries": -1}, "retries must be at least 0, got -1"),
        ({"url": "http://127.0.0.1/", "success_threshold": 0}, "success_threshold must be at least 1, got 0"),
        ({"url": "http://127.0.0.1/", "backoff": 0.5}, "backoff must be at least 1, got 0.5"),
        ({"url": "http://127.0.0.1/", "timeout": 0}, "timeout must be more than 0 seconds, got 0.0"),
        ({"url": "http://127.0.0.1/", "ca_path": "no-such-ca.pem"}, "ca_path 'no-such-ca.pem' is not a file"),
        ({"url": "http://127.0.0.1/", "client_key": "client.key"}, "client_key"),
        ({"url": "http://127.0.0.1/", "method": "DELETE"}, "method"),
        ({"url": "http://127.0.0.1/", "status_code": ["ok"]}, "status_code"),
        ({}, "url"),
    ],
)
def test_bad_input(args: dict[str, t.Any], message: str) -> None:
    result = run_failing(args)
    assert message in result["msg"]
    assert "healthy" not in result


def test_client_key_requires_client_cert_message() -> None:
    result = run_failing({"url": "https://127.0.0.1/", "client_key": "client.key"})
    assert result["msg"] == "missing parameter(s) required by 'client_key': client_cert"


# --- connect_to: the host's own web server, no DNS -------------------------------------------------------------------

def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_connect_to_keeps_the_url_host_in_the_host_header(base_url: str) -> None:
    port = _port(base_url)
    result = run({"url": f"http://app.test:{port}/echo", "connect_to": "127.0.0.1"})
    assert result["json"]["host"] == f"app.test:{port}"
    assert result["url"] == f"http://app.test:{port}/echo"


def test_connect_to_with_its_own_port(base_url: str) -> None:
    result = run({"url": "http://app.test/healthz", "connect_to": f"127.0.0.1:{_port(base_url)}"})
    assert result["healthy"] is True


def test_connect_to_trusts_the_served_certificate_and_checks_its_name(state: AppState, pki: dict[str, t.Any]) -> None:
    with serve_tls(state, pki) as url:
        port = _port(url)
        result = run({"url": f"https://localhost:{port}/healthz", "connect_to": "127.0.0.1",
                      "trust_served_certificate": True, "cert_min_days": 7})
        wrong = run_failing({"url": f"https://wrong.test:{port}/healthz", "connect_to": "127.0.0.1",
                             "trust_served_certificate": True})
    assert result["healthy"] is True
    assert result["cert_days_left"] in (29, 30)
    assert "wrong.test" in wrong["msg"] or "hostname" in wrong["msg"].lower()


def test_connect_to_without_trust_still_verifies(state: AppState, pki: dict[str, t.Any]) -> None:
    with serve_tls(state, pki) as url:
        result = run_failing({"url": f"https://localhost:{_port(url)}/healthz", "connect_to": "127.0.0.1"})
    assert "certificate verify failed" in result["msg"].lower()


def test_connect_to_follows_the_redirect_to_https_on_the_same_address(
        base_url: str, state: AppState, pki: dict[str, t.Any]) -> None:
    with serve_tls(state, pki) as tls_url:
        result = run({"url": f"http://localhost:{_port(base_url)}/upgrade?port={_port(tls_url)}",
                      "connect_to": "127.0.0.1", "follow_redirects": "safe", "trust_served_certificate": True,
                      "json": {"status": "ok"}, "cert_min_days": 7})
    assert result["status"] == 200
    assert result["url"] == f"https://localhost:{_port(tls_url)}/healthz"
    assert result["cert_days_left"] in (29, 30)


def test_connect_to_reports_a_redirect_when_not_following(base_url: str) -> None:
    result = run_failing({"url": f"http://localhost:{_port(base_url)}/upgrade?port=1", "connect_to": "127.0.0.1"})
    assert result["status"] == 301
    assert "status 301 is not one of [200]" in result["msg"]


def test_connect_to_does_not_follow_a_redirect_to_another_host(base_url: str) -> None:
    result = run({"url": f"http://localhost:{_port(base_url)}/elsewhere", "connect_to": "127.0.0.1",
                  "follow_redirects": "all", "status_code": [302]})
    assert result["headers"]["location"] == "https://other.example/healthz"


def test_connect_to_rejects_a_bad_port() -> None:
    result = run_failing({"url": "http://app.test/health", "connect_to": "127.0.0.1:http"})
    assert "invalid port" in result["msg"]


def test_connect_to_and_unix_socket_exclude_each_other() -> None:
    result = run_failing({"url": "http://app.test/health", "connect_to": "127.0.0.1", "unix_socket": "/run/x.sock"})
    assert "mutually exclusive" in result["msg"]
