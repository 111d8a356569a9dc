"""A Flask-SocketIO app: an `echo` event answered with an acknowledgement, and /health. Both name the release's
version (the VERSION file next to this module), so a test sees which release answered."""

import pathlib

from flask import Flask
from flask_socketio import SocketIO
from werkzeug.middleware.proxy_fix import ProxyFix

VERSION = (pathlib.Path(__file__).with_name("VERSION").read_text(encoding="utf-8").strip() or "unknown")

app = Flask(__name__)
app.config.from_prefixed_env()
# The async mode follows what is installed (eventlet, as gunicorn's worker class): the recipe in docs/apps.md.
socketio = SocketIO(app)
# nginx in front (one hop): url_for builds https links. Wrapped after SocketIO, around its middleware.
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)


@app.get("/health")
def health():
    return {"status": "ok", "shape": "socketio", "version": VERSION, "async_mode": socketio.async_mode}


@socketio.on("echo")
def echo(data):
    """The acknowledgement carries the data back and the version of the release that answered."""
    return {"echo": data, "version": VERSION}
