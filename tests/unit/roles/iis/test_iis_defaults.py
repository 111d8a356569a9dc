"""The role's documentation and defaults stay in step with each other and with the Linux roles.

- iis_* defaults == the argument spec's defaults (the spec is what the README table shows);
- the shared app_* defaults the role falls back to == the spec's == the Linux app role's;
- the security headers and HSTS settings == the nginx role's defaults;
- the README's variable table == scripts/argspec-table.py's output;
- every iis_* / __iis_* name the tasks and templates use is defined.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

from ansible_collections.flaskops.deploy.tests.unit.roles.iis.conftest import REPO, ROLE, RoleTemplar, load_yaml

SPEC = load_yaml(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
DEFAULTS = load_yaml(ROLE / "defaults" / "main.yml")
ROLE_VARS = load_yaml(ROLE / "vars" / "main.yml")
NGINX_DEFAULTS = REPO / "roles" / "nginx" / "defaults" / "main.yml"
APP_DEFAULTS = REPO / "roles" / "app" / "defaults" / "main.yml"
APP_VARS = REPO / "roles" / "app" / "vars" / "main.yml"

# The values the nginx role defines (the issue fixes them); the iis role must send the same.
EXPECTED_HEADERS = {
    "security_headers": {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": "geolocation=(), microphone=(), camera=()",
    },
    "hsts_max_age": 63072000,
    "hsts_include_subdomains": False,
    "hsts_preload": False,
    "content_security_policy": "",
}

# Shared variable -> the private variable the role resolves it into (vars/main.yml).
SHARED = {
    "app_name": "__iis_app_name",
    "app_domains": "__iis_domains",
    "app_env": "__iis_app_env",
    "app_secrets": "__iis_app_secrets",
    "app_health_path": "__iis_health_path",
    "app_keep_releases": "__iis_keep_releases",
    "app_release_id": "__iis_release_id_input",
    "app_source_type": "__iis_source_type",
    "app_source_path": "__iis_source_path",
    "app_source_archive": "__iis_source_archive",
    "app_wsgi": "__iis_wsgi",
    "app_requirements_file": "__iis_requirements_file",
    "app_python_packages": "__iis_python_packages",
    "app_shared_dirs": "__iis_shared_dirs",
    "app_shared_links": "__iis_shared_links",
    "app_pre_activate_hooks": "__iis_pre_activate_hooks",
    "app_static_dir": "__iis_static_dir",
    "app_static_url": "__iis_static_url",
    "app_max_content_length": "__iis_max_content_length",
    "app_tls_mode": "__iis_tls_mode",
}


def test_iis_headers_have_the_nginx_values():
    for key, value in EXPECTED_HEADERS.items():
        assert DEFAULTS["iis_" + key] == value, key
        assert SPEC["iis_" + key]["default"] == value, key


@pytest.mark.skipif(not NGINX_DEFAULTS.is_file(), reason="roles/nginx/defaults/main.yml does not exist yet")
def test_iis_headers_equal_the_nginx_role_defaults():
    nginx = load_yaml(NGINX_DEFAULTS)
    for key in EXPECTED_HEADERS:
        assert "nginx_" + key in nginx, "nginx_%s is not in roles/nginx/defaults/main.yml" % key
        assert DEFAULTS["iis_" + key] == nginx["nginx_" + key], key


def test_spec_options_are_role_or_shared_app_variables():
    # the repository's convention (tests/unit/roles/test_role_docs.py): iis_* or shared app_*
    assert [k for k in SPEC if not k.startswith(("iis_", "app_"))] == []


def test_every_default_is_documented_and_every_role_option_has_a_default():
    assert sorted(DEFAULTS) == sorted(k for k in SPEC if k.startswith("iis_"))
    # shared inputs are read, never redefined, by this role
    assert not [k for k in DEFAULTS if not k.startswith("iis_")]
    assert not [k for k in ROLE_VARS if not k.startswith("__iis_")]


def test_role_defaults_equal_the_spec_defaults():
    t = RoleTemplar({})
    for name, value in DEFAULTS.items():
        documented = SPEC[name]["default"]
        if isinstance(value, str) and "{{" in value:
            # a templated default is documented either as the same template or as what it gives
            # without the optional shared inputs
            expected = t.text(documented) if isinstance(documented, str) and "{{" in documented else documented
            assert t.expr(name) == expected, name
        else:
            assert value == documented, name


def test_shared_defaults_equal_the_spec_defaults():
    t = RoleTemplar({})  # the base inventory sets only app_name, app_domains and the source
    for shared, private in SHARED.items():
        if SPEC[shared].get("required"):
            assert shared in t.variables
            continue
        if shared in ("app_source_path",):
            continue  # set by the base inventory
        assert t.var(private) == SPEC[shared]["default"], shared


@pytest.mark.skipif(not APP_DEFAULTS.is_file(), reason="roles/app does not exist")
def test_shared_defaults_equal_the_linux_app_role():
    app = load_yaml(APP_DEFAULTS)
    for shared in SHARED:
        if shared in app and not SPEC[shared].get("required"):
            assert SPEC[shared]["default"] == app[shared], shared


@pytest.mark.skipif(not APP_VARS.is_file(), reason="roles/app does not exist")
def test_same_source_exclusions_as_the_app_role():
    # the release id is the same content hash on Linux and Windows only if the same files are hashed
    assert ROLE_VARS["__iis_source_exclude"] == load_yaml(APP_VARS)["__app_source_exclude"]
    assert ROLE_VARS["__iis_marker"] == load_yaml(APP_VARS)["__app_marker"]


def test_readme_table_is_generated_from_the_spec():
    script = REPO / "scripts" / "argspec-table.py"
    if not script.exists():
        pytest.skip("scripts/ is not part of the built collection (ansible-test units); make unit checks the table")
    table = subprocess.run([sys.executable, str(script), "iis"], capture_output=True, text=True, check=True).stdout
    readme = (ROLE / "README.md").read_text(encoding="utf-8")
    between = readme.split("<!-- BEGIN ARGSPEC TABLE -->\n", 1)[1].split("<!-- END ARGSPEC TABLE -->", 1)[0]
    assert between == table, "run: scripts/argspec-table.py iis --write"


def _sources():
    files = list((ROLE / "tasks").glob("*.yml")) + list((ROLE / "templates").glob("*.j2"))
    files += [ROLE / "vars" / "main.yml", REPO / "playbooks" / "windows.yml"]
    return {f: f.read_text(encoding="utf-8") for f in files}


def test_every_role_variable_used_is_defined():
    defined = set(DEFAULTS) | set(ROLE_VARS)
    sources = _sources()
    # facts and registered results are defined by the tasks themselves
    for text in sources.values():
        defined |= set(re.findall(r"^\s*register:\s*(__iis_\w+)", text, re.M))
        defined |= set(re.findall(r"^\s+(__iis_\w+):", text, re.M))  # set_fact keys and task vars
    used = set()
    for text in sources.values():
        used |= set(re.findall(r"(?<![\w.])(__iis_\w+|iis_\w+)", text))
    used -= {"iis_validate", "iis_install", "iis_server", "iis_layout", "iis_tls", "iis_site", "iis_release",
             "iis_deploy", "iis_service", "iis_firewall", "iis_verify"}  # tags
    assert sorted(used - defined) == []


def test_junction_script_supports_check_mode_and_reports_changes_itself():
    script = (ROLE / "files" / "Set-ReleaseJunction.ps1").read_text(encoding="utf-8")
    assert "[CmdletBinding(SupportsShouldProcess)]" in script
    assert "$Ansible.Changed = $false" in script
    assert "$PSCmdlet.ShouldProcess(" in script
    # removing the old junction must not recurse into the release it points to
    assert "[System.IO.Directory]::Delete($Path, $false)" in script
    assert "Remove-Item" not in script


def test_playbook_uses_the_role_by_fqcn_on_the_windows_group():
    play = load_yaml(REPO / "playbooks" / "windows.yml")[0]
    assert play["hosts"] == "windows"
    assert [r["role"] for r in play["roles"]] == ["flaskops.deploy.iis"]


def test_example_inventory_puts_hosts_in_the_windows_group():
    inventory = load_yaml(REPO / "inventories" / "example" / "windows.yml")
    assert inventory["all"]["children"]["windows"]["hosts"]
    group_vars = load_yaml(REPO / "inventories" / "example" / "group_vars" / "windows.yml")
    assert group_vars["ansible_connection"] in ("winrm", "psrp", "ssh")
    # no secret in clear text in the example
    assert "{{" in group_vars["ansible_password"]
    assert "{{" in group_vars["iis_certificate_pfx_password"]


def test_no_machine_paths_in_the_role():
    pattern = re.compile(r"/(work|tmp|home|root)/")
    for path in sorted(p for p in pathlib.Path(ROLE).rglob("*") if p.is_file()):
        assert not pattern.search(path.read_text(encoding="utf-8", errors="replace")), path
