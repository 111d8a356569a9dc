"""A queue in SQLite (WORKER_DATA_DIR/queue.sqlite3): the web app enqueues jobs, a worker process runs them, scheduled
jobs print a tick or fail. Everything says which code did the work: the VERSION file of its release."""

import os
import pathlib
import sqlite3

RELEASE_DIR = pathlib.Path(__file__).resolve().parent.parent
VERSION = (RELEASE_DIR / "VERSION").read_text(encoding="utf-8").strip()


def connect():
    db = sqlite3.connect(os.path.join(os.environ["WORKER_DATA_DIR"], "queue.sqlite3"), timeout=30, isolation_level=None)
    db.execute(
        "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, seconds REAL NOT NULL, until_stop INTEGER NOT NULL,"
        " state TEXT NOT NULL DEFAULT 'queued', worker TEXT, result TEXT)"
    )
    return db


def create_app():
    # Flask is imported here only: the worker and the jobs (python -m worker_app ...) start without it.
    from flask import Flask, request  # pylint: disable=import-outside-toplevel

    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]

    @app.get("/health")
    def health():
        return {"status": "ok", "shape": "worker", "version": VERSION}

    @app.post("/jobs")
    def enqueue():
        """{"seconds": n}: a job that sleeps n seconds; with "until_stop": true, it runs until its worker is asked to
        stop, then n seconds more (a job in flight during a deploy, whatever the deploy's duration)."""
        body = request.get_json()
        with connect() as db:
            cursor = db.execute("INSERT INTO jobs (seconds, until_stop) VALUES (?, ?)",
                                (float(body.get("seconds", 0)), int(bool(body.get("until_stop")))))
        return {"id": cursor.lastrowid}, 201

    @app.get("/jobs/<int:job>")
    def status(job):
        with connect() as db:
            row = db.execute("SELECT state, worker, result FROM jobs WHERE id = ?", (job,)).fetchone()
        if row is None:
            return {"error": "no such job"}, 404
        return {"id": job, "state": row[0], "worker": row[1], "result": row[2]}

    return app
