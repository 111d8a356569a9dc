# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The checks of the nginx role's inputs (flaskops.deploy.nginx_inputs), as pure functions.

``problems(values)`` takes the role's variables by their names and returns one message per problem, each naming the
inventory variable to change; the action plugin fails with all of them at once.
"""

from __future__ import annotations

import re
import typing as t

SITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# A DNS name in lower case, optionally a wildcard's first label (*.example.com).
SERVER_NAME = re.compile(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
RATE = re.compile(r"[0-9]+r/[sm]")
ADDRESS = re.compile(r"[0-9A-Fa-f:.]+(/[0-9]{1,3})?")
ZONE_NAME = re.compile(r"[A-Za-z0-9_]+")
ZONE_SIZE = re.compile(r"[0-9]+[km]?")
BACKEND = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._:-]*[A-Za-z0-9])?")
LOCATION_MODIFIERS = ("", "=", "~", "~*", "^~")
WEBSOCKET_SWITCH = ("auto", "true", "false", "yes", "no")
CHOICES = {
    "nginx_security_headers_profile": ("strict", "compatible", "custom"),
    "nginx_tls_profile": ("intermediate", "modern"),
    "nginx_tls_ocsp_stapling": ("auto", "always", "never"),
}


def _matches(pattern: re.Pattern, value: t.Any) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _count(value: t.Any, minimum: int, maximum: int | None = None) -> bool:
    """An integer (or its digits) within [minimum, maximum]."""
    if isinstance(value, bool):
        return False
    try:
        number = int(str(value).strip())
    except ValueError:
        return False
    return number >= minimum and (maximum is None or number <= maximum)


def _zone_ok(zone: t.Any, default_zone: str) -> bool:
    """A rate zone: a name of its own (not the role's zone), a rate, an optional size."""
    if not isinstance(zone, dict) or zone.get("name") == default_zone:
        return False
    return all((_matches(ZONE_NAME, zone.get("name")), _matches(RATE, zone.get("rate")),
                _matches(ZONE_SIZE, str(zone.get("size", "10m")))))


def _location_ok(location: t.Any, zone_names: list[str]) -> bool:
    """A rate-limited location: a path (absolute, or a regex with ~ or ~*), a known modifier, a zone, a burst."""
    if not isinstance(location, dict):
        return False
    path = location.get("path")
    modifier = location.get("modifier") or ""
    if not isinstance(path, str) or not path or modifier not in LOCATION_MODIFIERS:
        return False
    return all((modifier.startswith("~") or path.startswith("/"), location.get("zone") in zone_names,
                _count(location.get("burst", 0), 0)))


def _site(values: dict[str, t.Any]) -> list[str]:
    problems = []
    if not _matches(SITE_NAME, values["nginx_site_name"]):
        problems.append("nginx_site_name (default: app_name) must be a file name ([A-Za-z0-9._-]), got '%s': set app_name "
                        "(or nginx_site_name)" % values["nginx_site_name"])
    names = values["nginx_server_names"]
    bad = [name for name in names if not _matches(SERVER_NAME, name)]
    if not names or bad:
        problems.append("nginx_server_names (default: app_domains) must be a non-empty list of valid lower-case domain "
                        "names, got %s%s" % (names, " (not valid: %s)" % bad if bad else ""))
    return problems


def _tls(values: dict[str, t.Any]) -> list[str]:
    problems = []
    if bool(values["nginx_tls_certificate"]) != bool(values["nginx_tls_certificate_key"]):
        problems.append("nginx_tls_certificate and nginx_tls_certificate_key must be set together")
    if not str(values["nginx_acme_webroot"]).startswith("/"):
        problems.append("nginx_acme_webroot must be an absolute path, got '%s'" % values["nginx_acme_webroot"])
    for name, choices in CHOICES.items():
        if values[name] not in choices:
            problems.append("%s must be %s or %s, got '%s'" % (name, ", ".join(choices[:-1]), choices[-1], values[name]))
    return problems


def _rate_limits(values: dict[str, t.Any], default_zone: str) -> list[str]:
    problems = []
    if not _matches(RATE, values["nginx_limit_req_default_rate"]):
        problems.append("nginx_limit_req_default_rate must be a rate like 20r/s or 600r/m, got '%s'"
                        % values["nginx_limit_req_default_rate"])
    if not _count(values["nginx_limit_req_default_burst"], 0):
        problems.append("nginx_limit_req_default_burst must be a count, got %s" % values["nginx_limit_req_default_burst"])
    bad = [item for item in values["nginx_limit_req_allow"] if not _matches(ADDRESS, item)]
    if bad:
        problems.append("nginx_limit_req_allow must list IP addresses or CIDRs, got %s" % bad)

    zones = values["nginx_limit_req_zones"]
    for zone in zones:
        if not _zone_ok(zone, default_zone):
            problems.append("nginx_limit_req_zones entries need a name ([A-Za-z0-9_]+, not '%s'), a rate like 5r/s or "
                            "30r/m and an optional size like 10m, got %s" % (default_zone, zone))
    zone_names = [zone.get("name") for zone in zones if isinstance(zone, dict)]
    for location in values["nginx_limit_req_locations"]:
        if not _location_ok(location, zone_names):
            problems.append("nginx_limit_req_locations entries need a path starting with / (or a regex with modifier ~ "
                            "or ~*), a zone defined in nginx_limit_req_zones (%s) and an optional integer burst, got %s"
                            % (zone_names, location))
    return problems


def _load_balancer(values: dict[str, t.Any]) -> list[str]:
    problems = []
    backends = values["nginx_lb_backends"]
    bad = [item for item in backends if not _matches(BACKEND, item)]
    if bad or len(set(backends)) != len(backends):
        problems.append("nginx_lb_backends must be distinct host names or addresses, got %s" % backends)
    if not _count(values["nginx_lb_backend_port"], 1, 65535):
        problems.append("nginx_lb_backend_port must be a port (1-65535), got %s" % values["nginx_lb_backend_port"])
    for name, minimum in (("nginx_lb_max_fails", 0), ("nginx_lb_fail_timeout", 1), ("nginx_lb_next_upstream_tries", 0)):
        if not _count(values[name], minimum):
            problems.append("%s must be a count of at least %d, got %s" % (name, minimum, values[name]))
    bad = [item for item in values["nginx_trusted_proxies"] if not _matches(ADDRESS, item)]
    if bad:
        problems.append("nginx_trusted_proxies must list IP addresses or CIDRs, got %s" % bad)
    return problems


def _websocket(values: dict[str, t.Any]) -> list[str]:
    problems = []
    if str(values["nginx_websocket"]).lower() not in WEBSOCKET_SWITCH:
        problems.append("nginx_websocket must be auto, true or false, got '%s'" % values["nginx_websocket"])
    limited = ["/"] + [item.get("path") for item in values["nginx_limit_req_locations"] if isinstance(item, dict)]
    paths = values["nginx_websocket_locations"]
    if any(not str(path).startswith("/") or path in limited for path in paths):
        problems.append("nginx_websocket_locations paths start with / and are neither / nor a path of "
                        "nginx_limit_req_locations, got %s" % paths)
    if not _count(values["nginx_websocket_timeout"], 1):
        problems.append("nginx_websocket_timeout must be a number of seconds, got %s" % values["nginx_websocket_timeout"])
    return problems


def problems(values: dict[str, t.Any], default_zone: str = "default") -> list[str]:
    """Every problem of the nginx role's inputs, one message each naming the variable (empty when none).

    ``values`` holds the role's variables by name; ``default_zone`` is the name of the role's own rate zone, which
    nginx_limit_req_zones may not take."""
    checks = (_site(values), _tls(values), _rate_limits(values, default_zone), _load_balancer(values), _websocket(values))
    return [problem for found in checks for problem in found]
