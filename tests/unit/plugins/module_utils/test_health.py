# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the pure helpers behind flaskops.deploy.health_check."""

from __future__ import annotations

import datetime

import pytest

from cryptography.hazmat.primitives import serialization

from ansible_collections.flaskops.deploy.plugins.module_utils import _health as health
from ansible_collections.flaskops.deploy.tests.unit.plugins.support import make_certificate

UTC = datetime.timezone.utc


def test_truncate() -> None:
    assert health.truncate(None) == ""
    assert health.truncate("short") == "short"
    assert health.truncate("x" * 512) == "x" * 512
    assert health.truncate("x" * 600) == "x" * 512 + "... [88 more characters]"
    assert health.truncate("abcdef", 3) == "abc... [3 more characters]"


def test_header_dict_lowercases_and_joins() -> None:
    headers = health.header_dict([("Content-Type", "text/html"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    assert headers == {"content-type": "text/html", "set-cookie": "a=1, b=2"}


@pytest.mark.parametrize(
    "body, content_type, expected",
    [
        ('{"status": "ok"}', "application/json", (True, {"status": "ok"})),
        ('  [1, 2]\n', None, (True, [1, 2])),
        ("42", "application/problem+json", (True, 42)),
        ("42", "text/plain", (False, None)),
        ("{not json", "application/json", (False, None)),
        ("ok", None, (False, None)),
        ("", None, (False, None)),
    ],
)
def test_parse_json_body(body: str, content_type: str | None, expected: tuple) -> None:
    assert health.parse_json_body(body, content_type) == expected


def test_flatten_expectations() -> None:
    assert health.flatten_expectations({"status": "ok", "checks": {"db": "ok", "cache": {"hits": 1}}, "a.b": 2, "empty": {}}) == {
        "status": "ok",
        "checks.db": "ok",
        "checks.cache.hits": 1,
        "a.b": 2,
        "empty": {},
    }


@pytest.mark.parametrize(
    "path, expected",
    [
        ("status", "ok"),
        ("checks.db", "ok"),
        ("items.0.name", "a"),
        ("items.-1.name", "b"),
        ("items.2.name", None),
        ("items.x", None),
        ("checks.db.deeper", None),
        ("missing", None),
        ("nothing", None),
    ],
)
def test_lookup_path(path: str, expected: object) -> None:
    document = {"status": "ok", "checks": {"db": "ok"}, "items": [{"name": "a"}, {"name": "b"}], "nothing": None}
    value = health.lookup_path(document, path)
    if expected is None and path != "nothing":
        assert not health.path_exists(document, path)
    else:
        assert value == expected
        assert health.path_exists(document, path)


@pytest.mark.parametrize(
    "expected, actual, match",
    [
        ("ok", "ok", True),
        ("ok", "OK", False),
        (3, 3, True),
        ("3", 3, True),
        (3, "3", False),
        ("true", True, True),
        (True, True, True),
        (True, 1, False),
        (1, True, False),
        ("null", None, True),
        (None, None, True),
        ("3.5", 3.5, True),
        ([1, 2], [1, 2], True),
        ('{"a": 1}', {"a": 1}, True),
    ],
)
def test_values_match(expected: object, actual: object, match: bool) -> None:
    assert health.values_match(expected, actual) is match


def test_check_status() -> None:
    assert health.check_status(200, [200]) == []
    assert health.check_status(204, [200, 204]) == []
    assert health.check_status(503, [200, 204]) == ["status 503 is not one of [200, 204]"]
    assert health.check_status(None, [200]) == ["status None is not one of [200]"]


def test_body_checks() -> None:
    assert health.check_body_contains("all good", None) == []
    assert health.check_body_contains("all good", "good") == []
    assert health.check_body_contains("all good", "bad") == ['body does not contain "bad"']
    assert health.check_body_regex("a\nversion: 1.2\n", r"^version: \d") == []
    assert health.check_body_regex("a\nversion: x\n", r"^version: \d") == ['body does not match the regular expression "^version: \\\\d"']
    assert health.check_body_regex("anything", None) == []


def test_check_json() -> None:
    document = {"status": "ok", "checks": {"db": "down"}, "workers": 3}
    assert health.check_json(True, document, None) == []
    assert health.check_json(True, document, {}) == []
    assert health.check_json(True, document, {"status": "ok", "workers": "3"}) == []
    assert health.check_json(True, document, {"checks": {"db": "ok"}, "missing": 1}) == [
        "json path 'checks.db' is \"down\", expected \"ok\"",
        "json path 'missing' not found",
    ]
    assert health.check_json(False, None, {"status": "ok"}) == ["body is not JSON, so the json expectations cannot be checked"]


def test_check_headers() -> None:
    headers = {"content-type": "application/json", "x-request-id": "abc"}
    assert health.check_headers(headers, None) == []
    assert health.check_headers(headers, {"Content-Type": "json", "X-Request-Id": "", "x-request-id": None}) == []
    assert health.check_headers(headers, {"X-Frame-Options": "", "Content-Type": "html"}) == [
        "header 'X-Frame-Options' is missing",
        "header 'Content-Type' is \"application/json\", expected it to contain \"html\"",
    ]


def test_check_latency_and_cert_days() -> None:
    assert health.check_latency(100, None) == []
    assert health.check_latency(100, 100) == []
    assert health.check_latency(101, 100) == ["response took 101 ms, more than max_latency_ms=100"]
    assert health.check_cert_days(None, None) == []
    assert health.check_cert_days(10, 10) == []
    assert health.check_cert_days(9, 10) == ["the server certificate expires in 9 days, fewer than cert_min_days=10"]
    assert health.check_cert_days(None, 10) == ["the server certificate could not be read, so cert_min_days cannot be checked"]


def test_evaluate_all_good_and_no_response() -> None:
    observation = {
        "error": None, "status": 200, "body": '{"status": "ok"}', "is_json": True, "json": {"status": "ok"},
        "headers": {"content-type": "application/json"}, "elapsed_ms": 5, "cert_days_left": 40,
    }
    expectations = {
        "status_code": [200], "body_contains": "ok", "body_regex": "status", "json": {"status": "ok"},
        "expect_headers": {"Content-Type": "json"}, "max_latency_ms": 50, "cert_min_days": 30,
    }
    assert health.evaluate(observation, expectations) == []
    assert health.evaluate({"error": "connection refused"}, expectations) == ["no response: connection refused"]


def test_evaluate_collects_every_mismatch() -> None:
    observation = {"status": 500, "body": "boom", "headers": {}, "elapsed_ms": 900, "cert_days_left": 3}
    expectations = {"status_code": [200], "body_contains": "ok", "max_latency_ms": 500, "cert_min_days": 7, "json": {"a": 1}}
    assert health.evaluate(observation, expectations) == [
        "status 500 is not one of [200]",
        'body does not contain "ok"',
        "body is not JSON, so the json expectations cannot be checked",
        "response took 900 ms, more than max_latency_ms=500",
        "the server certificate expires in 3 days, fewer than cert_min_days=7",
    ]


def test_attempt_budget() -> None:
    assert health.max_attempts(0, 1) == 1
    assert health.max_attempts(3, 2) == 5
    # success_threshold=3, no retries: one failure makes it unreachable.
    assert health.can_still_succeed(1, 0, 0, 3) is False
    assert health.can_still_succeed(1, 1, 0, 3) is True
    # one retry allowed: after a failure, three attempts remain for three successes.
    assert health.can_still_succeed(1, 0, 1, 3) is True
    assert health.can_still_succeed(2, 0, 1, 3) is False


@pytest.mark.parametrize(
    "failures, expected",
    [(0, 2.0), (1, 2.0), (2, 3.0), (3, 4.5)],
)
def test_next_delay(failures: int, expected: float) -> None:
    assert health.next_delay(2.0, 1.5, failures) == pytest.approx(expected)


def _der(not_after: datetime.datetime) -> bytes:
    cert, _key = make_certificate("example.test", not_after, server_names=("example.test",))
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    "not_after",
    [
        datetime.datetime(2031, 5, 17, 8, 30, 15, tzinfo=UTC),  # UTCTime
        datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC),  # last UTCTime year
        datetime.datetime(2051, 1, 2, 3, 4, 5, tzinfo=UTC),  # GeneralizedTime
    ],
)
def test_der_certificate_not_after(not_after: datetime.datetime) -> None:
    assert health.der_certificate_not_after(_der(not_after)) == not_after


def test_der_certificate_not_after_rejects_garbage() -> None:
    der = _der(datetime.datetime(2031, 1, 1, tzinfo=UTC))
    for bad in (b"", b"\x30", b"\x02\x01\x00", der[:40], b"\x30\x03\x02\x01\x00"):
        with pytest.raises(ValueError):
            health.der_certificate_not_after(bad)


def test_days_left_and_iso8601() -> None:
    now = datetime.datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert health.days_left(datetime.datetime(2030, 1, 31, 12, 0, 0, tzinfo=UTC), now) == 30
    assert health.days_left(datetime.datetime(2030, 1, 31, 11, 59, 59, tzinfo=UTC), now) == 29
    assert health.days_left(datetime.datetime(2029, 12, 31, 12, 0, 0, tzinfo=UTC), now) == -1
    assert health.iso8601(now) == "2030-01-01T12:00:00Z"


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        ("127.0.0.1", 80, ("127.0.0.1", 80)),
        ("127.0.0.1:8443", 80, ("127.0.0.1", 8443)),
        ("[::1]", 443, ("::1", 443)),
        ("[::1]:8080", 443, ("::1", 8080)),
        ("localhost", 443, ("localhost", 443)),
    ],
)
def test_split_connect_to(value: str, default: int, expected: tuple[str, int]) -> None:
    assert health.split_connect_to(value, default) == expected


@pytest.mark.parametrize("value", ["", ":80", "[::1", "host:0", "host:70000", "host:http", "[::1]x"])
def test_split_connect_to_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        health.split_connect_to(value, 80)


def test_connect_address_keeps_the_port_of_each_url() -> None:
    assert health.connect_address("http://app.test/health", "127.0.0.1") == ("127.0.0.1", 80)
    assert health.connect_address("https://app.test/health", "127.0.0.1") == ("127.0.0.1", 443)
    assert health.connect_address("https://app.test:8443/health", "127.0.0.1") == ("127.0.0.1", 8443)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("https://app.test/health", "https://app.test/health"),
        ("https://APP.test:8443/health", "https://APP.test:8443/health"),
        ("/login", "http://app.test/login"),
        ("https://other.test/health", None),
        ("ftp://app.test/x", None),
        ("", None),
        (None, None),
    ],
)
def test_redirect_within(location: str | None, expected: str | None) -> None:
    assert health.redirect_within("http://app.test/health", location) == expected
