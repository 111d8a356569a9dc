"""The shared variables (docs/variables.md) mean the same in every role that declares them.

A role that reads a shared ``app_*`` input declares it in its argument spec and defaults it in its defaults/main.yml
with the app role's type and default, so a play gets the same value whichever role's defaults it sees first. The
values some roles keep in step without reading each other's variables are checked here too.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
SAME = ("type", "elements", "choices", "default")


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def spec(role):
    return load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]


def defaults(role):
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return load(path) if path.exists() else {}


APP_SPEC = spec("app")
APP_DEFAULTS = defaults("app")
SHARED = sorted(
    (role, name) for role in ROLES if role != "app" for name in spec(role) if name.startswith("app_") and name in APP_SPEC
)


def test_roles_share_app_variables():
    assert ("nginx", "app_name") in SHARED and ("gunicorn", "app_wsgi") in SHARED


def test_app_name_is_required_without_a_default():
    assert APP_SPEC["app_name"].get("required") is True
    assert "default" not in APP_SPEC["app_name"]
    assert "app_name" not in APP_DEFAULTS


@pytest.mark.parametrize("role,name", SHARED)
def test_shared_input_is_declared_like_in_the_app_role(role, name):
    option = spec(role)[name]
    for key in SAME:
        if key == "default" and option.get("required"):
            continue  # a role may require what the app role defaults (iis: app_domains)
        assert option.get(key) == APP_SPEC[name].get(key), "%s: %s.%s differs from the app role's" % (role, name, key)
    description = option.get("description", "")
    description = " ".join(description) if isinstance(description, list) else description
    assert description.startswith("Shared"), "%s: the description of %s does not say it is shared" % (role, name)


@pytest.mark.parametrize("role,name", SHARED)
def test_shared_default_equals_the_app_roles(role, name):
    role_defaults = defaults(role)
    if role == "iis":
        # Windows: the shared inputs resolve into private __iis_* values (tests/unit/roles/iis/test_iis_defaults.py).
        assert name not in role_defaults
        return
    if APP_SPEC[name].get("required") and name not in APP_DEFAULTS:
        # app_name: required, with no default anywhere. A role's default would satisfy the preflight's required check
        # in a play that runs that role too (site.yml: certbot and nginx before app), and a missing app_name would
        # only fail later, under another variable's name.
        assert name not in role_defaults, "%s defaults %s, which the app role requires with no default" % (role, name)
        assert "default" not in spec(role)[name], "%s: the argument spec of %s has a default" % (role, name)
        return
    assert name in role_defaults, "%s reads %s: default it in defaults/main.yml as the app role does" % (role, name)
    assert role_defaults[name] == APP_DEFAULTS[name], "%s: default of %s differs from the app role's" % (role, name)


def test_the_proxy_waits_longer_than_the_app_server():
    nginx, gunicorn = defaults("nginx"), defaults("gunicorn")
    assert int(nginx["nginx_proxy_read_timeout"]) > int(gunicorn["gunicorn_timeout"])
    assert int(nginx["nginx_proxy_send_timeout"]) > int(gunicorn["gunicorn_timeout"])


@pytest.mark.parametrize(
    "role,name,owner,owner_name",
    [
        ("certbot", "certbot_webroot", "nginx", "nginx_acme_webroot"),
        ("fail2ban", "fail2ban_sshd_port", "ufw", "ufw_ssh_port"),
    ],
)
def test_values_kept_in_step_have_equal_defaults(role, name, owner, owner_name):
    assert defaults(role)[name] == defaults(owner)[owner_name]
    assert spec(role)[name]["default"] == spec(owner)[owner_name]["default"]
