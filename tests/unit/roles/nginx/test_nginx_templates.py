"""The nginx role's templates rendered by ansible-core's template engine for several inventories.

nginx itself checks the files in the molecule scenarios (nginx and certbot); these tests pin down what the files
say in the branches a scenario cannot reach cheaply: OCSP stapling (the test CA has no responder), the HTTP/2
directive of newer nginx versions, the modern profile, HSTS flags, rate-limited locations.
"""

from __future__ import annotations

import re

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _nginx_inputs as nginx_inputs
from ansible_collections.flaskops.deploy.plugins.module_utils._nginx_upstream import render_backends
from ansible_collections.flaskops.deploy.tests.unit.roles.nginx.conftest import ROLE

TLS = {
    "nginx_tls_certificate": "/etc/letsencrypt/live/hello/fullchain.pem",
    "nginx_tls_certificate_key": "/etc/letsencrypt/live/hello/privkey.pem",
}
MOZILLA_INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
)


def render(nginx_templar, name="site.conf.j2", facts=None, **overrides):
    return nginx_templar(overrides, facts).template_file(name)


def servers(text):
    """The top-level server { ... } blocks, as text."""
    blocks, depth, start = [], 0, None
    for match in re.finditer(r"[{}]", text):
        if match.group() == "{":
            if depth == 0:
                start = text.rfind("\n", 0, match.start()) + 1
            depth += 1
        else:
            depth -= 1
            assert depth >= 0, "unbalanced braces"
            if depth == 0:
                blocks.append(text[start : match.end()])
    assert depth == 0, "unbalanced braces"
    return [b for b in blocks if b.lstrip().startswith("server")]


def directives(block, name):
    return re.findall(rf"^\s*{re.escape(name)}\s+([^;]*);", block, re.M)


def location(block, path):
    match = re.search(rf"location\s+(?:\S+\s+)?{re.escape(path)}\s*\{{(.*?)\n    \}}", block, re.S)
    assert match, f"no location {path}"
    return match.group(1)


def test_plain_http_serves_the_app_and_the_challenge(nginx_templar):
    text = render(nginx_templar)
    (http,) = servers(text)
    assert directives(http, "listen") == ["80", "[::]:80"]
    assert directives(http, "server_name") == ["hello.test www.hello.test"]
    assert directives(location(http, "/.well-known/acme-challenge/"), "root") == ["/var/www/acme"]
    assert directives(location(http, "/"), "proxy_pass") == ["http://hello_app"]
    assert "Strict-Transport-Security" not in text
    assert "ssl_" not in text


def test_the_upstream_comes_from_the_switchable_file(nginx_templar):
    text = render(nginx_templar, **TLS)
    upstream = re.search(r"upstream hello_app \{(.*?)\}", text, re.S).group(1)
    assert directives(upstream, "include") == ["/etc/nginx/flaskops/hello.upstream.conf"]
    assert directives(upstream, "keepalive") == ["16"]
    assert nginx_templar({"nginx_upstream": "127.0.0.1:8000"}).expr("nginx_upstream") == "127.0.0.1:8000"


def test_tls_redirects_everything_but_the_challenge(nginx_templar):
    http, https = servers(render(nginx_templar, **TLS))
    assert directives(location(http, "/"), "return") == ["301 https://$host$request_uri"]
    assert directives(location(http, "/.well-known/acme-challenge/"), "root") == ["/var/www/acme"]
    assert "proxy_pass" not in http
    assert directives(https, "listen") == ["443 ssl http2", "[::]:443 ssl http2"]
    assert directives(https, "ssl_certificate") == [TLS["nginx_tls_certificate"]]
    assert directives(https, "ssl_certificate_key") == [TLS["nginx_tls_certificate_key"]]


def test_intermediate_profile_is_mozillas(nginx_templar):
    dummy, https = servers(render(nginx_templar, **TLS))
    assert directives(https, "ssl_protocols") == ["TLSv1.2 TLSv1.3"]
    assert directives(https, "ssl_ciphers") == [MOZILLA_INTERMEDIATE_CIPHERS]
    assert directives(https, "ssl_ecdh_curve") == ["X25519:prime256v1:secp384r1"]
    assert directives(https, "ssl_prefer_server_ciphers") == ["off"]
    assert directives(https, "ssl_session_tickets") == ["off"]
    assert directives(https, "ssl_dhparam") == ["/etc/nginx/flaskops-ffdhe2048.pem"]
    assert "ssl_stapling" not in https


def test_modern_profile_is_tls13_only(nginx_templar):
    dummy, https = servers(render(nginx_templar, nginx_tls_profile="modern", **TLS))
    assert directives(https, "ssl_protocols") == ["TLSv1.3"]
    assert directives(https, "ssl_ciphers") == []
    assert directives(https, "ssl_dhparam") == []
    assert directives(https, "ssl_session_tickets") == ["off"]


@pytest.mark.parametrize(
    ("facts", "overrides", "expected"),
    [
        ({"__nginx_ocsp_stapling": True}, {}, {"ssl_stapling": ["on"], "ssl_stapling_verify": [], "resolver": []}),
        (
            {"__nginx_ocsp_stapling": True},
            {"nginx_tls_trusted_certificate": "/etc/letsencrypt/live/hello/chain.pem", "nginx_resolver": "127.0.0.53"},
            {
                "ssl_stapling": ["on"],
                "ssl_stapling_verify": ["on"],
                "ssl_trusted_certificate": ["/etc/letsencrypt/live/hello/chain.pem"],
                "resolver": ["127.0.0.53"],
            },
        ),
        ({"__nginx_ocsp_stapling": False}, {"nginx_resolver": "127.0.0.53"}, {"ssl_stapling": [], "resolver": []}),
    ],
)
def test_ocsp_stapling_only_when_asked(nginx_templar, facts, overrides, expected):
    dummy, https = servers(render(nginx_templar, facts=facts, **TLS, **overrides))
    for name, values in expected.items():
        assert directives(https, name) == values, name


@pytest.mark.parametrize(
    ("certificate", "mode", "uri", "expected"),
    [
        ("", "always", "", False),
        ("/c.pem", "never", "http://ocsp.example/", False),
        ("/c.pem", "always", "", True),
        ("/c.pem", "auto", "", False),
        ("/c.pem", "auto", "http://ocsp.example/\n", True),
    ],
)
def test_stapling_decision(nginx_templar, certificate, mode, uri, expected):
    """The expression of facts.yml's 'Staple OCSP responses only when there is a responder to ask'."""
    templar = nginx_templar(
        {"nginx_tls_certificate": certificate, "nginx_tls_certificate_key": "/k.pem" if certificate else "", "nginx_tls_ocsp_stapling": mode},
        {"__nginx_ocsp_uri": {"stdout": uri}},
    )
    result = templar.expr(
        "(__nginx_tls | bool) and (nginx_tls_ocsp_stapling == 'always' or (nginx_tls_ocsp_stapling == 'auto' "
        "and (__nginx_ocsp_uri.stdout | default('') | trim | length > 0)))"
    )
    assert result is expected


def test_newer_nginx_gets_the_http2_directive(nginx_templar):
    dummy, https = servers(render(nginx_templar, facts={"__nginx_http2_directive": True}, **TLS))
    assert directives(https, "listen") == ["443 ssl", "[::]:443 ssl"]
    assert directives(https, "http2") == ["on"]
    dummy, https = servers(render(nginx_templar, facts={"__nginx_http2_directive": True}, nginx_http2=False, **TLS))
    assert directives(https, "http2") == []


def header_map(block):
    """The add_header directives directly in a block (a server, without its locations, or a location)."""
    return dict(re.findall(r'^ *add_header (\S+) "((?:[^"\\]|\\.)*)" always;', block, re.M))


def server_headers(server):
    """The server-level add_header directives (4 spaces deep), not those of its locations."""
    return dict(re.findall(r'^    add_header (\S+) "((?:[^"\\]|\\.)*)" always;', server, re.M))


def csp(value):
    """A Content-Security-Policy as {directive: [sources]}."""
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in value.split(";")) if part}


FOUR = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "geolocation=(), microphone=(), camera=()",
}


def test_security_headers_and_hsts(nginx_templar):
    """The default profile, compatible: the four headers, a policy that inline scripts and CDNs pass, HSTS."""
    dummy, https = servers(render(nginx_templar, **TLS))
    headers = server_headers(https)
    policy = csp(headers.pop("Content-Security-Policy"))
    assert headers == {**FOUR, "Strict-Transport-Security": "max-age=63072000"}
    assert policy["script-src"] == ["'self'", "'unsafe-inline'", "https:"]
    # A nonce, a hash or 'strict-dynamic' would make browsers ignore 'unsafe-inline' (and https:): inline scripts
    # and CDN scripts of an unchanged app must keep running.
    assert not [s for s in policy["script-src"] if s.startswith(("'nonce-", "'sha")) or s == "'strict-dynamic'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'", "https:"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert not any("http:" in sources for sources in policy.values()), "no plain http: source"
    dummy, https = servers(
        render(
            nginx_templar,
            nginx_hsts_include_subdomains=True,
            nginx_hsts_preload=True,
            nginx_hsts_max_age=31536000,
            nginx_content_security_policy="default-src 'self'",
            **TLS,
        )
    )
    assert 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains; preload" always;' in https
    assert "add_header Content-Security-Policy \"default-src 'self'\" always;" in https
    assert https.count("add_header Content-Security-Policy") == https.count("add_header X-Frame-Options"), "one policy"


def test_strict_profile(nginx_templar):
    """strict: nothing from another origin, no inline script or style, no framing; the same set in every location."""
    dummy, https = servers(render(nginx_templar, nginx_security_headers_profile="strict", nginx_media_url="/media/", **TLS))
    headers = server_headers(https)
    policy = csp(headers.pop("Content-Security-Policy"))
    assert headers == {
        **FOUR,
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Strict-Transport-Security": "max-age=63072000",
    }
    assert policy["default-src"] == ["'none'"]
    for directive in ("script-src", "style-src", "connect-src", "font-src", "form-action"):
        assert policy[directive] == ["'self'"], directive
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert "object-src" not in policy, "falls back to default-src 'none'"
    for path in ("/static/", "/media/"):
        assert header_map(location(https, path)) == server_headers(https), path


def test_custom_profile_sends_only_the_variables(nginx_templar):
    """custom: what nginx_security_headers and nginx_content_security_policy say, as before the profiles."""
    dummy, https = servers(render(nginx_templar, nginx_security_headers_profile="custom", **TLS))
    assert server_headers(https) == {**FOUR, "Strict-Transport-Security": "max-age=63072000"}
    (http,) = servers(render(nginx_templar, nginx_security_headers_profile="custom", nginx_security_headers={}))
    assert server_headers(http) == {}
    (http,) = servers(render(nginx_templar, nginx_security_headers_profile="custom",
                             nginx_security_headers={"X-Frame-Options": "SAMEORIGIN"},
                             nginx_content_security_policy="frame-ancestors 'self'"))
    assert server_headers(http) == {"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "frame-ancestors 'self'"}


@pytest.mark.parametrize("profile", ["strict", "compatible", "custom"])
def test_the_variables_override_each_profile(nginx_templar, profile):
    (http,) = servers(render(
        nginx_templar,
        nginx_security_headers_profile=profile,
        nginx_content_security_policy="default-src 'self'; frame-ancestors 'self'",
        nginx_security_headers={"X-Frame-Options": "SAMEORIGIN", "Permissions-Policy": "", "X-Quoted": 'a "b"'},
    ))
    headers = server_headers(http)
    assert headers["Content-Security-Policy"] == "default-src 'self'; frame-ancestors 'self'"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "Permissions-Policy" not in headers, "an empty value drops the profile's header"
    assert headers["X-Quoted"] == 'a \\"b\\"', "quotes are escaped for nginx"
    assert ("X-Content-Type-Options" in headers) is (profile != "custom"), "the profile's other headers stay"
    assert "Strict-Transport-Security" not in headers, "no HSTS over plain HTTP"


def test_the_profile_is_checked(nginx_templar):
    """The input check (flaskops.deploy.nginx_inputs) accepts exactly the profiles the templates know."""
    profiles = set(nginx_templar().expr("__nginx_security_header_profiles"))
    assert set(nginx_inputs.CHOICES["nginx_security_headers_profile"]) == profiles == {"strict", "compatible", "custom"}
    validate = (ROLE / "tasks" / "validate.yml").read_text(encoding="utf-8")
    assert "flaskops.deploy.nginx_inputs:" in validate
    assert 'nginx_security_headers_profile: "{{ nginx_security_headers_profile }}"' in validate


def test_locations_with_their_own_headers_repeat_all_of_them(nginx_templar):
    """add_header in a location replaces the server's: static and media locations must send the full set."""
    dummy, https = servers(render(nginx_templar, nginx_media_url="/media/", **TLS))
    server_level = sorted(re.findall(r"^    add_header (\S+)", https, re.M))
    for path in ("/static/", "/media/"):
        body = location(https, path)
        assert sorted(re.findall(r"add_header (\S+)", body)) == server_level, path
        assert directives(body, "expires")
    assert directives(location(https, "/media/"), "alias") == ["/srv/hello/shared/uploads/"]


def test_rate_limited_locations(nginx_templar):
    text = render(
        nginx_templar,
        nginx_limit_req_zones=[{"name": "login", "rate": "5r/s"}, {"name": "api", "rate": "30r/m", "size": "1m", "key": "$http_x_api_key"}],
        nginx_limit_req_locations=[
            {"path": "/login", "zone": "login", "burst": 10},
            {"path": "/api/", "zone": "api", "nodelay": False, "modifier": "^~"},
        ],
        **TLS,
    )
    assert "limit_req_zone $hello_limit_req_client zone=hello_limit_login:10m rate=5r/s;" in text
    assert "limit_req_zone $hello_limit_req_key_api zone=hello_limit_api:1m rate=30r/m;" in text
    api_key = re.search(r"map \$hello_limit_req_exempt \$hello_limit_req_key_api \{(.*?)\}", text, re.S).group(1)
    assert directives(api_key, "1") == ['""'] and directives(api_key, "default") == ["$http_x_api_key"]
    dummy, https = servers(text)
    login = location(https, "/login")
    assert sorted(directives(login, "limit_req")) == ["zone=hello_limit_default burst=200 nodelay", "zone=hello_limit_login burst=10 nodelay"]
    assert directives(https, "limit_req_status") == ["429"], "once, at server level"
    assert directives(login, "proxy_pass") == ["http://hello_app"]
    assert "location ^~ /api/ {" in https
    assert sorted(directives(location(https, "/api/"), "limit_req")) == ["zone=hello_limit_api", "zone=hello_limit_default burst=200 nodelay"]


def test_zones_keyed_by_the_allow_list_have_new_names(nginx_templar):
    """nginx refuses a reload (and keeps the old configuration) when an existing zone gets another key: the zones of
    hosts converged before the allow-list (hello_login keyed by $binary_remote_addr) must not keep their names."""
    text = render(nginx_templar)
    names = re.findall(r"^limit_req_zone \S+ zone=([^:]+):", text, re.M)
    assert names == ["hello_limit_default", "hello_limit_login"]
    assert "zone=hello_login:" not in text


def test_every_proxied_location_has_the_default_limit(nginx_templar):
    text = render(nginx_templar, nginx_media_url="/media/", **TLS)
    assert "limit_req_zone $hello_limit_req_client zone=hello_limit_default:10m rate=20r/s;" in text
    http, https = servers(text)
    assert directives(location(https, "/"), "limit_req") == ["zone=hello_limit_default burst=200 nodelay"]
    assert directives(https, "limit_req_status") == ["429"]
    for path in ("/static/", "/media/"):
        assert directives(location(https, path), "limit_req") == [], f"{path}: files nginx serves itself"
    assert "limit_req" not in http, "port 80 only redirects"
    (http,) = servers(render(nginx_templar, nginx_limit_req_default_rate="600r/m", nginx_limit_req_default_burst=50))
    assert directives(location(http, "/"), "limit_req") == ["zone=hello_limit_default burst=50 nodelay"]
    assert "zone=hello_limit_default:10m rate=600r/m;" in render(nginx_templar, nginx_limit_req_default_rate="600r/m")
    # A load balancer limits the clients too.
    dummy, lb = servers(render(nginx_templar, nginx_lb_backends=["web1", "web2"], **FLEET, **TLS))
    assert directives(location(lb, "/"), "limit_req") == ["zone=hello_limit_default burst=200 nodelay"]


def test_the_default_limit_can_be_switched_off(nginx_templar):
    text = render(nginx_templar, nginx_limit_req_default=False,
                  nginx_limit_req_locations=[{"path": "/login", "zone": "login", "burst": 10}])
    assert "zone=hello_limit_default" not in text
    (http,) = servers(text)
    assert directives(location(http, "/"), "limit_req") == []
    assert directives(location(http, "/login"), "limit_req") == ["zone=hello_limit_login burst=10 nodelay"]


def exempt(text):
    geo = re.search(r"geo \$hello_limit_req_exempt \{(.*?)\}", text, re.S).group(1)
    assert directives(geo, "default") == ["0"]
    client = re.search(r"map \$hello_limit_req_exempt \$hello_limit_req_client \{(.*?)\}", text, re.S).group(1)
    assert directives(client, "1") == ['""'], "an exempt address has an empty key, which no zone counts"
    assert directives(client, "default") == ["$binary_remote_addr"]
    return [line.split()[0] for line in geo.strip().splitlines() if line.split()[0] != "default"]


HOST_FACTS = {"ansible_facts": {"all_ipv4_addresses": ["172.17.0.2"], "all_ipv6_addresses": ["fe80::42:acff:fe11:2"]}}


def test_the_host_itself_and_the_allow_list_are_never_limited(nginx_templar):
    assert exempt(render(nginx_templar, **HOST_FACTS)) == ["127.0.0.0/8", "::1", "172.17.0.2", "fe80::42:acff:fe11:2"]
    assert exempt(render(nginx_templar, nginx_limit_req_allow=["198.51.100.0/24", "127.0.0.0/8"], **HOST_FACTS)) == [
        "127.0.0.0/8", "::1", "172.17.0.2", "fe80::42:acff:fe11:2", "198.51.100.0/24"]
    assert exempt(render(nginx_templar, nginx_limit_req_allow_local=False, **HOST_FACTS)) == []
    assert exempt(render(nginx_templar, nginx_limit_req_allow_local=False, nginx_limit_req_allow=["203.0.113.9"])) == ["203.0.113.9"]


def test_behind_a_load_balancer_the_client_address_is_limited(nginx_templar):
    """realip gives the client's address to the limit; the load balancer's own requests (health checks) pass."""
    text = render(nginx_templar, **FLEET)
    assert exempt(text) == ["127.0.0.0/8", "::1", "10.0.0.2"]
    (http,) = servers(text)
    assert directives(http, "set_real_ip_from") == ["10.0.0.2"] and directives(http, "real_ip_recursive") == ["on"]
    # The limit's key is the address realip sets ($binary_remote_addr), not the proxy's ($realip_remote_addr).
    assert "$realip_remote_addr" not in re.search(r"geo \$hello_limit_req_exempt", text).group(0)
    assert directives(location(http, "/"), "limit_req") == ["zone=hello_limit_default burst=200 nodelay"]


def test_rate_limit_inputs_are_checked(nginx_templar):
    """The role's own zone name is the one the input check refuses to nginx_limit_req_zones."""
    validate = (ROLE / "tasks" / "validate.yml").read_text(encoding="utf-8")
    assert 'default_zone: "{{ __nginx_limit_req_default_zone }}"' in validate
    default_zone = nginx_templar().expr("__nginx_limit_req_default_zone")
    assert default_zone == "default"
    values = {name: nginx_templar().expr(name) for name in (
        "nginx_site_name", "nginx_server_names", "nginx_tls_certificate", "nginx_tls_certificate_key",
        "nginx_acme_webroot", "nginx_security_headers_profile", "nginx_tls_profile", "nginx_tls_ocsp_stapling",
        "nginx_limit_req_default_rate", "nginx_limit_req_default_burst", "nginx_limit_req_allow",
        "nginx_limit_req_zones", "nginx_limit_req_locations", "nginx_lb_backends", "nginx_lb_backend_port",
        "nginx_lb_max_fails", "nginx_lb_fail_timeout", "nginx_lb_next_upstream_tries", "nginx_trusted_proxies",
        "nginx_websocket", "nginx_websocket_locations", "nginx_websocket_timeout")}
    assert nginx_inputs.problems(values, default_zone) == [], "the role's defaults pass"
    values["nginx_limit_req_zones"] = [{"name": default_zone, "rate": "1r/s"}]
    assert nginx_inputs.problems(values, default_zone)[0].startswith("nginx_limit_req_zones entries need a name")


def test_limits_follow_the_app_and_its_server(nginx_templar):
    dummy, https = servers(render(nginx_templar, app_max_content_length=1048576, **TLS))
    assert directives(https, "client_max_body_size") == ["1048576"]
    proxied = location(https, "/")
    assert directives(proxied, "proxy_read_timeout") == ["60s"]
    assert directives(proxied, "proxy_send_timeout") == ["60s"]
    dummy, https = servers(render(nginx_templar, nginx_proxy_read_timeout=95, gunicorn_timeout=90, **TLS))
    assert directives(location(https, "/"), "proxy_read_timeout") == ["95s"], "nginx reads its own timeout only"
    for header in ("X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme", "X-Forwarded-Host $host"):
        assert f"proxy_set_header {header};" in proxied


@pytest.mark.parametrize("tls", [{}, TLS])
def test_every_server_hides_the_version(nginx_templar, tls):
    for name in ("site.conf.j2", "default-server.conf.j2"):
        for server in servers(render(nginx_templar, name, **tls)):
            assert directives(server, "server_tokens") == ["off"], name


def test_default_server_rejects_unknown_hosts(nginx_templar):
    (server,) = servers(render(nginx_templar, "default-server.conf.j2", **TLS))
    assert "443 ssl default_server" in directives(server, "listen")
    assert directives(server, "ssl_reject_handshake") == ["on"]
    assert directives(location(server, "/"), "return") == ["444"]
    (server,) = servers(render(nginx_templar, "default-server.conf.j2"))
    assert directives(server, "listen") == ["80 default_server", "[::]:80 default_server"]
    assert "ssl_" not in server


@pytest.mark.parametrize("profile", ["intermediate", "modern"])
def test_default_server_negotiates_with_the_sites_profile(nginx_templar, profile):
    """Versions and ciphers are settled by the listening socket's default server, before SNI picks the site."""
    (default,) = servers(render(nginx_templar, "default-server.conf.j2", nginx_tls_profile=profile, **TLS))
    dummy, site = servers(render(nginx_templar, nginx_tls_profile=profile, **TLS))
    for name in ("ssl_protocols", "ssl_ciphers", "ssl_dhparam", "ssl_ecdh_curve", "ssl_prefer_server_ciphers", "ssl_session_tickets"):
        assert directives(default, name) == directives(site, name), name
    assert directives(default, "ssl_protocols") == (["TLSv1.3"] if profile == "modern" else ["TLSv1.2 TLSv1.3"])


def test_global_settings_do_not_repeat_debians_directives(nginx_templar):
    """Debian 12 and 13 set `gzip on;` at http level, Debian 13 `server_tokens off;` too: repeating one fails nginx -t."""
    text = render(nginx_templar, "flaskops.conf.j2")
    assert directives(text, "server_tokens") == []
    assert directives(text, "gzip") == []
    assert "application/json" in directives(text, "gzip_types")[0]


def test_header_defaults_shared_with_the_iis_role(nginx_templar):
    templar = nginx_templar()
    assert templar.expr("nginx_hsts_max_age") == 63072000
    assert templar.expr("nginx_hsts_include_subdomains") is False
    assert templar.expr("nginx_hsts_preload") is False
    assert templar.expr("nginx_content_security_policy") == ""
    assert set(templar.expr("nginx_security_headers")) == {
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "Permissions-Policy",
    }


FLEET = {
    "groups": {"all": ["lb1", "web1", "web2"], "lb": ["lb1"], "web": ["web1", "web2"]},
    "hostvars": {
        "lb1": {"ansible_default_ipv4": {"address": "10.0.0.2"}},
        "web1": {"ansible_host": "10.0.0.11"},
        "web2": {"flaskops_lb_address": "web2.internal", "ansible_host": "192.0.2.12"},
    },
}


def test_a_load_balancer_lists_its_backends_with_passive_health_checks(nginx_templar):
    templar = nginx_templar({"nginx_lb_backends": ["web1", "web2", "198.51.100.7"], **FLEET})
    backends = templar.expr("__nginx_lb_servers")
    assert backends == [
        {"name": "web1", "address": "10.0.0.11:80"},
        {"name": "web2", "address": "web2.internal:80"},
        {"name": "198.51.100.7", "address": "198.51.100.7:80"},
    ]
    # What flaskops.deploy.nginx_upstream writes from them with the role's defaults.
    text = render_backends(backends, max_fails=templar.expr("nginx_lb_max_fails"),
                           fail_timeout=templar.expr("nginx_lb_fail_timeout"))
    lines = [line for line in text.splitlines() if line.startswith("server ")]
    assert lines == [
        "server 10.0.0.11:80 max_fails=2 fail_timeout=10s; # backend web1",
        "server web2.internal:80 max_fails=2 fail_timeout=10s; # backend web2",
        "server 198.51.100.7:80 max_fails=2 fail_timeout=10s; # backend 198.51.100.7",
    ]


def test_a_load_balancer_retries_elsewhere_and_serves_no_local_files(nginx_templar):
    text = render(nginx_templar, nginx_lb_backends=["web1", "web2"], nginx_media_url="/media/", **FLEET, **TLS)
    http, https = servers(text)
    root = location(https, "/")
    assert directives(root, "proxy_next_upstream") == ["error timeout http_502 http_503 http_504"]
    assert directives(root, "proxy_next_upstream_tries") == ["2"]
    assert directives(root, "proxy_set_header X-Forwarded-Proto") == ["$scheme"]
    assert "alias" not in text
    # A load balancer trusts no proxy in front of itself (its own address is in group lb).
    assert "set_real_ip_from" not in text and "geo $realip_remote_addr" not in text


def test_a_web_host_trusts_forwarded_headers_from_its_load_balancers_only(nginx_templar):
    text = render(nginx_templar, **FLEET)
    (http,) = servers(text)
    assert directives(http, "set_real_ip_from") == ["10.0.0.2"]
    assert directives(http, "real_ip_header") == ["X-Forwarded-For"]
    assert directives(http, "real_ip_recursive") == ["on"]
    geo = re.search(r"geo \$realip_remote_addr \$hello_via_proxy \{(.*?)\}", text, re.S).group(1)
    assert directives(geo, "default") == ["0"] and directives(geo, "10.0.0.2") == ["1"]
    assert 'map "$hello_via_proxy:$http_x_forwarded_proto" $hello_forwarded_proto' in text
    root = location(http, "/")
    assert directives(root, "proxy_set_header X-Forwarded-Proto") == ["$hello_forwarded_proto"]
    assert directives(root, "proxy_set_header X-Forwarded-Port") == ["$hello_forwarded_port"]
    assert directives(root, "proxy_next_upstream") == ["error timeout http_502"]


def test_trusted_proxies_can_be_given_and_site_names_make_valid_variables(nginx_templar):
    text = render(nginx_templar, nginx_site_name="hello-app", nginx_trusted_proxies=["10.1.0.0/16"])
    assert "geo $realip_remote_addr $hello_app_via_proxy" in text
    assert directives(servers(text)[0], "set_real_ip_from") == ["10.1.0.0/16"]


def test_websockets_are_off_by_default_and_keep_alive_stays(nginx_templar):
    dummy, https = servers(render(nginx_templar, **TLS))
    root = location(https, "/")
    assert directives(root, "proxy_set_header")[0] == 'Connection ""'
    assert "Upgrade" not in https
    assert "location /socket.io/" not in https


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, False),
        ({"nginx_app_async_workers": True}, True),
        ({"nginx_app_async_workers": True, "nginx_websocket": False}, False),
        ({"nginx_websocket": True}, True),
        ({"nginx_websocket": "auto", "nginx_app_async_workers": False}, False),
    ],
)
def test_websocket_switch(nginx_templar, overrides, expected):
    assert nginx_templar(overrides).expr("__nginx_websocket") is expected


def test_websockets_pass_the_upgrade_and_keep_alive_for_other_requests(nginx_templar):
    dummy, https = servers(render(nginx_templar, nginx_app_async_workers=True, **TLS))
    for path in ("/", "/socket.io/"):
        headers = directives(location(https, path), "proxy_set_header")
        assert "Upgrade $http_upgrade" in headers
        assert "Connection $flaskops_connection_upgrade" in headers
        assert 'Connection ""' not in headers
    assert directives(location(https, "/"), "proxy_read_timeout") == ["60s"]
    socket_io = location(https, "/socket.io/")
    assert directives(socket_io, "proxy_read_timeout") == ["3600s"]
    assert directives(socket_io, "proxy_send_timeout") == ["3600s"]
    assert directives(socket_io, "proxy_pass") == ["http://hello_app_ws"]
    assert directives(socket_io, "proxy_http_version") == ["1.1"]
    assert directives(location(https, "/"), "proxy_pass") == ["http://hello_app"]


def test_websocket_handshakes_never_reuse_a_kept_alive_upstream_connection(nginx_templar):
    """The WebSocket locations' upstream has the same server file and no keepalive; the other upstream keeps it."""
    text = render(nginx_templar, nginx_app_async_workers=True, **TLS)
    app = re.search(r"upstream hello_app \{(.*?)\}", text, re.S).group(1)
    ws = re.search(r"upstream hello_app_ws \{(.*?)\}", text, re.S).group(1)
    assert directives(ws, "include") == directives(app, "include")
    assert directives(ws, "keepalive") == []
    assert directives(app, "keepalive") == ["16"]
    assert "upstream hello_app_ws" not in render(nginx_templar, **TLS)


def test_websocket_paths_and_timeout_are_variables(nginx_templar):
    (http,) = servers(render(nginx_templar, nginx_websocket=True, nginx_websocket_locations=["/ws/", "/live/"], nginx_websocket_timeout=600))
    for path in ("/ws/", "/live/"):
        assert directives(location(http, path), "proxy_read_timeout") == ["600s"]
    assert "location /socket.io/" not in http


def test_the_connection_map_is_global(nginx_templar):
    """An upgrade request gets `Connection: upgrade`; any other an empty header, so the upstream keep-alive stays."""
    text = render(nginx_templar, "flaskops.conf.j2")
    block = re.search(r"map \$http_upgrade \$flaskops_connection_upgrade \{(.*?)\}", text, re.S).group(1)
    assert directives(block, "default") == ["upgrade"]
    assert directives(block, "''") == ["''"]
