"""Data in SQLite under shared/: a one-time `init-data` and a `migrate` run on every release."""

import os
import sqlite3

import click
from flask import Flask, request

# Migration n brings the schema from PRAGMA user_version n-1 to n. Append only; each must keep the previous
# release working (the old release serves while the new one migrates).
MIGRATIONS = [
    "CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
    "ALTER TABLE items ADD COLUMN created TEXT",
]


def data_dir():
    return os.environ["MIGRATE_DATA_DIR"]


def connect():
    return sqlite3.connect(os.path.join(data_dir(), "items.sqlite3"), timeout=10)


def log(name, line):
    with open(os.path.join(data_dir(), name), "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def create_app():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]

    @app.cli.command("migrate")
    def migrate():
        """Apply the migrations newer than the database's user_version (safe to run again)."""
        with connect() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, statement in enumerate(MIGRATIONS[version:], start=version + 1):
                db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
        log("migrate.log", f"migrated from {version} to {len(MIGRATIONS)}")
        click.echo(f"schema at version {len(MIGRATIONS)}")

    @app.cli.command("init-data")
    def init_data():
        """One-time initialisation: record it (a second run would add a second line)."""
        log("init.log", "initialised")

    @app.get("/health")
    def health():
        with connect() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
        return {"status": "ok", "shape": "migrate", "schema": version}

    @app.post("/items")
    def add_item():
        with connect() as db:
            db.execute("INSERT INTO items (body) VALUES (?)", (request.get_json()["body"],))
        return {"added": True}, 201

    @app.get("/items")
    def list_items():
        with connect() as db:
            return {"items": [row[0] for row in db.execute("SELECT body FROM items ORDER BY id")]}

    return app
