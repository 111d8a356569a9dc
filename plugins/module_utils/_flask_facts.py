# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""Non-secret facts about a Flask configuration, for flaskops.deploy.flask_config_validate.

This file has two uses, and so imports nothing but the Python standard library:

* imported by the module, ``config_facts`` turns a configuration dict (mode ``config``) into facts;
* its source is run by the application's own Python (mode ``app``, ``python -c SOURCE IMPORT_STRING``):
  ``main`` imports the application, reads ``app.config`` and prints the same facts as one JSON line
  after ``PROBE_MARKER``.

Either way the facts never contain secret values: the secret key is reduced to its length, its
entropy and whether it is a known placeholder; database URLs to their scheme.
It must run on every Python that an application may use (3.8 and later).
"""

from __future__ import annotations

import ast
import importlib
import json
import math
import os
import re
import sys
import traceback

PROBE_MARKER = "@@flaskops.deploy.flask_facts@@"

# Flask's defaults for the keys the rules look at, used when a configuration dict leaves them out.
FLASK_DEFAULTS = {
    "DEBUG": False,
    "TESTING": False,
    "SECRET_KEY": None,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": None,
    "PREFERRED_URL_SCHEME": "http",
    "MAX_CONTENT_LENGTH": None,
    "SERVER_NAME": None,
    "EXPLAIN_TEMPLATE_LOADING": False,
}

DATABASE_KEYS = ("SQLALCHEMY_DATABASE_URI", "DATABASE", "DATABASE_URL")
DATABASE_BINDS_KEY = "SQLALCHEMY_BINDS"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".db3")

# Secret keys copied from tutorials, scaffolds and documentation, compared after normalize_secret().
PLACEHOLDER_SECRETS = frozenset([
    "dev", "development", "development key", "devkey", "dev-key", "dev_key", "default", "test", "testing",
    "test-key", "secret", "secret-key", "secret_key", "secretkey", "secret key", "mysecret", "my-secret",
    "my-secret-key", "mysecretkey", "my_secret_key", "supersecret", "super-secret", "super-secret-key",
    "super secret key", "supersecretkey", "topsecret", "top-secret", "change-me", "changeme", "change_me",
    "change me", "changethis", "change-this", "replace-me", "replaceme", "you-will-never-guess",
    "hard to guess string", "hard-to-guess-string", "password", "s3cr3t", "notsecret", "not-secret",
    "insecure", "xxx", "xxxx", "abc123", "123456", "your-secret-key", "your_secret_key", "yoursecretkey",
    "<secret>", "<secret-key>", "none", "null", "todo", "fixme", "placeholder", "example",
])

# Fragments that mark a placeholder however long the value is ("change-me-in-production", ...).
PLACEHOLDER_FRAGMENTS = (
    "change-me", "changeme", "change_me", "change-this", "changethis", "replace-me", "replaceme", "replace_me",
    "you-will-never-guess", "hard to guess string", "your-secret", "your_secret", "yoursecret", "not-secret",
    "notsecret", "insecure", "placeholder", "dont-use-in-prod", "do-not-use",
)


def normalize_secret(value: str) -> str:
    return value.strip().strip("'\"").strip().lower()


def is_placeholder(value: str | bytes) -> bool:
    """Whether a secret is a well-known placeholder."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return False
    text = normalize_secret(value)
    if text in PLACEHOLDER_SECRETS:
        return True
    return any(fragment in text for fragment in PLACEHOLDER_FRAGMENTS)


def shannon_entropy(value: str | bytes) -> float:
    """Shannon entropy of a string (per character) or of bytes (per byte), in bits."""
    if not value:
        return 0.0
    counts: dict[object, int] = {}
    for symbol in value:
        counts[symbol] = counts.get(symbol, 0) + 1
    total = float(len(value))
    return -sum((count / total) * math.log2(count / total) for count in counts.values())


def secret_facts(value: object) -> dict[str, object]:
    """Length (bytes), entropy and placeholder status of a secret key, never the key itself."""
    if value is None or value == "" or value == b"":
        return {"secret_key_set": False, "secret_key_length": 0, "secret_key_entropy": 0.0, "secret_key_placeholder": False}
    if not isinstance(value, (str, bytes)):
        value = str(value)
    length = len(value.encode("utf-8")) if isinstance(value, str) else len(value)
    return {
        "secret_key_set": True,
        "secret_key_length": length,
        "secret_key_entropy": round(shannon_entropy(value), 2),
        "secret_key_placeholder": is_placeholder(value),
    }


def describe_database(value: object) -> tuple[str, bool]:
    """(scheme, whether it is SQLite) of a database URL or path, without host, user or password."""
    text = str(value).strip()
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", text)
    scheme = match.group(1).lower() if match and "://" in text else ""
    path = text.split("?", 1)[0].lower()
    is_sqlite = scheme.startswith("sqlite") or path.endswith(SQLITE_SUFFIXES)
    if not scheme:
        scheme = "sqlite" if is_sqlite else "path"
    return scheme, is_sqlite


def database_facts(config: object) -> dict[str, object]:
    schemes: dict[str, str] = {}
    sqlite_keys: list[str] = []

    def add(name: str, value: object) -> None:
        if value is None or value == "":
            return
        scheme, is_sqlite = describe_database(value)
        schemes[name] = scheme
        if is_sqlite:
            sqlite_keys.append(name)

    for key in DATABASE_KEYS:
        add(key, _get(config, key))
    binds = _get(config, DATABASE_BINDS_KEY)
    if isinstance(binds, dict):
        for bind, value in sorted(binds.items(), key=lambda item: str(item[0])):
            if isinstance(value, dict):
                value = value.get("url")
            add(f"{DATABASE_BINDS_KEY}.{bind}", value)
    return {"database_schemes": schemes, "sqlite_keys": sqlite_keys}


def _get(config: object, key: str) -> object:
    try:
        return config[key]  # type: ignore[index]
    except (KeyError, TypeError):
        return FLASK_DEFAULTS.get(key)


def _has(config: object, key: str) -> bool:
    try:
        return key in config  # type: ignore[operator]
    except TypeError:
        return False


def _as_int(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    return str(value)


def config_facts(config: object, flask_login: bool | None = None, proxy_fix: bool | None = None,
                 proxy_fix_x_proto: int | None = None) -> dict[str, object]:
    """The facts the rules need, from a configuration mapping (a dict or ``app.config``).

    Keys that are missing take Flask's default. Booleans follow Python truth, as Flask does.
    ``flask_login`` tells whether Flask-Login is in use; when None it is guessed from
    ``REMEMBER_COOKIE_*`` keys.
    """
    if flask_login is None:
        flask_login = any(str(key).startswith("REMEMBER_COOKIE_") for key in config)  # type: ignore[attr-defined]
    facts: dict[str, object] = {
        "debug": bool(_get(config, "DEBUG")),
        "testing": bool(_get(config, "TESTING")),
        "session_cookie_secure": bool(_get(config, "SESSION_COOKIE_SECURE")),
        "session_cookie_httponly": bool(_get(config, "SESSION_COOKIE_HTTPONLY")),
        "session_cookie_samesite": _as_text(_get(config, "SESSION_COOKIE_SAMESITE")),
        "flask_login": bool(flask_login),
        "remember_cookie_secure": bool(_get(config, "REMEMBER_COOKIE_SECURE")) if _has(config, "REMEMBER_COOKIE_SECURE") else None,
        "preferred_url_scheme": _as_text(_get(config, "PREFERRED_URL_SCHEME")),
        "max_content_length": _as_int(_get(config, "MAX_CONTENT_LENGTH")),
        "wtf_csrf_enabled": bool(_get(config, "WTF_CSRF_ENABLED")) if _has(config, "WTF_CSRF_ENABLED") else None,
        "server_name": _as_text(_get(config, "SERVER_NAME")),
        "explain_template_loading": bool(_get(config, "EXPLAIN_TEMPLATE_LOADING")),
        "proxy_fix": proxy_fix,
        "proxy_fix_x_proto": proxy_fix_x_proto,
    }
    facts.update(secret_facts(_get(config, "SECRET_KEY")))
    facts.update(database_facts(config))
    return facts


# --- mode ``app``: what runs inside the application's Python --------------------------------------

def _is_flask_app(obj: object) -> bool:
    return hasattr(obj, "config") and hasattr(obj, "wsgi_app")


def _is_proxy_fix(obj: object) -> bool:
    return type(obj).__name__ == "ProxyFix"


def find_proxy_fix(wsgi_chain: list) -> tuple[bool, int | None]:
    """Look for werkzeug's ProxyFix among WSGI callables, following each one's ``.app`` attribute."""
    seen = set()
    for start in wsgi_chain:
        current = start
        for dummy in range(20):
            if current is None or id(current) in seen:
                break
            seen.add(id(current))
            if _is_proxy_fix(current):
                x_proto = getattr(current, "x_proto", None)
                return True, x_proto if isinstance(x_proto, int) else None
            current = getattr(current, "app", None)
    return False, None


def _literal_arguments(call: ast.Call) -> tuple[list, dict]:
    args = [ast.literal_eval(arg) for arg in call.args]
    kwargs = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords if keyword.arg}
    return args, kwargs


def _dotted_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted_name(node.value)}.{node.attr}"
    raise ValueError("not a name")


def load_app(import_string: str) -> object:
    """Import ``module:name``, ``module:factory()`` (literal arguments allowed) or ``module``.

    A bare module is searched like ``flask --app`` does: ``app``, ``application``, then the
    factories ``create_app`` and ``make_app``.
    """
    module_name, _sep, expression = import_string.strip().partition(":")
    if not module_name:
        raise ValueError(f"{import_string!r} does not name a module")
    module = importlib.import_module(module_name)
    if not expression:
        for name in ("app", "application"):
            if _is_flask_app(getattr(module, name, None)):
                return getattr(module, name)
        for name in ("create_app", "make_app"):
            factory = getattr(module, name, None)
            if callable(factory):
                return factory()
        raise ValueError(f"module {module_name!r} has no 'app' or 'application' and no 'create_app' or 'make_app' factory")
    try:
        node = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError:
        raise ValueError(f"{expression!r} is not a name or a call") from None
    call = node if isinstance(node, ast.Call) else None
    try:
        name = _dotted_name(call.func if call is not None else node)
        args, kwargs = _literal_arguments(call) if call is not None else ([], {})
    except ValueError:
        raise ValueError(f"{expression!r} is not a name or a call with literal arguments") from None
    obj: object = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {module_name!r} has no attribute {name!r}")
        obj = getattr(obj, part)
    if call is not None:
        obj = obj(*args, **kwargs)  # type: ignore[operator]
    return obj


def unwrap_app(obj: object) -> tuple[object, list]:
    """Find the Flask app inside WSGI middleware (``application = ProxyFix(app)``).

    Returns the app and the middleware found around it, outermost first.
    """
    wrappers = []
    current = obj
    for dummy in range(20):
        if _is_flask_app(current):
            return current, wrappers
        inner = getattr(current, "app", None)
        if inner is None:
            break
        wrappers.append(current)
        current = inner
    raise ValueError(f"{type(obj).__name__} object is not a Flask application (it has no 'config' and 'wsgi_app')")


def static_facts(app: object) -> dict[str, object]:
    """Where the application serves its static files from: the absolute ``static_folder`` and ``static_url_path``.

    Both are None when the application has no static folder (``static_folder=None``).
    """
    folder = getattr(app, "static_folder", None)
    url_path = getattr(app, "static_url_path", None)
    return {
        "static_folder": os.path.abspath(str(folder)) if folder else None,
        "static_url_path": str(url_path) if folder and url_path is not None else None,
    }


def app_facts(import_string: str) -> dict[str, object]:
    """Import the application and return its facts (runs inside the application's Python)."""
    app, wrappers = unwrap_app(load_app(import_string))
    found, x_proto = find_proxy_fix(wrappers + [getattr(app, "wsgi_app", None)])
    facts = config_facts(
        app.config,  # type: ignore[attr-defined]
        flask_login=getattr(app, "login_manager", None) is not None,
        proxy_fix=found,
        proxy_fix_x_proto=x_proto,
    )
    facts.update(static_facts(app))
    try:
        from importlib.metadata import version  # pylint: disable=import-outside-toplevel
        facts["flask_version"] = version("flask")
    except Exception:  # pylint: disable=broad-exception-caught
        facts["flask_version"] = None
    return facts


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def main(argv: list) -> None:
    """Entry point of ``python -c SOURCE IMPORT_STRING``: print the marker and the facts as JSON."""
    import_string = argv[1] if len(argv) > 1 else ""
    try:
        report: dict[str, object] = {"ok": True, "facts": app_facts(import_string)}
    except BaseException as error:  # pylint: disable=broad-exception-caught
        # The application may raise anything while it is imported, SystemExit included.
        report = {"ok": False, "error": last_line("".join(traceback.format_exception_only(type(error), error)))}
    sys.stdout.flush()
    sys.stdout.write(f"\n{PROBE_MARKER}{json.dumps(report, sort_keys=True, default=str)}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
