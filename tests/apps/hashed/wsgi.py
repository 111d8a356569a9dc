"""A module-level app that reads SECRET_KEY from instance/config.py (a link to shared/instance)."""

from flask import Flask

app = Flask(__name__, instance_relative_config=True)
app.config.from_pyfile("config.py")


@app.get("/health")
def health():
    return {"status": "ok", "shape": "hashed", "instance": app.instance_path}
