"""web.config.j2 rendered by ansible-core's template engine for several inventories, then read as XML.

What IIS would do with the file cannot be checked here (no Windows host); these tests check what the file
says: well-formed XML, rules in the right order with the right targets, headers with the right values,
request limits, and an unknown-host rule that lists exactly the domains (and, applied with Python's re the
way URL Rewrite applies it, lets exactly those host names through).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

NGINX_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "geolocation=(), microphone=(), camera=()",
}


def render(role_templar, **overrides):
    text = role_templar(overrides).template_file("web.config.j2")
    return text, ET.fromstring(text.encode("utf-8"))


def rules(root):
    return root.findall("./system.webServer/rewrite/rules/rule")


def rule(root, name):
    found = [r for r in rules(root) if r.get("name") == name]
    return found[0] if found else None


def custom_headers(root):
    return {a.get("name"): a.get("value") for a in root.findall("./system.webServer/httpProtocol/customHeaders/add")}


def hsts(root):
    outbound = root.find("./system.webServer/rewrite/outboundRules/rule[@name='flaskops-hsts']")
    return None if outbound is None else outbound.find("action").get("value")


def host_allowed(root, host):
    """Apply the unknown-host rule's conditions as URL Rewrite does (MatchAll, negate, ignoreCase)."""
    conditions = rule(root, "flaskops-reject-unknown-host").findall("./conditions/add")
    rejected = all(
        (re.search(c.get("pattern"), host, re.IGNORECASE) is None) == (c.get("negate") == "true")
        for c in conditions
    )
    return not rejected


VARIANTS = {
    "one domain": {},
    "several domains": {"app_domains": ["example.com", "www.example.com", "api.example.org"]},
    "csp on": {"iis_content_security_policy": "default-src 'self'; img-src 'self' data:"},
    "hsts preload": {"iis_hsts_preload": True, "iis_hsts_include_subdomains": True},
    "iis port": {"iis_waitress_port": 8123},
    "another role's port is not read": {"waitress_port": 9001},
    "bigger body": {"app_max_content_length": 104857600},
    "no tls": {"app_tls_mode": "none", "iis_certificate_thumbprint": ""},
    "custom response": {"iis_unknown_host_action": "CustomResponse", "iis_unknown_host_status_code": 421},
    "no static": {"app_static_url": ""},
    "https port": {"iis_https_port": 8443},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_well_formed_with_header_comment(role_templar, variant):
    text, root = render(role_templar, **VARIANTS[variant])
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<!--')
    assert "Ansible managed" in text.split("<configuration>")[0]
    assert root.tag == "configuration"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rules_order_and_proxy_target(role_templar, variant):
    overrides = VARIANTS[variant]
    _text, root = render(role_templar, **overrides)
    names = [r.get("name") for r in rules(root)]
    tls = overrides.get("app_tls_mode", "provided") == "provided"
    static = overrides.get("app_static_url", "/static/") != ""
    expected = ["flaskops-reject-unknown-host"]
    expected += ["flaskops-https-redirect"] if tls else []
    expected += ["flaskops-static"] if static else []
    expected += ["flaskops-waitress"]
    assert names == expected
    assert all(r.get("stopProcessing") == "true" for r in rules(root))

    port = overrides.get("iis_waitress_port", 8080)
    action = rule(root, "flaskops-waitress").find("action")
    assert action.get("type") == "Rewrite"
    assert action.get("url") == "http://127.0.0.1:%d{UNENCODED_URL}" % port
    assert action.get("appendQueryString") == "false"
    proto = rule(root, "flaskops-waitress").find("./serverVariables/set[@name='HTTP_X_FORWARDED_PROTO']")
    assert proto.get("value") == ("https" if tls else "http")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_unknown_host_rule_lists_exactly_the_domains(role_templar, variant):
    overrides = VARIANTS[variant]
    domains = overrides.get("app_domains", ["example.com"])
    _text, root = render(role_templar, **overrides)
    reject = rule(root, "flaskops-reject-unknown-host")
    conditions = reject.findall("./conditions/add")
    assert reject.find("conditions").get("logicalGrouping") == "MatchAll"
    assert all(c.get("input") == "{HTTP_HOST}" and c.get("negate") == "true" for c in conditions)
    assert [c.get("pattern") for c in conditions] == [
        "^%s(:[0-9]+)?$" % re.escape(d).replace("\\-", "-") for d in domains
    ]
    action = reject.find("action")
    if overrides.get("iis_unknown_host_action") == "CustomResponse":
        assert action.get("type") == "CustomResponse"
        assert action.get("statusCode") == str(overrides["iis_unknown_host_status_code"])
    else:
        assert action.get("type") == "AbortRequest"


def test_unknown_host_rule_lets_exactly_the_domains_through(role_templar):
    _text, root = render(role_templar, app_domains=["example.com", "www.example.com"])
    for host in ["example.com", "EXAMPLE.com", "www.example.com", "example.com:443", "www.example.com:80"]:
        assert host_allowed(root, host), host
    for host in ["", "evil.com", "example.com.evil.com", "xexample.com", "wwwxexample.com", "api.example.com",
                 "example.com:", "example.com:80:80", "192.0.2.10", "exampleXcom"]:
        assert not host_allowed(root, host), host


def test_https_redirect(role_templar):
    _text, root = render(role_templar)
    redirect = rule(root, "flaskops-https-redirect")
    conditions = redirect.findall("./conditions/add")
    assert [(c.get("input"), c.get("pattern")) for c in conditions] == [
        ("{HTTPS}", "^OFF$"),
        ("{HTTP_HOST}", "^([^:]+)(:[0-9]+)?$"),
    ]
    action = redirect.find("action")
    assert action.get("type") == "Redirect"
    assert action.get("redirectType") == "Permanent"
    assert action.get("url") == "https://{C:1}{REQUEST_URI}"
    assert action.get("appendQueryString") == "false"
    # {C:1} is the host without the port the client used for HTTP.
    assert re.match(conditions[1].get("pattern"), "example.com:80").group(1) == "example.com"


def test_https_redirect_to_another_port(role_templar):
    _text, root = render(role_templar, **VARIANTS["https port"])
    assert rule(root, "flaskops-https-redirect").find("action").get("url") == "https://{C:1}:8443{REQUEST_URI}"


def test_static_url_is_not_proxied(role_templar):
    _text, root = render(role_templar)
    static = rule(root, "flaskops-static")
    assert static.find("action").get("type") == "None"
    pattern = static.find("match").get("url")
    # URL Rewrite matches the path without its leading slash.
    assert re.search(pattern, "static/css/app.css")
    assert re.search(pattern, "static")
    assert not re.search(pattern, "staticfiles/x")
    assert not re.search(pattern, "api/static/x")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_security_headers(role_templar, variant):
    overrides = VARIANTS[variant]
    _text, root = render(role_templar, **overrides)
    expected = dict(NGINX_HEADERS)
    if overrides.get("iis_content_security_policy"):
        expected["Content-Security-Policy"] = overrides["iis_content_security_policy"]
    assert custom_headers(root) == expected
    removed = [r.get("name") for r in root.findall("./system.webServer/httpProtocol/customHeaders/remove")]
    assert "X-Powered-By" in removed
    assert set(expected) <= set(removed)  # replace, never duplicate, a header a parent config sets


def test_header_values_are_escaped(role_templar):
    csp = """default-src 'self'; script-src "nonce-<x>" & more"""
    _text, root = render(role_templar, iis_content_security_policy=csp,
                         iis_security_headers={"X-Test": '<a href="x">&</a>'})
    headers = custom_headers(root)
    assert headers["Content-Security-Policy"] == csp
    assert headers["X-Test"] == '<a href="x">&</a>'


@pytest.mark.parametrize(
    "overrides, value",
    [
        ({}, "max-age=63072000"),
        ({"iis_hsts_include_subdomains": True}, "max-age=63072000; includeSubDomains"),
        (VARIANTS["hsts preload"], "max-age=63072000; includeSubDomains; preload"),
        ({"iis_hsts_preload": True}, "max-age=63072000; preload"),
        ({"iis_hsts_max_age": 300}, "max-age=300"),
        ({"iis_hsts_max_age": 0}, None),
        (VARIANTS["no tls"], None),
    ],
)
def test_hsts(role_templar, overrides, value):
    _text, root = render(role_templar, **overrides)
    assert hsts(root) == value
    if value:
        condition = root.find("./system.webServer/rewrite/outboundRules/rule/conditions/add")
        assert (condition.get("input"), condition.get("pattern")) == ("{HTTPS}", "^ON$")
    assert "Strict-Transport-Security" not in custom_headers(root)  # never on plain HTTP


@pytest.mark.parametrize("size", [16777216, 104857600, 1, 4294967295])
def test_request_limit(role_templar, size):
    _text, root = render(role_templar, app_max_content_length=size)
    limits = root.find("./system.webServer/security/requestFiltering/requestLimits")
    assert limits.get("maxAllowedContentLength") == str(size)


def test_server_header_removal_can_be_turned_off(role_templar):
    _text, root = render(role_templar)
    assert root.find("./system.webServer/security/requestFiltering").get("removeServerHeader") == "true"
    _text, root = render(role_templar, iis_remove_server_header=False)
    assert root.find("./system.webServer/security/requestFiltering").get("removeServerHeader") is None


def test_custom_error_page(role_templar):
    _text, root = render(role_templar, iis_error_status_codes=[500, 503])
    errors = root.find("./system.webServer/httpErrors")
    assert errors.get("errorMode") == "Custom"
    assert errors.get("existingResponse") == "Auto"
    pages = {e.get("statusCode"): (e.get("path"), e.get("responseMode")) for e in errors.findall("error")}
    assert pages == {"500": ("errors\\500.html", "File"), "503": ("errors\\500.html", "File")}
    _text, root = render(role_templar, iis_http_errors_existing_response="Replace")
    assert root.find("./system.webServer/httpErrors").get("existingResponse") == "Replace"


def test_error_page_template(role_templar):
    text = role_templar({}).template_file("500.html.j2")
    assert text.startswith("<!DOCTYPE html>\n<!--")
    assert "Ansible managed" in text
    assert "flaskops-error-page" in text
