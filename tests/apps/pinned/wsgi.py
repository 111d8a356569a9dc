"""A module-level app whose requirements pin gunicorn; it reports the server version it runs under."""

from importlib.metadata import version

from flask import Flask

app = Flask(__name__)
app.config.from_prefixed_env()


@app.get("/health")
def health():
    return {"status": "ok", "shape": "pinned", "gunicorn": version("gunicorn")}
