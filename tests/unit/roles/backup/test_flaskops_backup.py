"""The backup role's job program (roles/backup/files/flaskops-backup.py): the parts that need no restic."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import pathlib
import sqlite3

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[4] / "roles" / "backup" / "files" / "flaskops-backup.py"


@pytest.fixture(scope="module")
def job():
    loader = importlib.machinery.SourceFileLoader("flaskops_backup", str(SCRIPT))
    spec = importlib.util.spec_from_loader("flaskops_backup", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def make_db(path, rows=50, wal=True):
    db = sqlite3.connect(path)
    if wal:
        db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)")
    db.executemany("INSERT INTO notes (body) VALUES (?)", [("row %d" % i,) for i in range(rows)])
    db.commit()
    return db


def test_forget_args_follow_the_policy(job):
    config = {"host": "web1", "tag": "flaskops-hello", "keep": {"last": 0, "daily": 7, "weekly": 4, "monthly": 6, "yearly": 0}}
    assert job.forget_args(config) == [
        "forget", "--host", "web1", "--tag", "flaskops-hello", "--group-by", "host,tags",
        "--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "6",
    ]


def test_online_copy_of_a_live_wal_database_is_whole(job, tmp_path):
    source = tmp_path / "live.sqlite3"
    writer = make_db(source)
    writer.execute("INSERT INTO notes (body) VALUES ('committed')")
    writer.commit()
    writer.execute("BEGIN")
    writer.execute("INSERT INTO notes (body) VALUES ('not committed')")  # open write transaction during the copy
    entry = job.sqlite_online_copy(str(source), str(tmp_path / "staging" / "copy.sqlite3"))
    writer.rollback()
    writer.close()
    assert entry["integrity"] == "ok"
    assert entry["journal_mode"] == "wal"
    assert entry["rows"]["notes"] == 51
    assert not os.path.exists(str(tmp_path / "staging" / "copy.sqlite3-wal"))
    integrity, rows = job.sqlite_check_file(str(tmp_path / "staging" / "copy.sqlite3"))
    assert (integrity, rows["notes"]) == ("ok", 51)


def test_an_empty_copy_of_a_database_with_rows_is_refused(job, tmp_path, monkeypatch):
    make_db(tmp_path / "live.sqlite3").close()
    real = job.table_counts
    calls = []

    def counts(conn):
        calls.append(1)
        result = real(conn)
        return result if len(calls) == 1 else {name: 0 for name in result}  # the copy looks empty

    monkeypatch.setattr(job, "table_counts", counts)
    with pytest.raises(job.BackupError, match="is empty but the source had 51 rows"):
        job.sqlite_online_copy(str(tmp_path / "live.sqlite3"), str(tmp_path / "copy.sqlite3"))
    assert not (tmp_path / "copy.sqlite3").exists()


def test_a_missing_database_is_an_error(job, tmp_path):
    with pytest.raises(job.BackupError, match="does not exist"):
        job.sqlite_online_copy(str(tmp_path / "nope.sqlite3"), str(tmp_path / "copy.sqlite3"))


def test_copy_into_place_replaces_a_directory_and_a_file(job, tmp_path):
    staged, live = tmp_path / "restore" / "uploads", tmp_path / "srv" / "uploads"
    staged.mkdir(parents=True)
    (staged / "a.txt").write_text("from the snapshot")
    live.mkdir(parents=True)
    (live / "b.txt").write_text("created after the snapshot")
    job.copy_into_place(str(staged), str(live))
    assert sorted(p.name for p in live.iterdir()) == ["a.txt"]
    assert not (tmp_path / "srv" / "uploads.flaskops-old").exists()
    (tmp_path / "restore" / "env").write_text("A=1\n")
    (tmp_path / "srv" / "env").write_text("A=2\n")
    job.copy_into_place(str(tmp_path / "restore" / "env"), str(tmp_path / "srv" / "env"))
    assert (tmp_path / "srv" / "env").read_text() == "A=1\n"


def test_copy_into_place_needs_the_parent(job, tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(job.BackupError, match="converge the host"):
        job.copy_into_place(str(tmp_path / "f"), str(tmp_path / "missing" / "f"))


def test_env_file_is_plain_key_value(job, tmp_path):
    env = tmp_path / "restic.env"
    env.write_text("# comment\nAWS_ACCESS_KEY_ID=abc\nAWS_SECRET_ACCESS_KEY=a=b c\n\nnot a pair\n")
    assert job.read_env_file(str(env)) == {"AWS_ACCESS_KEY_ID": "abc", "AWS_SECRET_ACCESS_KEY": "a=b c"}
    assert job.read_env_file(str(tmp_path / "none")) == {}


def test_stage_writes_a_manifest(job, tmp_path):
    make_db(tmp_path / "live.sqlite3", rows=3).close()
    config = {"staging_dir": str(tmp_path / "staging"), "sqlite": [str(tmp_path / "live.sqlite3")], "postgresql": {}}
    manifest = job.stage(config)
    on_disk = json.loads((tmp_path / "staging" / "manifest.json").read_text())
    assert on_disk["sqlite"][0]["rows"] == {"notes": 3, "sqlite_sequence": 1} == manifest["sqlite"][0]["rows"]
    assert on_disk["sqlite"][0]["copy"].startswith(str(tmp_path / "staging" / "sqlite"))
