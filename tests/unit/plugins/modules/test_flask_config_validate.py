# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of flaskops.deploy.flask_config_validate: the fixture corpus through the module (mode ``config``),
and real Flask applications imported by their own Python (mode ``app``)."""

from __future__ import annotations

import json
import sys
import textwrap
import typing as t

import pytest
import yaml

from ansible_collections.flaskops.deploy.plugins.module_utils._flask_config import RULE_IDS, RULES_BY_ID
from ansible_collections.flaskops.deploy.plugins.modules import flask_config_validate
from ansible_collections.flaskops.deploy.tests.unit.plugins.fixtures import (
    FIXTURE_NAMES,
    fixture_facts,
    fixture_module_args,
    load_fixture,
)
from ansible_collections.flaskops.deploy.tests.unit.plugins.modules.utils import (
    run_module,
    run_module_failing,
    run_module_output,
)

GOOD_SECRET = "6f1d8c3b9a2e4f7d0c5b8a1e3f6d9c2b7a4e0f3d6c9b2a5e8f1d4c7b0a3e6f9d"
# The Python of the virtualenv that runs these tests: it has Flask.
VENV = sys.prefix


def run(args: dict[str, t.Any], check_mode: bool = False) -> dict[str, t.Any]:
    return run_module(flask_config_validate.main, args, check_mode=check_mode)


def run_failing(args: dict[str, t.Any], check_mode: bool = False) -> dict[str, t.Any]:
    return run_module_failing(flask_config_validate.main, args, check_mode=check_mode)


def ids(result: dict[str, t.Any]) -> list[str]:
    return [finding["id"] for finding in result["findings"]]


def is_error(rule_id: str) -> bool:
    return RULES_BY_ID[rule_id].severity == "error"


# --- mode config: the fixture corpus --------------------------------------------------------------

@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_through_the_module(name: str) -> None:
    fixture = load_fixture(name)
    args = fixture_module_args(fixture)
    expected_errors = [rule for rule in fixture["expect"] if is_error(rule)]
    if expected_errors:
        result = run_failing(args)
        assert result["valid"] is False
        for rule in expected_errors:
            assert rule in result["msg"]
    else:
        result = run(args)
        assert result["valid"] is True
    assert result["changed"] is False
    assert sorted(ids(result)) == sorted(fixture["expect"])
    assert result["error_count"] == len(expected_errors)
    assert result["warning_count"] == len(fixture["expect"]) - len(expected_errors)
    assert result["facts"] == fixture_facts(fixture)
    assert result["proxy_fix"] == fixture["options"].get("proxy_fix")


def test_production_config_in_check_mode() -> None:
    result = run(fixture_module_args(load_fixture("production-ok")), check_mode=True)
    assert result["valid"] is True
    assert result["changed"] is False
    assert result["findings"] == []
    assert result["facts"]["secret_key_length"] == 64


def test_warnings_fail_with_fail_on_warning() -> None:
    args = fixture_module_args(load_fixture("sqlite-database"))
    assert run(args)["valid"] is True
    result = run_failing(dict(args, fail_on="warning"))
    assert result["valid"] is False
    assert result["msg"].startswith("1 finding at or above warning: sqlite-database (warning): ")


def test_check_mode_fails_the_same_way() -> None:
    result = run_failing(fixture_module_args(load_fixture("debug-enabled")), check_mode=True)
    assert ids(result) == ["debug-enabled"]


def test_rules_and_skip_rules() -> None:
    args = fixture_module_args(load_fixture("flask-tutorial-dev"))
    only = run_failing(dict(args, rules=["debug-enabled", "sqlite-database"]))
    assert ids(only) == ["debug-enabled", "sqlite-database"]
    skipped = run_failing(dict(args, skip_rules=["debug-enabled"]))
    assert "debug-enabled" not in ids(skipped)
    assert "secret-key-placeholder" in ids(skipped)
    passed = run(dict(args, rules=["sqlite-database", "max-content-length-unset"]))
    assert passed["valid"] is True and passed["warning_count"] == 2


# What an output without an invocation stands for: nothing of the options, as if all were masked.
MASKED_INVOCATION = {"module_args": {"config": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER",
                                     "environment": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}}


def test_config_secrets_are_not_returned(capsys: pytest.CaptureFixture) -> None:
    """Through AnsibleModule's real output: no secret value, and the invocation hides config as a whole."""
    config = dict(load_fixture("production-ok")["config"], SESSION_COOKIE_SAMESITE="Lax")
    code, output = run_module_output(flask_config_validate.main, {"config": config, "proxy_fix": True}, capsys)
    assert code == 0
    text = json.dumps(output)
    assert GOOD_SECRET not in text
    assert "fixture-password" not in text
    # ansible-core 2.19 returns the invocation with no_log options masked; newer ones may leave it out.
    assert output.get("invocation", MASKED_INVOCATION)["module_args"]["config"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    # Short values are not masked, so the facts stay readable.
    assert output["facts"]["session_cookie_samesite"] == "Lax"
    assert output["facts"]["preferred_url_scheme"] == "https"


def test_short_secret_is_not_returned(capsys: pytest.CaptureFixture) -> None:
    # The secret is not written on the line that runs the module: ansible-core 2.19.0's fail_json returns the call
    # stack as `exception` under ansible-test, and that stack quotes this test's own source lines, not the module's
    # output. Written there, the check below would find the test's own text, not a leak.
    secret = "Zq9!x"
    args = {"config": {"SECRET_KEY": secret}}
    code, output = run_module_output(flask_config_validate.main, args, capsys)
    assert code == 1
    assert secret not in json.dumps(output)
    assert output["facts"]["secret_key_length"] == 5


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "args, message",
    [
        ({}, "one of the following is required: app, config"),
        ({"app": "wsgi:app", "config": {}, "venv": VENV}, "parameters are mutually exclusive: app|config"),
        ({"config": {}, "venv": VENV}, "parameters are mutually exclusive: config|venv"),
        ({"config": {}, "environment": {"A": "b"}}, "parameters are mutually exclusive: config|environment"),
        ({"app": "wsgi:app", "venv": VENV, "proxy_fix": True}, "parameters are mutually exclusive: app|proxy_fix"),
        ({"app": "wsgi:app"}, "missing parameter(s) required by 'app': venv"),
        ({"config": {}, "rules": ["no-such-rule"]}, "rules"),
        ({"config": {}, "skip_rules": ["no-such-rule"]}, "skip_rules"),
        ({"config": {}, "rules": []}, "rules must name at least one rule"),
        ({"config": {}, "fail_on": "info"}, "fail_on"),
        ({"config": {}, "proxy_body_limit": 0}, "proxy_body_limit must be a positive number of bytes, got 0"),
        ({"config": {}, "server_name": " "}, "server_name must not be empty"),
        ({"app": "wsgi:app", "venv": "no-such-venv"}, "venv 'no-such-venv' is not a directory"),
        ({"app": "wsgi:app", "venv": VENV, "environment": {"BAD-NAME": "x"}}, "environment has invalid variable names: 'BAD-NAME'"),
    ],
)
def test_bad_input(args: dict[str, t.Any], message: str) -> None:
    result = run_failing(args)
    assert message in result["msg"]
    assert "findings" not in result


def test_venv_without_python(tmp_path: t.Any) -> None:
    result = run_failing({"app": "wsgi:app", "venv": str(tmp_path)})
    assert result["msg"] == f"venv {str(tmp_path)!r} has no executable bin/python"


# --- mode app: real applications ------------------------------------------------------------------

APP_PACKAGE = '''
import json
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def create_app(profile="env"):
    app = Flask(__name__)
    if profile == "fixture":
        # Exactly the configuration of a fixture file, on top of Flask's defaults.
        with open(os.environ["FIXTURE_CONFIG"], encoding="utf-8") as handle:
            app.config.update(json.load(handle))
    else:
        app.config.from_mapping(
            SESSION_COOKIE_SAMESITE="Lax",
            MAX_CONTENT_LENGTH=16 * 1024 * 1024,
            PREFERRED_URL_SCHEME="https",
        )
        app.config.from_prefixed_env("FLASK")
    if app.config.get("USE_LOGIN"):
        app.login_manager = object()
    if app.config.get("PROXY_FIX", True):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
    return app
'''

PLAIN_WSGI = '''
from flask import Flask

print("starting up, this line must not confuse the module")
app = Flask(__name__)
app.config["SECRET_KEY"] = "this-plain-app-has-a-long-but-fixed-secret-key-0123456789"
app.config["SESSION_COOKIE_SECURE"] = True
app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
app.config["PREFERRED_URL_SCHEME"] = "https"
app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
'''

WRAPPED_WSGI = '''
from werkzeug.middleware.proxy_fix import ProxyFix

from plain_wsgi import app

application = ProxyFix(app, x_proto=1)
'''

BROKEN_WSGI = '''
import os

raise RuntimeError("cannot reach the database at " + os.environ.get("DATABASE_URL", "?"))
'''

EXITING_WSGI = '''
import sys

sys.exit("configuration incomplete")
'''


@pytest.fixture
def app_dir(tmp_path: t.Any) -> t.Any:
    pytest.importorskip("flask")
    package = tmp_path / "demo_app"
    package.mkdir()
    (package / "__init__.py").write_text(APP_PACKAGE)
    (tmp_path / "plain_wsgi.py").write_text(PLAIN_WSGI)
    (tmp_path / "wrapped_wsgi.py").write_text(WRAPPED_WSGI)
    (tmp_path / "broken_wsgi.py").write_text(BROKEN_WSGI)
    (tmp_path / "exiting_wsgi.py").write_text(EXITING_WSGI)
    (tmp_path / "app.env").write_text(textwrap.dedent(f"""\
        # written by the app role
        FLASK_SECRET_KEY={GOOD_SECRET}
        export FLASK_SESSION_COOKIE_SECURE=true
        FLASK_REMEMBER_COOKIE_SECURE=true
    """))
    return tmp_path


def app_args(app_dir: t.Any, app: str, **extra: t.Any) -> dict[str, t.Any]:
    args = {"app": app, "venv": VENV, "chdir": str(app_dir)}
    args.update(extra)
    return args


def test_factory_with_env_file(app_dir: t.Any) -> None:
    result = run(app_args(app_dir, "demo_app:create_app()", env_file=str(app_dir / "app.env")))
    assert result["valid"] is True
    assert result["findings"] == []
    assert result["proxy_fix"] is True
    facts = result["facts"]
    assert facts["secret_key_length"] == 64
    assert facts["secret_key_placeholder"] is False
    assert facts["session_cookie_secure"] is True
    assert facts["proxy_fix_x_proto"] == 1
    assert facts["flask_version"]


def test_environment_overrides_env_file(app_dir: t.Any) -> None:
    result = run_failing(app_args(
        app_dir, "demo_app:create_app()",
        env_file=str(app_dir / "app.env"),
        environment={"FLASK_DEBUG": True, "FLASK_SECRET_KEY": "dev"},
    ))
    assert ids(result) == ["debug-enabled", "secret-key-placeholder"]


def test_factory_without_proxy_fix_and_with_flask_login(app_dir: t.Any) -> None:
    result = run_failing(app_args(
        app_dir, "demo_app:create_app()",
        env_file=str(app_dir / "app.env"),
        environment={"FLASK_PROXY_FIX": False, "FLASK_USE_LOGIN": True, "FLASK_REMEMBER_COOKIE_SECURE": False},
    ))
    assert result["proxy_fix"] is False
    assert result["facts"]["flask_login"] is True
    assert ids(result) == ["remember-cookie-insecure", "proxy-fix-missing"]


def test_plain_app_without_proxy_fix_is_a_warning(app_dir: t.Any) -> None:
    result = run(app_args(app_dir, "plain_wsgi:app"))
    assert result["valid"] is True
    assert ids(result) == ["proxy-fix-missing"]
    assert result["warning_count"] == 1
    assert result["proxy_fix"] is False
    assert result["facts"]["session_cookie_samesite"] == "Strict"
    strict = run_failing(app_args(app_dir, "plain_wsgi:app", fail_on="warning"))
    assert ids(strict) == ["proxy-fix-missing"]
    assert run(app_args(app_dir, "plain_wsgi:app", behind_proxy=False))["findings"] == []


def test_app_wrapped_in_proxy_fix_as_wsgi_callable(app_dir: t.Any) -> None:
    result = run(app_args(app_dir, "wrapped_wsgi:application"))
    assert result["findings"] == []
    assert result["proxy_fix"] is True


def test_check_mode_imports_too(app_dir: t.Any) -> None:
    result = run(app_args(app_dir, "wrapped_wsgi:application"), check_mode=True)
    assert result["proxy_fix"] is True
    assert result["changed"] is False


@pytest.mark.parametrize(
    "app, message",
    [
        ("broken_wsgi:app", "RuntimeError: cannot reach the database at sqlite:///broken.db"),
        ("exiting_wsgi:app", "SystemExit: configuration incomplete"),
        ("missing_wsgi:app", "ModuleNotFoundError: No module named 'missing_wsgi'"),
        ("plain_wsgi:nope", "ValueError: module 'plain_wsgi' has no attribute 'nope'"),
        ("plain_wsgi:Flask", "ValueError: type object is not a Flask application"),
    ],
)
def test_import_failure(app_dir: t.Any, app: str, message: str) -> None:
    result = run_failing(app_args(app_dir, app, environment={"DATABASE_URL": "sqlite:///broken.db"}))
    assert result["valid"] is False
    assert ids(result) == ["app-import"]
    assert result["findings"][0]["severity"] == "error"
    assert result["findings"][0]["message"].startswith(f"the application {app!r} could not be imported: {message}")
    assert result["error_count"] == 1
    assert result["facts"] == {}
    assert result["proxy_fix"] is None
    assert message in result["msg"]


def test_import_failure_can_be_skipped(app_dir: t.Any) -> None:
    result = run(app_args(app_dir, "missing_wsgi:app", skip_rules=["app-import"]))
    assert result["valid"] is True
    assert result["findings"] == []


def test_wrong_chdir_is_an_import_failure(app_dir: t.Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    result = run_failing(app_args(elsewhere, "plain_wsgi:app"))
    assert ids(result) == ["app-import"]


def test_env_file_problems(app_dir: t.Any) -> None:
    missing = run_failing(app_args(app_dir, "plain_wsgi:app", env_file=str(app_dir / "missing.env")))
    assert missing["msg"].startswith(f"env_file {str(app_dir / 'missing.env')!r} cannot be read: ")
    bad = app_dir / "bad.env"
    bad.write_text("FLASK_SECRET_KEY=abc\nthis line is broken super-secret-value\n")
    result = run_failing(app_args(app_dir, "plain_wsgi:app", env_file=str(bad)))
    assert result["msg"] == f"env_file {str(bad)!r}: line 2 is not KEY=VALUE"
    assert "super-secret-value" not in result["msg"]


def test_chdir_must_exist(app_dir: t.Any) -> None:
    result = run_failing(app_args(app_dir / "nope", "plain_wsgi:app"))
    assert result["msg"] == f"chdir {str(app_dir / 'nope')!r} is not a directory"


def test_app_secrets_never_leave_the_probe(app_dir: t.Any, capsys: pytest.CaptureFixture) -> None:
    """Through AnsibleModule's real output, with an env file secret and an import error that echoes one."""
    code, output = run_module_output(flask_config_validate.main, app_args(app_dir, "demo_app:create_app()", env_file=str(app_dir / "app.env")), capsys)
    assert code == 0
    assert GOOD_SECRET not in json.dumps(output)
    assert output["facts"]["secret_key_length"] == 64

    secret_url = "postgresql://app:Very-Secret-Password@db/app"
    code, output = run_module_output(
        flask_config_validate.main, app_args(app_dir, "broken_wsgi:app", environment={"DATABASE_URL": secret_url}), capsys
    )
    assert code == 1
    text = json.dumps(output)
    assert "Very-Secret-Password" not in text
    assert output.get("invocation", MASKED_INVOCATION)["module_args"]["environment"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert "cannot reach the database at ********" in output["findings"][0]["message"]


def test_mode_app_and_mode_config_agree(app_dir: t.Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The same configuration gives the same facts and findings whether imported or given as a dict."""
    directory = tmp_path_factory.mktemp("configs")
    for name in ("production-ok", "flask-tutorial-dev", "secret-key-low-entropy", "sqlite-database-bind", "debug-enabled"):
        fixture = load_fixture(name)
        config_file = directory / f"{name}.json"
        config = dict(fixture["config"], PROXY_FIX=bool(fixture["options"].get("proxy_fix")))
        config["USE_LOGIN"] = any(key.startswith("REMEMBER_COOKIE_") for key in config)
        # Keys the fixture leaves out take Flask's defaults in both modes.
        config_file.write_text(json.dumps(config))
        options = {key: value for key, value in fixture["options"].items() if key != "proxy_fix"}
        imported_args = app_args(app_dir, "demo_app:create_app('fixture')", environment={"FIXTURE_CONFIG": str(config_file)}, **options)
        given_args = dict(options, config=fixture["config"], proxy_fix=bool(fixture["options"].get("proxy_fix")))
        if any(is_error(rule) for rule in fixture["expect"]):
            imported, given = run_failing(imported_args), run_failing(given_args)
        else:
            imported, given = run(imported_args), run(given_args)
        assert ids(imported) == ids(given), name
        assert imported["facts"].pop("flask_version")
        # Only the imported app has a static folder (app_static_dir auto serves it).
        assert imported["facts"].pop("static_folder").endswith("/demo_app/static")
        assert imported["facts"].pop("static_url_path") == "/static"
        # Only the imported app can tell how ProxyFix is set up.
        assert imported["facts"].pop("proxy_fix_x_proto") == (1 if config["PROXY_FIX"] else None)
        assert given["facts"].pop("proxy_fix_x_proto") is None
        assert imported["facts"] == given["facts"], name


def test_documentation_matches_the_rule_table() -> None:
    documentation = yaml.safe_load(flask_config_validate.DOCUMENTATION)
    assert documentation["options"]["rules"]["choices"] == list(RULE_IDS)
    assert documentation["options"]["skip_rules"]["choices"] == list(RULE_IDS)
    description = " ".join(documentation["description"])
    for rule_id in RULE_IDS:
        assert f"V({rule_id}) ({RULES_BY_ID[rule_id].severity})" in description, rule_id
