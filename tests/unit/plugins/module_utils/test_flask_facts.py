# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the fact extraction shared by both modes of flaskops.deploy.flask_config_validate."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import typing as t

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _flask_facts as facts_mod


@pytest.mark.parametrize(
    "value, expected",
    [
        ("", 0.0),
        ("aaaa", 0.0),
        ("abab", 1.0),
        ("abcd", 2.0),
        ("0123456789abcdef", 4.0),
        (bytes(range(256)), 8.0),
    ],
)
def test_shannon_entropy(value: t.Any, expected: float) -> None:
    assert facts_mod.shannon_entropy(value) == pytest.approx(expected)


def test_random_keys_have_high_entropy() -> None:
    import secrets

    for dummy in range(20):
        assert facts_mod.shannon_entropy(secrets.token_hex(32)) > 3.0
        assert facts_mod.shannon_entropy(secrets.token_urlsafe(32)) > 4.0
        assert facts_mod.shannon_entropy(os.urandom(32)) > 4.0


@pytest.mark.parametrize(
    "value",
    ["dev", "DEV", " 'dev' ", "change-me", "changeme", "you-will-never-guess", "secret", "secret-key", "development key",
     "super secret key", "change-me-in-production-0123456789", "my-insecure-placeholder-key", b"dev", "hard to guess string"],
)
def test_placeholders(value: t.Any) -> None:
    assert facts_mod.is_placeholder(value)


@pytest.mark.parametrize("value", ["6f1d8c3b9a2e4f7d0c5b8a1e3f6d9c2b", "k3J9xqZ7wLm2Vb8Rt5Np", b"\xff\xfe\x00binary", "developers-rule-x9"])
def test_not_placeholders(value: t.Any) -> None:
    assert not facts_mod.is_placeholder(value)


def test_secret_facts_never_hold_the_secret() -> None:
    secret = "6f1d8c3b9a2e4f7d0c5b8a1e3f6d9c2b"
    facts = facts_mod.secret_facts(secret)
    assert facts == {"secret_key_set": True, "secret_key_length": 32, "secret_key_entropy": pytest.approx(3.75, abs=0.3),
                     "secret_key_placeholder": False}
    assert secret not in json.dumps(facts)


def test_secret_facts_lengths() -> None:
    assert facts_mod.secret_facts("é" * 16)["secret_key_length"] == 32
    assert facts_mod.secret_facts(os.urandom(24))["secret_key_length"] == 24
    assert facts_mod.secret_facts(None)["secret_key_set"] is False
    assert facts_mod.secret_facts("")["secret_key_set"] is False
    assert facts_mod.secret_facts(b"")["secret_key_set"] is False
    assert facts_mod.secret_facts(12345)["secret_key_length"] == 5


@pytest.mark.parametrize(
    "value, expected",
    [
        ("postgresql+psycopg://user:pw@db:5432/app", ("postgresql+psycopg", False)),
        ("mysql://user:pw@db/app?charset=utf8mb4", ("mysql", False)),
        ("sqlite:///app.db", ("sqlite", True)),
        ("sqlite+pysqlite:///:memory:", ("sqlite+pysqlite", True)),
        ("/srv/app/instance/app.sqlite3", ("sqlite", True)),
        ("instance/flaskr.sqlite", ("sqlite", True)),
        ("app.DB", ("sqlite", True)),
        ("/srv/app/data", ("path", False)),
    ],
)
def test_describe_database(value: str, expected: tuple) -> None:
    assert facts_mod.describe_database(value) == expected


def test_database_facts_hide_credentials() -> None:
    config = {
        "SQLALCHEMY_DATABASE_URI": "postgresql://app:hunter2-password@db/app",
        "DATABASE": "",
        "SQLALCHEMY_BINDS": {"cache": "sqlite:///cache.db", "users": {"url": "mysql://u:p@h/users"}},
    }
    facts = facts_mod.database_facts(config)
    assert facts == {
        "database_schemes": {"SQLALCHEMY_DATABASE_URI": "postgresql", "SQLALCHEMY_BINDS.cache": "sqlite", "SQLALCHEMY_BINDS.users": "mysql"},
        "sqlite_keys": ["SQLALCHEMY_BINDS.cache"],
    }
    assert "hunter2" not in json.dumps(facts)


def test_config_facts_use_flask_defaults() -> None:
    facts = facts_mod.config_facts({})
    assert facts == {
        "debug": False,
        "testing": False,
        "session_cookie_secure": False,
        "session_cookie_httponly": True,
        "session_cookie_samesite": None,
        "flask_login": False,
        "remember_cookie_secure": None,
        "preferred_url_scheme": "http",
        "max_content_length": None,
        "wtf_csrf_enabled": None,
        "server_name": None,
        "explain_template_loading": False,
        "proxy_fix": None,
        "proxy_fix_x_proto": None,
        "secret_key_set": False,
        "secret_key_length": 0,
        "secret_key_entropy": 0.0,
        "secret_key_placeholder": False,
        "database_schemes": {},
        "sqlite_keys": [],
    }


def test_config_facts_follow_python_truth_like_flask() -> None:
    facts = facts_mod.config_facts({"DEBUG": 1, "SESSION_COOKIE_SECURE": "yes", "MAX_CONTENT_LENGTH": "1024", "REMEMBER_COOKIE_SECURE": 0})
    assert facts["debug"] is True
    assert facts["session_cookie_secure"] is True
    assert facts["max_content_length"] == 1024
    assert facts["flask_login"] is True
    assert facts["remember_cookie_secure"] is False
    assert facts_mod.config_facts({"MAX_CONTENT_LENGTH": True})["max_content_length"] is None


def test_find_proxy_fix_with_werkzeug() -> None:
    werkzeug_proxy_fix = pytest.importorskip("werkzeug.middleware.proxy_fix")

    def app(environ: dict, start_response: t.Callable) -> list:
        return []

    class Other:
        def __init__(self, app: t.Callable) -> None:
            self.app = app

    assert facts_mod.find_proxy_fix([app]) == (False, None)
    assert facts_mod.find_proxy_fix([None]) == (False, None)
    assert facts_mod.find_proxy_fix([werkzeug_proxy_fix.ProxyFix(app)]) == (True, 1)
    assert facts_mod.find_proxy_fix([Other(werkzeug_proxy_fix.ProxyFix(app, x_proto=0))]) == (True, 0)
    assert facts_mod.find_proxy_fix([Other(Other(app))]) == (False, None)
    loop = Other(app)
    loop.app = loop
    assert facts_mod.find_proxy_fix([loop]) == (False, None)


@pytest.fixture
def app_dir(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> t.Any:
    pytest.importorskip("flask")
    package = tmp_path / "factsapp"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent("""
        from flask import Flask
        from werkzeug.middleware.proxy_fix import ProxyFix

        def create_app(mode="plain", proxied=False):
            app = Flask(__name__)
            app.config["MODE"] = mode
            app.config["SECRET_KEY"] = "x" * 40
            if proxied:
                app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
            return app

        app = create_app("module-level")
        wrapped = ProxyFix(create_app("wrapped"))
        not_an_app = object()
    """))
    (tmp_path / "factsapp_bare.py").write_text("from factsapp import create_app\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [name for name in sys.modules if name.startswith("factsapp")]:
        del sys.modules[name]


def test_load_app_forms(app_dir: t.Any) -> None:
    assert facts_mod.load_app("factsapp:app").config["MODE"] == "module-level"
    assert facts_mod.load_app("factsapp").config["MODE"] == "module-level"
    assert facts_mod.load_app("factsapp:create_app()").config["MODE"] == "plain"
    assert facts_mod.load_app("factsapp:create_app('prod', proxied=True)").config["MODE"] == "prod"
    assert facts_mod.load_app("factsapp_bare").config["MODE"] == "plain"


@pytest.mark.parametrize(
    "spec, message",
    [
        (":app", "does not name a module"),
        ("factsapp:missing", "module 'factsapp' has no attribute 'missing'"),
        ("factsapp:create_app(os.getcwd())", "is not a name or a call with literal arguments"),
        ("factsapp:create_app(", "is not a name or a call"),
        ("factsapp:1 + 1", "is not a name or a call"),
    ],
)
def test_load_app_errors(app_dir: t.Any, spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        facts_mod.load_app(spec)


def test_unwrap_app(app_dir: t.Any) -> None:
    app, wrappers = facts_mod.unwrap_app(facts_mod.load_app("factsapp:wrapped"))
    assert app.config["MODE"] == "wrapped"
    assert [type(wrapper).__name__ for wrapper in wrappers] == ["ProxyFix"]
    with pytest.raises(ValueError, match="object is not a Flask application"):
        facts_mod.unwrap_app(facts_mod.load_app("factsapp:not_an_app"))


def test_app_facts(app_dir: t.Any) -> None:
    assert facts_mod.app_facts("factsapp:create_app()")["proxy_fix"] is False
    proxied = facts_mod.app_facts("factsapp:create_app(proxied=True)")
    assert proxied["proxy_fix"] is True and proxied["proxy_fix_x_proto"] == 1
    wrapped = facts_mod.app_facts("factsapp:wrapped")
    assert wrapped["proxy_fix"] is True
    assert wrapped["secret_key_length"] == 40
    assert wrapped["flask_version"]


def test_app_facts_report_the_static_folder(app_dir: t.Any) -> None:
    """app_static_dir auto serves the folder these facts name (a package's pkg/static)."""
    facts = facts_mod.app_facts("factsapp:app")
    assert facts["static_folder"] == str(app_dir / "factsapp" / "static")
    assert facts["static_url_path"] == "/static"


def test_static_facts_without_a_static_folder() -> None:
    flask = pytest.importorskip("flask")
    app = flask.Flask("nostatic", static_folder=None)
    assert facts_mod.static_facts(app) == {"static_folder": None, "static_url_path": None}
    custom = flask.Flask("custom", static_folder="/srv/assets", static_url_path="/assets")
    assert facts_mod.static_facts(custom) == {"static_folder": "/srv/assets", "static_url_path": "/assets"}


def test_source_runs_as_a_script(app_dir: t.Any) -> None:
    """The module runs this file's source with ``python -c``; it must print one report line."""
    source = open(facts_mod.__file__, encoding="utf-8").read()
    completed = subprocess.run(
        [sys.executable, "-c", source, "factsapp:create_app(proxied=True)"],
        cwd=str(app_dir), capture_output=True, text=True, check=True,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith(facts_mod.PROBE_MARKER)]
    assert len(lines) == 1
    report = json.loads(lines[0][len(facts_mod.PROBE_MARKER):])
    assert report["ok"] is True
    assert report["facts"]["proxy_fix"] is True
    assert "x" * 40 not in completed.stdout

    failed = subprocess.run(
        [sys.executable, "-c", source, "no_such_module:app"], cwd=str(app_dir), capture_output=True, text=True, check=True,
    )
    report = json.loads(failed.stdout.strip().splitlines()[-1][len(facts_mod.PROBE_MARKER):])
    assert report == {"ok": False, "error": "ModuleNotFoundError: No module named 'no_such_module'"}


def test_last_line() -> None:
    assert facts_mod.last_line("Traceback\n  x\nValueError: boom\n\n") == "ValueError: boom"
    assert facts_mod.last_line("") == ""
    assert not math.isnan(facts_mod.shannon_entropy("x"))
