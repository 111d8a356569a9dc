"""Bad input is refused before anything changes on a host.

Two layers, both exercised here:
- meta/argument_specs.yml, checked by ansible-core's ArgumentSpecValidator exactly as the role's implicit
  validation task does it (variables the spec names, templated, then validated);
- tasks/validate.yml, for the rules a spec cannot express (patterns, non-empty lists, one of two inputs),
  run for real by ansible-playbook against localhost. Its last check is that the target runs Windows, so a
  valid inventory is recognised by failing exactly there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.flaskops.deploy.tests.unit.roles.iis.conftest import BASE_VARS, ROLE, RoleTemplar, ansible_cli, load_yaml

SPEC = load_yaml(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]


def validate(overrides=None, drop=()):
    """Mimic ansible.builtin.validate_argument_spec for a role: options present in the variables, templated."""
    t = RoleTemplar(overrides)
    variables = {k: v for k, v in t.variables.items() if k not in drop}
    args = {name: t.expr(name) for name in SPEC if name in variables}
    result = ArgumentSpecValidator(SPEC).validate(args, validate_role_argument_spec=True)
    return result.error_messages


def test_the_base_inventory_is_valid():
    assert validate() == []


def test_every_default_passes_its_own_spec():
    # defaults/main.yml holds templated values (iis_app_root from app_name ...): templated, they fit.
    assert validate() == []


@pytest.mark.parametrize(
    "overrides, drop, fragment",
    [
        ({}, ("app_name",), "app_name"),
        ({}, ("app_domains",), "app_domains"),
        ({"app_domains": {"example.com": True}}, (), "app_domains"),
        ({"app_tls_mode": "acme"}, (), "app_tls_mode"),
        ({"app_source_type": "svn"}, (), "app_source_type"),
        ({"app_max_content_length": "lots"}, (), "app_max_content_length"),
        ({"app_keep_releases": "many"}, (), "app_keep_releases"),
        ({"iis_waitress_port": "http"}, (), "iis_waitress_port"),
        ({"iis_app_pool_identity_type": "LocalSystem"}, (), "iis_app_pool_identity_type"),
        ({"iis_default_site_state": "started"}, (), "iis_default_site_state"),
        ({"iis_unknown_host_action": "Redirect"}, (), "iis_unknown_host_action"),
        ({"iis_http_errors_existing_response": "Sometimes"}, (), "iis_http_errors_existing_response"),
        ({"iis_security_headers": ["X-Frame-Options: DENY"]}, (), "iis_security_headers"),
        ({"iis_hsts_preload": "perhaps"}, (), "iis_hsts_preload"),
        ({"app_shared_links": [{"path": "instance"}]}, (), "target"),
    ],
)
def test_the_spec_refuses(overrides, drop, fragment):
    errors = validate(overrides, drop)
    assert errors, "accepted %r" % overrides
    assert any(fragment in e for e in errors), errors


def test_secrets_are_no_log_in_the_spec():
    for name in ["app_secrets", "iis_certificate_pfx_password", "iis_app_pool_password", "iis_service_password"]:
        assert SPEC[name].get("no_log") is True, name


# --- tasks/validate.yml, run by ansible-playbook ----------------------------------------------------------------

PLAYBOOK = """\
- name: Validate the iis role's inputs on the controller
  hosts: all
  gather_facts: false
  roles:
    - role: flaskops.deploy.iis
"""


def run_validation(tmp_path, collections_path, variables):
    (tmp_path / "play.yml").write_text(PLAYBOOK, encoding="utf-8")
    (tmp_path / "vars.json").write_text(json.dumps(variables), encoding="utf-8")
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
        "ANSIBLE_CONFIG": str(tmp_path / "none.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_LOCALHOST_WARNING": "false",
    })
    proc = subprocess.run(
        ansible_cli("ansible-playbook")
        + ["-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
           "-e", "@" + str(tmp_path / "vars.json"), "--tags", "iis_validate", str(tmp_path / "play.yml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


VALID = {k: v for k, v in BASE_VARS.items() if k != "ansible_managed"}
WRONG_OS = "The iis role manages Windows hosts"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"app_name": "My App"}, "app_name must match ^[a-z][a-z0-9_-]*$"),
        ({"app_domains": []}, "app_domains must be a non-empty list"),
        ({"app_domains": ["example.com", "Example.com"]}, "app_domains must be a non-empty list"),
        ({"app_domains": ["https://example.com"]}, "app_domains must be a non-empty list"),
        ({"app_source_type": "git"}, "git sources are not supported here"),
        ({"app_source_type": "archive", "app_source_archive": "/srv/demo.rar"}, "git sources are not supported here"),
        ({"iis_certificate_thumbprint": ""}, "needs exactly one of iis_certificate_pfx_path"),
        ({"iis_certificate_pfx_path": "/srv/site.pfx"}, "needs exactly one of iis_certificate_pfx_path"),
        ({"app_max_content_length": 5000000000}, "app_max_content_length must be 1..4294967295"),
        ({"iis_waitress_port": 80}, "must be distinct ports"),
        ({"iis_app_root": "C:\\apps\\demo\\"}, "iis_app_root must be an absolute path"),
        ({"iis_app_root": "/srv/demo"}, "iis_app_root must be an absolute path"),
        ({"app_keep_releases": 1}, "app_keep_releases at least 2"),
        ({"app_wsgi": "src/wsgi.py:app"}, "app_wsgi must be module:attribute"),
        ({"app_env": {"BAD-NAME": "x"}}, "keys must be environment variable names"),
    ],
)
def test_validate_yml_refuses(tmp_path, collections_path, overrides, message):
    code, output = run_validation(tmp_path, collections_path, {**VALID, **overrides})
    assert code != 0
    assert message in output, output[-3000:]
    assert WRONG_OS not in output


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"app_domains": ["example.com", "www.example.com"], "app_wsgi": "app:create_app()", "app_tls_mode": "none",
         "iis_certificate_thumbprint": "", "app_static_url": "", "iis_app_root": "D:\\web\\demo"},
    ],
    ids=["base", "variant"],
)
def test_validate_yml_accepts_and_then_requires_windows(tmp_path, collections_path, overrides):
    code, output = run_validation(tmp_path, collections_path, {**VALID, **overrides})
    assert code != 0
    assert WRONG_OS in output, output[-3000:]
