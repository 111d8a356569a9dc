"""Routes: a page, notes in SQLite, uploads and /health."""

import os
import sqlite3

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from werkzeug.utils import secure_filename

from .db import get_db

bp = Blueprint("hello", __name__)


@bp.get("/")
def index():
    notes = get_db().execute("SELECT id, body, created FROM notes ORDER BY id DESC LIMIT 20").fetchall()
    return render_template("index.html", notes=notes, version=current_app.config["APP_VERSION"])


@bp.get("/version")
def version():
    return jsonify(version=current_app.config["APP_VERSION"], home=url_for("hello.index", _external=True))


@bp.post("/notes")
def add_note():
    body = (request.get_json(silent=True) or {}).get("body") or request.form.get("body")
    if not body:
        abort(400, "body is required")
    conn = get_db()
    cur = conn.execute("INSERT INTO notes (body) VALUES (?)", (body,))
    conn.commit()
    return jsonify(id=cur.lastrowid, body=body), 201


@bp.get("/notes")
def list_notes():
    rows = get_db().execute("SELECT id, body FROM notes ORDER BY id").fetchall()
    return jsonify(notes=[dict(r) for r in rows], count=len(rows))


@bp.post("/upload")
def upload():
    f = request.files.get("file")
    if f is None or not f.filename:
        abort(400, "file is required")
    name = secure_filename(f.filename)
    f.save(os.path.join(current_app.config["UPLOAD_FOLDER"], name))
    return jsonify(stored=name), 201


@bp.get("/health")
def health():
    checks = {}
    try:
        get_db().execute("SELECT count(*) FROM notes").fetchone()
        checks["db"] = "ok"
    except sqlite3.Error as exc:
        checks["db"] = "error: %s" % exc
    ok = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ok else "error", "version": current_app.config["APP_VERSION"], "checks": checks}
    return jsonify(body), 200 if ok else 503
