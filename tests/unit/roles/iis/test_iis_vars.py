"""The role's derived values (vars/main.yml), evaluated by ansible-core on the inputs and module results
they are made from: what appcmd would be asked to change, which releases would be deleted, which bindings
IIS would get, which certificate names cover which domains.
"""

from __future__ import annotations

import re

import pytest

PROXY_GOOD = """<system.webServer>
  <proxy enabled="true" httpVersion="PassThrough" keepAlive="true" timeout="00:02:00" reverseRewriteHostInResponseHeaders="false"
 preserveHostHeader="true" includePortInXForwardedFor="false" xForwardedForHeaderName="X-Forwarded-For">
    <cache enabled="true" />
  </proxy>
</system.webServer>
"""

PROXY_FRESH = """<system.webServer>
  <proxy enabled="false" httpVersion="PassThrough" reverseRewriteHostInResponseHeaders="true" preserveHostHeader="false"
 includePortInXForwardedFor="true">
    <cache enabled="true" />
  </proxy>
</system.webServer>
"""


@pytest.mark.parametrize(
    "stdout, drift",
    [
        (PROXY_GOOD, []),
        (PROXY_FRESH, ["enabled", "preserveHostHeader", "reverseRewriteHostInResponseHeaders", "includePortInXForwardedFor"]),
        (PROXY_GOOD.replace('enabled="true" httpVersion', 'enabled="false" httpVersion'), ["enabled"]),
        ("", ["enabled", "preserveHostHeader", "reverseRewriteHostInResponseHeaders", "includePortInXForwardedFor"]),
    ],
    ids=["converged", "fresh install", "proxy off (cache still on)", "no output"],
)
def test_proxy_drift(role_templar, stdout, drift):
    t = role_templar({"__iis_proxy_config": {"stdout": stdout}})
    assert t.var("__iis_proxy_drift") == drift


def test_proxy_arguments_write_what_the_drift_reads(role_templar):
    t = role_templar({})
    assert t.var("__iis_proxy_arguments") == [
        "/enabled:true",
        "/preserveHostHeader:true",
        "/reverseRewriteHostInResponseHeaders:false",
        "/includePortInXForwardedFor:false",
    ]
    assert t.var("__iis_appcmd") == "C:\\Windows\\System32\\inetsrv\\appcmd.exe"
    t = role_templar({"ansible_facts": {"env": {"SystemRoot": "D:\\WINDOWS"}}})
    assert t.var("__iis_appcmd") == "D:\\WINDOWS\\System32\\inetsrv\\appcmd.exe"


@pytest.mark.parametrize(
    "stdout, missing",
    [
        ("<system.webServer>\n  <rewrite>\n    <allowedServerVariables />\n  </rewrite>\n</system.webServer>\n",
         ["HTTP_X_FORWARDED_PROTO"]),
        ('<system.webServer><rewrite><allowedServerVariables><add name="HTTP_X_FORWARDED_PROTO" />'
         "</allowedServerVariables></rewrite></system.webServer>", []),
        ('<add name="HTTP_X_FORWARDED_HOST" />', ["HTTP_X_FORWARDED_PROTO"]),
    ],
)
def test_server_variables_missing(role_templar, stdout, missing):
    t = role_templar({"__iis_server_variables_config": {"stdout": stdout}})
    assert t.var("__iis_server_variables_missing") == missing


def test_bindings(role_templar):
    t = role_templar({"app_domains": ["Example.com", "www.example.com"],
                      "__iis_certificate_thumbprint": "AB" * 20})
    bindings = t.var("__iis_bindings")
    assert [(b["protocol"], b["hostname"], b["port"], b["ip"]) for b in bindings] == [
        ("http", "example.com", 80, "*"),
        ("http", "www.example.com", 80, "*"),
        ("https", "example.com", 443, "*"),
        ("https", "www.example.com", 443, "*"),
    ]
    for https in bindings[2:]:
        assert https["use_sni"] is True
        assert https["certificate_hash"] == "AB" * 20
        assert https["certificate_store_name"] == "My"


def test_bindings_without_tls_or_without_a_certificate(role_templar):
    t = role_templar({"app_tls_mode": "none", "__iis_certificate_thumbprint": "AB" * 20})
    assert {b["protocol"] for b in t.var("__iis_bindings")} == {"http"}
    # check mode before the PFX was ever imported: no thumbprint yet, so no HTTPS binding to preview
    t = role_templar({"__iis_certificate_thumbprint": ""})
    assert {b["protocol"] for b in t.var("__iis_bindings")} == {"http"}


@pytest.mark.parametrize(
    "names, domain, covered",
    [
        (["example.com"], "example.com", True),
        (["example.com"], "www.example.com", False),
        (["*.example.com"], "www.example.com", True),
        (["*.example.com"], "example.com", False),
        (["*.example.com"], "a.b.example.com", False),
        (["*.example.com"], "wwwxexample.com", False),
        (["example.com", "*.example.com"], "api.example.com", True),
        (["EXAMPLE.com"], "example.com", True),
        (["exampleXcom"], "example.com", False),
    ],
)
def test_certificate_names_cover_domains(role_templar, names, domain, covered):
    t = role_templar({"__iis_certificate": {"certificates": [{"dns_names": names}]}})
    pattern = t.var("__iis_certificate_names_pattern")
    assert bool(re.match(pattern, domain)) is covered


def _release(path, age):
    return {"path": path, "lastwritetime": age}


def test_prune_keeps_the_newest_and_removes_incomplete_first(role_templar):
    root = "C:\\apps\\demo\\releases\\"
    found = {"files": [{"path": root + name} for name in ["r1", "r2", "r3", "r4", "broken"]]}
    markers = {"files": [_release(root + name + "\\.flaskops-release", age)
                         for name, age in [("r1", 1), ("r2", 2), ("r3", 3), ("r4", 4)]]}
    t = role_templar({"app_keep_releases": 2, "__iis_releases_found": found, "__iis_markers_found": markers,
                      "__iis_release_id": "r4", "__iis_previous_release": root + "r3"})
    assert t.var("__iis_prune") == [root + "broken", root + "r2", root + "r1"]
    assert t.var("__iis_protected_releases") == ["r4", "r3"]


def test_prune_never_lists_the_live_or_previous_release_for_deletion(role_templar):
    # A rollback made an old release live again: it is beyond app_keep_releases but protected by name.
    root = "C:\\apps\\demo\\releases\\"
    markers = {"files": [_release(root + n + "\\.flaskops-release", a) for n, a in [("r1", 1), ("r2", 2), ("r3", 3)]]}
    t = role_templar({"app_keep_releases": 2, "__iis_releases_found": {"files": [{"path": root + n} for n in ["r1", "r2", "r3"]]},
                      "__iis_markers_found": markers, "__iis_release_id": "R1",
                      "__iis_previous_release": "C:\\APPS\\demo\\releases\\r3"})
    prune = t.var("__iis_prune")
    protected = t.var("__iis_protected_releases")
    assert prune == [root + "r1"]
    # the task's condition: compared by name, case-insensitively
    assert [p for p in prune if p.rsplit("\\", 1)[1].lower() not in protected] == []


def test_environment_is_written_as_strings(role_templar):
    t = role_templar({"app_env": {"DEBUG": False, "WORKERS": 3, "NAME": "x"}, "app_secrets": {"TOKEN": 12}})
    assert t.var("__iis_env") == {"DEBUG": "False", "WORKERS": "3", "NAME": "x"}
    assert t.var("__iis_secrets") == {"TOKEN": "12"}


def test_identities_and_paths(role_templar):
    t = role_templar({"__iis_release_id": "abc123", "app_static_dir": "web/static"})
    assert t.var("__iis_service_account") == "NT SERVICE\\demo-waitress"
    assert t.var("__iis_pool_account") == "IIS AppPool\\demo"
    assert t.var("__iis_release_dir") == "C:\\apps\\demo\\releases\\abc123"
    assert t.var("__iis_release_python") == "C:\\apps\\demo\\releases\\abc123\\.venv\\Scripts\\python.exe"
    assert t.var("__iis_current_python") == "C:\\apps\\demo\\current\\.venv\\Scripts\\python.exe"
    assert t.var("__iis_static_dir_win") == "web\\static"
    assert t.var("__iis_private_dirs") == ["C:\\apps\\demo\\" + d for d in ["config", "shared", "logs", "tls", "packages"]]
    t = role_templar({"iis_service_account": "CORP\\svc-demo$", "iis_app_pool_identity_type": "SpecificUser",
                      "iis_app_pool_user": "CORP\\pool", "iis_app_pool_password": "x"})
    assert t.var("__iis_service_account") == "CORP\\svc-demo$"
    assert t.var("__iis_pool_account") == "CORP\\pool"


def test_app_pool_attributes(role_templar):
    t = role_templar({})
    assert t.var("__iis_app_pool_attributes") == {
        "managedRuntimeVersion": "",
        "startMode": "AlwaysRunning",
        "autoStart": True,
        "processModel.identityType": "ApplicationPoolIdentity",
        "processModel.idleTimeout": "00:00:00",
    }
    t = role_templar({"iis_app_pool_identity_type": "SpecificUser", "iis_app_pool_user": "CORP\\pool",
                      "iis_app_pool_password": "s3cret"})
    attributes = t.var("__iis_app_pool_attributes")
    assert attributes["processModel.identityType"] == "SpecificUser"
    assert attributes["processModel.userName"] == "CORP\\pool"
    assert attributes["processModel.password"] == "s3cret"


def test_archive_exclusions_cover_entries_and_their_contents(role_templar):
    from fnmatch import fnmatch

    patterns = role_templar({}).var("__iis_archive_exclude")
    for path in ["/src/app/.git", "/src/app/.git/config", "/src/app/pkg/__pycache__/m.cpython-311.pyc",
                 "/src/app/.venv/bin/python", "/src/app/m.pyc"]:
        assert any(fnmatch(path, p) for p in patterns), path
    for path in ["/src/app/wsgi.py", "/src/app/static/app.css", "/src/app/.gitignore", "/src/app/venv.md"]:
        assert not any(fnmatch(path, p) for p in patterns), path


def test_https_bindings_that_carry_the_certificate_are_not_rebound(role_templar):
    thumb = "AB" * 20
    now = [
        {"protocol": "http", "port": 80, "hostname": "example.com", "ip": "*"},
        {"protocol": "https", "port": 443, "hostname": "example.com", "ip": "*", "certificate_hash": thumb.lower()},
        {"protocol": "https", "port": 443, "hostname": "www.example.com", "ip": "*", "certificate_hash": "CD" * 20},
    ]
    t = role_templar({"app_domains": ["example.com", "www.example.com", "api.example.com"]},
                     facts={"__iis_certificate_thumbprint": thumb, "__iis_site_info": {"site": [{"bindings": now}]}})
    assert t.var("__iis_https_hosts_bound") == ["example.com"]
    to_set = {(b["protocol"], b["hostname"]): b for b in t.var("__iis_bindings_to_set")}
    assert len(to_set) == 6
    assert "certificate_hash" not in to_set[("https", "example.com")]      # already bound: left alone
    assert to_set[("https", "www.example.com")]["certificate_hash"] == thumb  # another certificate: rebound
    assert to_set[("https", "api.example.com")]["certificate_hash"] == thumb  # new binding
    assert all(b["use_sni"] for (proto, _port), b in to_set.items() if proto == "https")


def test_bindings_of_a_new_site(role_templar):
    t = role_templar({}, facts={"__iis_certificate_thumbprint": "AB" * 20, "__iis_site_info": {"exists": False, "site": []}})
    assert t.var("__iis_bindings_to_set") == t.var("__iis_bindings")


def test_no_https_binding_survives_tls_none(role_templar):
    now = [{"protocol": "https", "port": 443, "hostname": "example.com", "ip": "*", "certificate_hash": "AB" * 20}]
    t = role_templar({"app_tls_mode": "none"},
                     facts={"__iis_certificate_thumbprint": "AB" * 20, "__iis_site_info": {"site": [{"bindings": now}]}})
    assert {b["protocol"] for b in t.var("__iis_bindings_to_set")} == {"http"}
