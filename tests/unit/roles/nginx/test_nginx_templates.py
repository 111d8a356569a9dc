"""The nginx role's templates rendered by ansible-core's template engine for several inventories.

nginx itself checks the files in the molecule scenarios (nginx and certbot); these tests pin down what the files
say in the branches a scenario cannot reach cheaply: OCSP stapling (the test CA has no responder), the HTTP/2
directive of newer nginx versions, the modern profile, HSTS flags, rate-limited locations.
"""

from __future__ import annotations

import re

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils._nginx_upstream import render_backends

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


def test_security_headers_and_hsts(nginx_templar):
    dummy, https = servers(render(nginx_templar, **TLS))
    headers = dict(re.findall(r'add_header (\S+) "([^"]*)" always;', https))
    assert headers == {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": "geolocation=(), microphone=(), camera=()",
        "Strict-Transport-Security": "max-age=63072000",
    }
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
    assert "limit_req_zone $binary_remote_addr zone=hello_login:10m rate=5r/s;" in text
    assert "limit_req_zone $http_x_api_key zone=hello_api:1m rate=30r/m;" in text
    dummy, https = servers(text)
    login = location(https, "/login")
    assert directives(login, "limit_req") == ["zone=hello_login burst=10 nodelay"]
    assert directives(login, "limit_req_status") == ["429"]
    assert directives(login, "proxy_pass") == ["http://hello_app"]
    assert "location ^~ /api/ {" in https
    assert directives(location(https, "/api/"), "limit_req") == ["zone=hello_api"]


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
    assert "set_real_ip_from" not in text and "geo " not in text


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
