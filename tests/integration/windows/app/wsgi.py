"""A small Flask app for the iis role's integration test on a Windows host."""

import os

from flask import Flask, jsonify, request

app = Flask(__name__)


def release():
    # The service's working directory is the `current` junction; its target is releases\<id>.
    return os.path.basename(os.path.realpath(os.getcwd()))


@app.get("/health")
def health():
    if os.path.exists("BROKEN"):
        return jsonify(status="broken", release=release()), 500
    return jsonify(status="ok", release=release())


@app.get("/")
def index():
    return jsonify(
        scheme=request.scheme,
        host=request.host,
        remote_addr=request.remote_addr,
        plain=os.environ.get("FLASKOPS_TEST_PLAIN"),
        secret_set=bool(os.environ.get("FLASKOPS_TEST_SECRET")),
    )


@app.post("/upload")
def upload():
    return jsonify(size=len(request.get_data()))


@app.after_request
def served_by(response):
    response.headers["X-Served-By"] = "flask"
    return response
