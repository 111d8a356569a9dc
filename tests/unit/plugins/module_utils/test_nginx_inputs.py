# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the nginx role's input checks (module_utils/_nginx_inputs.py, behind flaskops.deploy.nginx_inputs): the
role's defaults pass, and each check refuses an input naming the variable to change."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _nginx_inputs as ni

ZONE = {"name": "login", "rate": "5r/s"}
LOCATION = {"path": "/login", "zone": "login", "burst": 10}


def inputs(**extra: t.Any) -> dict[str, t.Any]:
    """The role's defaults for an app named hello, with a rate zone and a rate-limited location."""
    base = {
        "nginx_site_name": "hello",
        "nginx_server_names": ["hello.example.com", "*.hello.example.com"],
        "nginx_tls_certificate": "",
        "nginx_tls_certificate_key": "",
        "nginx_acme_webroot": "/var/www/acme",
        "nginx_security_headers_profile": "compatible",
        "nginx_tls_profile": "intermediate",
        "nginx_tls_ocsp_stapling": "auto",
        "nginx_limit_req_default_rate": "20r/s",
        "nginx_limit_req_default_burst": 200,
        "nginx_limit_req_allow": ["127.0.0.1", "10.0.0.0/8", "::1"],
        "nginx_limit_req_zones": [ZONE],
        "nginx_limit_req_locations": [LOCATION, {"path": "~ ^/api/", "modifier": "~", "zone": "login"}],
        "nginx_lb_backends": ["web1", "10.0.0.2:8080"],
        "nginx_lb_backend_port": 80,
        "nginx_lb_max_fails": 2,
        "nginx_lb_fail_timeout": 10,
        "nginx_lb_next_upstream_tries": 2,
        "nginx_trusted_proxies": ["192.168.1.10"],
        "nginx_websocket": "auto",
        "nginx_websocket_locations": ["/socket.io/"],
        "nginx_websocket_timeout": 3600,
    }
    base.update(extra)
    return base


def test_the_defaults_and_a_full_example_pass():
    assert ni.problems(inputs()) == []
    assert ni.problems(inputs(nginx_websocket=True, nginx_websocket_locations=[], nginx_limit_req_zones=[],
                              nginx_limit_req_locations=[], nginx_lb_backends=[])) == []


@pytest.mark.parametrize("extra, start", [
    ({"nginx_site_name": ""}, "nginx_site_name (default: app_name) must be a file name ([A-Za-z0-9._-]), got '': set app_name"),
    ({"nginx_site_name": ".hidden"}, "nginx_site_name (default: app_name) must be a file name"),
    ({"nginx_site_name": "hello\n"}, "nginx_site_name (default: app_name) must be a file name"),
    ({"nginx_server_names": []}, "nginx_server_names (default: app_domains) must be a non-empty list"),
    ({"nginx_server_names": ["Hello.example.com"]}, "nginx_server_names (default: app_domains) must be a non-empty list"),
    ({"nginx_server_names": ["a..b"]}, "nginx_server_names (default: app_domains)"),
    ({"nginx_tls_certificate": "/etc/ssl/x.pem"}, "nginx_tls_certificate and nginx_tls_certificate_key must be set together"),
    ({"nginx_tls_certificate_key": "/etc/ssl/x.key"}, "nginx_tls_certificate and nginx_tls_certificate_key"),
    ({"nginx_acme_webroot": "var/www"}, "nginx_acme_webroot must be an absolute path, got 'var/www'"),
    ({"nginx_tls_profile": "old"}, "nginx_tls_profile must be intermediate or modern, got 'old'"),
    ({"nginx_tls_ocsp_stapling": "yes"}, "nginx_tls_ocsp_stapling must be auto, always or never"),
    ({"nginx_security_headers_profile": "none"}, "nginx_security_headers_profile must be strict, compatible or custom"),
    ({"nginx_limit_req_default_rate": "20/s"}, "nginx_limit_req_default_rate must be a rate like 20r/s"),
    ({"nginx_limit_req_default_burst": -1}, "nginx_limit_req_default_burst must be a count, got -1"),
    ({"nginx_limit_req_allow": ["example.com"]}, "nginx_limit_req_allow must list IP addresses or CIDRs, got ['example.com']"),
    ({"nginx_limit_req_zones": [ZONE, {"name": "default", "rate": "1r/s"}]}, "nginx_limit_req_zones entries need a name"),
    ({"nginx_limit_req_zones": [ZONE, {"name": "x", "rate": "fast"}]}, "nginx_limit_req_zones entries need a name"),
    ({"nginx_limit_req_zones": [ZONE, {"name": "x", "rate": "1r/s", "size": "10g"}]}, "nginx_limit_req_zones entries"),
    ({"nginx_limit_req_locations": [{"path": "/a", "zone": "other"}]}, "nginx_limit_req_locations entries need a path"),
    ({"nginx_limit_req_locations": [{"path": "a", "zone": "login"}]}, "nginx_limit_req_locations entries need a path"),
    ({"nginx_limit_req_locations": [{"path": "/a", "zone": "login", "modifier": "!"}]}, "nginx_limit_req_locations"),
    ({"nginx_limit_req_locations": [{"path": "/a", "zone": "login", "burst": "many"}]}, "nginx_limit_req_locations"),
    ({"nginx_lb_backends": ["web1", "web1"]}, "nginx_lb_backends must be distinct host names or addresses"),
    ({"nginx_lb_backends": ["web 1"]}, "nginx_lb_backends must be distinct host names or addresses"),
    ({"nginx_lb_backend_port": 70000}, "nginx_lb_backend_port must be a port (1-65535), got 70000"),
    ({"nginx_lb_fail_timeout": 0}, "nginx_lb_fail_timeout must be a count of at least 1, got 0"),
    ({"nginx_lb_max_fails": -2}, "nginx_lb_max_fails must be a count of at least 0, got -2"),
    ({"nginx_lb_next_upstream_tries": "x"}, "nginx_lb_next_upstream_tries must be a count of at least 0"),
    ({"nginx_trusted_proxies": ["lb.example.com"]}, "nginx_trusted_proxies must list IP addresses or CIDRs"),
    ({"nginx_websocket": "maybe"}, "nginx_websocket must be auto, true or false, got 'maybe'"),
    ({"nginx_websocket_locations": ["/"]}, "nginx_websocket_locations paths start with / and are neither / nor"),
    ({"nginx_websocket_locations": ["/login"]}, "nginx_websocket_locations paths start with /"),
    ({"nginx_websocket_locations": ["ws"]}, "nginx_websocket_locations paths start with /"),
    ({"nginx_websocket_timeout": 0}, "nginx_websocket_timeout must be a number of seconds, got 0"),
])
def test_each_check_refuses_naming_the_variable(extra, start):
    found = ni.problems(inputs(**extra))
    assert len(found) == 1 and found[0].startswith(start), found


def test_every_problem_at_once():
    found = ni.problems(inputs(nginx_site_name="", nginx_server_names=[], nginx_websocket="x", nginx_lb_backend_port=0))
    assert [problem.split(" ")[0] for problem in found] == [
        "nginx_site_name", "nginx_server_names", "nginx_lb_backend_port", "nginx_websocket"]


def test_the_role_zone_name_is_the_one_refused():
    zone = {"name": "default", "rate": "1r/s"}
    assert ni.problems(inputs(nginx_limit_req_zones=[ZONE, zone])) != []
    assert ni.problems(inputs(nginx_limit_req_zones=[ZONE, zone]), default_zone="site") == []
