"""hello_app: the example Flask application deployed by flaskops.deploy's demo and tests."""

import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import db, views

VERSION_FILE = Path(__file__).with_name("VERSION")


def read_version():
    """The release's version string (the VERSION file shipped with the code)."""
    try:
        return VERSION_FILE.read_text(encoding="utf-8").strip()
    except OSError:
        return "unknown"


def create_app(test_config=None):
    """Application factory.

    Configuration comes from the environment: every ``FLASK_<NAME>`` variable sets
    ``app.config[NAME]`` (values are parsed as JSON when they can be, so
    ``FLASK_SESSION_COOKIE_SECURE=true`` is a boolean).
    """
    app = Flask(__name__, instance_path=os.environ.get("HELLO_INSTANCE_PATH") or None)
    app.config.from_mapping(
        DATABASE=os.path.join(app.instance_path, "hello.sqlite3"),
        UPLOAD_FOLDER=os.path.join(app.instance_path, "uploads"),
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PROXY_FIX_HOPS=1,
        APP_VERSION=read_version(),
    )
    if test_config is None:
        app.config.from_prefixed_env("FLASK")
    else:
        app.config.from_mapping(test_config)

    os.makedirs(app.config["UPLOAD_FOLDER"], exist_ok=True)

    db.init_app(app)
    app.register_blueprint(views.bp)

    hops = int(app.config.get("PROXY_FIX_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    return app
