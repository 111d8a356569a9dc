# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""Pure helpers of the flaskops.deploy.health_check module.

Everything here works on plain data (str, int, dict, list, bytes, datetime) and does no I/O,
so that it can be unit tested without a network or mocks. Each ``check_*`` function returns a
list of mismatch strings; an empty list means the check passed.
"""

from __future__ import annotations

import datetime
import json
import re
import typing as t
import urllib.parse

BODY_PREVIEW_CHARS = 512

_MISSING = object()


def truncate(text: str | None, limit: int = BODY_PREVIEW_CHARS) -> str:
    """Return ``text`` cut to ``limit`` characters, with a marker when something was cut."""
    if text is None:
        return ""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


def header_dict(items: t.Iterable[tuple[str, str]]) -> dict[str, str]:
    """Turn response header pairs into a dict with lower-case names; repeated headers are joined with ', '."""
    result: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        if key in result:
            result[key] = f"{result[key]}, {value}"
        else:
            result[key] = value
    return result


def parse_json_body(body: str, content_type: str | None = None) -> tuple[bool, t.Any]:
    """Try to parse a response body as JSON.

    Returns ``(True, document)`` when the body is JSON, ``(False, None)`` otherwise. The body is
    tried when the content type says JSON or when it looks like a JSON object or array.
    """
    stripped = body.strip()
    looks_like_json = stripped[:1] in ("{", "[")
    says_json = bool(content_type) and "json" in content_type.lower()
    if not (looks_like_json or says_json):
        return False, None
    try:
        return True, json.loads(stripped)
    except ValueError:
        return False, None


def flatten_expectations(expected: t.Mapping[str, t.Any], prefix: str = "") -> dict[str, t.Any]:
    """Flatten nested expectation dicts into dotted paths.

    ``{'status': 'ok', 'checks': {'db': 'ok'}}`` and ``{'status': 'ok', 'checks.db': 'ok'}``
    both become ``{'status': 'ok', 'checks.db': 'ok'}``.
    """
    flat: dict[str, t.Any] = {}
    for key, value in expected.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, t.Mapping) and value:
            flat.update(flatten_expectations(value, path))
        else:
            flat[path] = value
    return flat


def lookup_path(document: t.Any, path: str) -> t.Any:
    """Follow a dotted path (``checks.db``, ``items.0.name``) into a JSON document.

    Returns the value, or the private ``_MISSING`` sentinel when the path does not exist.
    A segment that is a number indexes into a list.
    """
    current = document
    for segment in path.split("."):
        if isinstance(current, t.Mapping):
            if segment not in current:
                return _MISSING
            current = current[segment]
        elif isinstance(current, list) and re.fullmatch(r"-?\d+", segment):
            index = int(segment)
            if not -len(current) <= index < len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


def path_exists(document: t.Any, path: str) -> bool:
    return lookup_path(document, path) is not _MISSING


def _json_text(value: t.Any) -> str:
    return json.dumps(value, sort_keys=True)


def values_match(expected: t.Any, actual: t.Any) -> bool:
    """Compare an expected value from the task with a value from the JSON body.

    Values match when they are equal (booleans only equal booleans). An expected string also matches
    the JSON text of a non-string value, so ``'3'`` matches ``3`` and ``'true'`` matches ``true``:
    values that went through templating often arrive as strings.
    """
    if isinstance(expected, str) and not isinstance(actual, str):
        return expected == _json_text(actual)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    return expected == actual


def check_status(status: int | None, expected: t.Sequence[int]) -> list[str]:
    if status in expected:
        return []
    wanted = ", ".join(str(code) for code in expected)
    return [f"status {status} is not one of [{wanted}]"]


def check_body_contains(body: str, needle: str | None) -> list[str]:
    if needle is None or needle in body:
        return []
    return [f"body does not contain {_json_text(needle)}"]


def check_body_regex(body: str, pattern: str | None) -> list[str]:
    if pattern is None or re.search(pattern, body, re.MULTILINE):
        return []
    return [f"body does not match the regular expression {_json_text(pattern)}"]


def check_json(is_json: bool, document: t.Any, expected: t.Mapping[str, t.Any] | None) -> list[str]:
    if not expected:
        return []
    if not is_json:
        return ["body is not JSON, so the json expectations cannot be checked"]
    mismatches = []
    for path, want in flatten_expectations(expected).items():
        got = lookup_path(document, path)
        if got is _MISSING:
            mismatches.append(f"json path {path!r} not found")
        elif not values_match(want, got):
            mismatches.append(f"json path {path!r} is {_json_text(got)}, expected {_json_text(want)}")
    return mismatches


def check_headers(headers: t.Mapping[str, str], expected: t.Mapping[str, t.Any] | None) -> list[str]:
    """Each expected header must be present; a non-empty expected value must be a substring of the value.

    ``headers`` must have lower-case names (see ``header_dict``); expected names are matched
    case-insensitively.
    """
    mismatches = []
    for name, want in (expected or {}).items():
        got = headers.get(name.lower())
        want_text = "" if want is None else str(want)
        if got is None:
            mismatches.append(f"header {name!r} is missing")
        elif want_text and want_text not in got:
            mismatches.append(f"header {name!r} is {_json_text(got)}, expected it to contain {_json_text(want_text)}")
    return mismatches


def check_latency(elapsed_ms: int, max_latency_ms: int | None) -> list[str]:
    if max_latency_ms is None or elapsed_ms <= max_latency_ms:
        return []
    return [f"response took {elapsed_ms} ms, more than max_latency_ms={max_latency_ms}"]


def check_cert_days(days_left: int | None, min_days: int | None) -> list[str]:
    if min_days is None:
        return []
    if days_left is None:
        return ["the server certificate could not be read, so cert_min_days cannot be checked"]
    if days_left < min_days:
        return [f"the server certificate expires in {days_left} days, fewer than cert_min_days={min_days}"]
    return []


def evaluate(observation: t.Mapping[str, t.Any], expectations: t.Mapping[str, t.Any]) -> list[str]:
    """Run every check on one attempt's observation.

    ``observation`` keys: ``error`` (str or None: no response at all), ``status``, ``body``,
    ``is_json``, ``json``, ``headers``, ``elapsed_ms``, ``cert_days_left``.
    ``expectations`` keys: ``status_code``, ``body_contains``, ``body_regex``, ``json``,
    ``expect_headers``, ``max_latency_ms``, ``cert_min_days``.
    """
    if observation.get("error"):
        return [f"no response: {observation['error']}"]
    body = observation.get("body") or ""
    mismatches: list[str] = []
    mismatches += check_status(observation.get("status"), expectations.get("status_code") or [200])
    mismatches += check_body_contains(body, expectations.get("body_contains"))
    mismatches += check_body_regex(body, expectations.get("body_regex"))
    mismatches += check_json(bool(observation.get("is_json")), observation.get("json"), expectations.get("json"))
    mismatches += check_headers(observation.get("headers") or {}, expectations.get("expect_headers"))
    mismatches += check_latency(int(observation.get("elapsed_ms") or 0), expectations.get("max_latency_ms"))
    mismatches += check_cert_days(observation.get("cert_days_left"), expectations.get("cert_min_days"))
    return mismatches


def max_attempts(retries: int, success_threshold: int) -> int:
    """The attempt budget: ``success_threshold`` successes plus ``retries`` failures at most."""
    return success_threshold + retries


def can_still_succeed(attempts_done: int, consecutive_successes: int, retries: int, success_threshold: int) -> bool:
    """Whether the remaining attempts can still reach ``success_threshold`` consecutive successes."""
    remaining = max_attempts(retries, success_threshold) - attempts_done
    return remaining >= success_threshold - consecutive_successes


def next_delay(delay: float, backoff: float, consecutive_failures: int) -> float:
    """Seconds to wait before the next attempt.

    After a success (``consecutive_failures == 0``) the wait is ``delay``; after the n-th failure
    in a row it is ``delay * backoff ** (n - 1)``.
    """
    if consecutive_failures <= 0:
        return delay
    return delay * backoff ** (consecutive_failures - 1)


# --- X.509 expiry, read from the DER bytes of the peer certificate --------------------------------
#
# The target needs no extra Python package for this: only the outer structure of the certificate is
# walked (RFC 5280, section 4.1) up to TBSCertificate.validity.notAfter.

_TAG_SEQUENCE = 0x30
_TAG_INTEGER = 0x02
_TAG_VERSION = 0xA0
_TAG_UTC_TIME = 0x17
_TAG_GENERALIZED_TIME = 0x18


def _der_header(data: bytes, pos: int) -> tuple[int, int, int]:
    """Read the DER element at ``pos``: return (tag, content start, content end)."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER element")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise ValueError("DER element runs past the end of the data")
    return tag, pos, end


def _expect(data: bytes, pos: int, tags: tuple[int, ...], what: str) -> tuple[int, int, int]:
    tag, start, end = _der_header(data, pos)
    if tag not in tags:
        raise ValueError(f"expected {what} in the certificate, found tag 0x{tag:02x}")
    return tag, start, end


def _parse_der_time(tag: int, raw: bytes) -> datetime.datetime:
    text = raw.decode("ascii")
    if not text.endswith("Z"):
        raise ValueError(f"certificate time {text!r} is not in UTC")
    if tag == _TAG_UTC_TIME:
        # RFC 5280 4.1.2.5.1: YY >= 50 means 19YY, else 20YY.
        year = int(text[0:2])
        year += 1900 if year >= 50 else 2000
        rest = text[2:-1]
    else:
        year = int(text[0:4])
        rest = text[4:-1]
    if len(rest) != 10 or not rest.isdigit():
        raise ValueError(f"unsupported certificate time {text!r}")
    return datetime.datetime(
        year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]), int(rest[8:10]),
        tzinfo=datetime.timezone.utc,
    )


def der_certificate_not_after(der: bytes) -> datetime.datetime:
    """Return the notAfter time (timezone-aware, UTC) of a DER encoded X.509 certificate.

    Raises ``ValueError`` when the bytes are not a certificate this parser understands.
    """
    _tag, cert_start, _cert_end = _expect(der, 0, (_TAG_SEQUENCE,), "Certificate")
    _tag, pos, _tbs_end = _expect(der, cert_start, (_TAG_SEQUENCE,), "TBSCertificate")
    tag, _start, end = _der_header(der, pos)
    if tag == _TAG_VERSION:
        pos = end
    _tag, _start, pos = _expect(der, pos, (_TAG_INTEGER,), "serialNumber")
    _tag, _start, pos = _expect(der, pos, (_TAG_SEQUENCE,), "signature")
    _tag, _start, pos = _expect(der, pos, (_TAG_SEQUENCE,), "issuer")
    _tag, validity_start, _validity_end = _expect(der, pos, (_TAG_SEQUENCE,), "validity")
    times = (_TAG_UTC_TIME, _TAG_GENERALIZED_TIME)
    _tag, _start, pos = _expect(der, validity_start, times, "notBefore")
    tag, start, end = _expect(der, pos, times, "notAfter")
    return _parse_der_time(tag, der[start:end])


def days_left(not_after: datetime.datetime, now: datetime.datetime) -> int:
    """Whole days from ``now`` until ``not_after`` (negative once expired)."""
    return (not_after - now).days


def iso8601(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Connecting to another address than the URL's host ------------------------------------------------------------

DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


def url_port(url: str) -> int:
    """The port a URL names, or the default port of its scheme."""
    parts = urllib.parse.urlsplit(url)
    return parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 80)


def split_connect_to(value: str, default_port: int) -> tuple[str, int]:
    """Parse ``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` into an address; the port defaults to ``default_port``.

    Raises ValueError for an empty host or a port that is not a number from 1 to 65535.
    """
    text = value.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"connect_to {value!r} is not [address] or [address]:port")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"connect_to {value!r} names no host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"connect_to {value!r} has an invalid port")
    return host, int(port_text)


def connect_address(url: str, connect_to: str) -> tuple[str, int]:
    """Where to open the connection for ``url`` when ``connect_to`` replaces its host.

    Without a port in ``connect_to`` the URL's own port is kept, so that an ``http://`` URL goes to port 80 and the
    ``https://`` URL it redirects to goes to port 443 of the same address.
    """
    return split_connect_to(connect_to, url_port(url))


def redirect_within(url: str, location: str | None) -> str | None:
    """The absolute URL of a redirect that stays on the host of ``url`` (the scheme and port may change), else None.

    ``http://example.org/health`` -> ``https://example.org/health`` stays on the host; a redirect to another host does
    not, and is reported rather than followed when the connection goes to a fixed address.
    """
    if not location:
        return None
    target = urllib.parse.urljoin(url, location)
    before = urllib.parse.urlsplit(url)
    after = urllib.parse.urlsplit(target)
    if after.scheme.lower() not in DEFAULT_PORTS:
        return None
    if (after.hostname or "").lower() != (before.hostname or "").lower():
        return None
    return target
