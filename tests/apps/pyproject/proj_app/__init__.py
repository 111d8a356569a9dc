"""An app factory in a package installed from its pyproject.toml; SECRET_KEY comes from the environment."""

import os

from flask import Flask


def create_app():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]

    @app.get("/health")
    def health():
        return {"status": "ok", "shape": "pyproject"}

    return app
