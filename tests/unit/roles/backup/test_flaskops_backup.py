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


def test_check_reads_the_parts_in_turn_and_every_pack_within_n_checks(job):
    config = {"check_read_data_parts": 7}
    state, seen = {}, []
    while len(seen) < 9:
        extra, what, state = job.check_plan(config, state)
        seen.append(extra[1])
    assert seen == ["1/7", "2/7", "3/7", "4/7", "5/7", "6/7", "7/7", "1/7", "2/7"]
    assert what == "data part 2/7 read"
    # restic puts a pack in part 1 + (first byte of its id) mod N: N consecutive checks read every possible pack.
    parts = {int(p.split("/")[0]) for p in seen[:7]}
    assert all(first_byte % 7 + 1 in parts for first_byte in range(256))


def test_check_starts_over_when_the_number_of_parts_changes_or_the_state_is_bad(job):
    config = {"check_read_data_parts": 4}
    assert job.check_plan(config, {"parts": 7, "next": 6})[0] == ["--read-data-subset", "1/4"]
    assert job.check_plan(config, {"parts": 4, "next": 9})[0] == ["--read-data-subset", "1/4"]
    assert job.check_plan(config, {"parts": 4, "next": "x"})[0] == ["--read-data-subset", "1/4"]
    assert job.check_plan(config, {"parts": 4, "next": 4})[2] == {"parts": 4, "next": 1}


def test_a_full_read_or_a_fixed_subset_wins_and_keeps_the_rotation(job):
    state = {"parts": 7, "next": 3}
    assert job.check_plan({"check_read_data_parts": 7}, state, read_all=True) == (["--read-data"], "all data read", None)
    assert job.check_plan({"check_read_data_parts": 7, "check_read_data": True}, state)[2] is None
    assert job.check_plan({"check_read_data_parts": 7, "check_read_data_subset": "10%"}, state)[:2] == (
        ["--read-data-subset", "10%"], "data subset 10% read")
    assert job.check_plan({"check_read_data_parts": 0}, state) == ([], "structure only, no data read", None)


class FakeRestic:
    """restic that records its calls and fails (as a corrupted part would) on an argument."""

    def __init__(self, error):
        self.calls, self.fail_on, self.error = [], None, error

    def __call__(self, *args, **kwargs):
        self.calls.append(args)
        if self.fail_on and self.fail_on in args:
            raise self.error("restic check failed (exit 1)")


def test_only_a_passing_check_moves_on(job, tmp_path, monkeypatch):
    state_file = tmp_path / "check-state.json"
    config = {"name": "hello", "check_read_data_parts": 7, "check_state_file": str(state_file),
              "lock_file": str(tmp_path / "lock"), "report_dir": str(tmp_path)}
    args = type("Args", (), {"repository": None, "read_data": False})()
    fake = FakeRestic(job.BackupError)
    monkeypatch.setattr(job, "Restic", lambda config, repository: fake)
    assert job.cmd_check(config, args) == 0
    assert job.cmd_check(config, args) == 0
    assert [call[-1] for call in fake.calls] == ["1/7", "2/7"]
    assert json.loads(state_file.read_text()) == {"parts": 7, "next": 3}
    assert (tmp_path / "last-check.txt").read_text() == "check of hello passed (data part 2/7 read)"
    fake.fail_on = "3/7"
    assert job.cmd_check(config, args) == 1
    assert job.cmd_check(config, args) == 1
    assert [call[-1] for call in fake.calls][2:] == ["3/7", "3/7"]
    assert json.loads(state_file.read_text()) == {"parts": 7, "next": 3}
    assert (tmp_path / "last-check.txt").read_text().startswith("check of hello failed (data part 3/7 read)")


def test_notify_sends_the_last_outcome_to_its_url(job, tmp_path, monkeypatch):
    sent = []
    monkeypatch.setattr(job, "ping", lambda url, body: sent.append((url, body)))
    config = {"name": "hello", "report_dir": str(tmp_path), "ping_url": "http://m/ok", "ping_failure_url": "http://m/fail"}
    (tmp_path / "last-backup.txt").write_text("backup of hello failed: disk full")
    notify = type("Args", (), {"event": "backup-fail"})()
    assert job.cmd_notify(config, notify) == 0
    notify.event = "check-ok"
    assert job.cmd_notify(config, notify) == 0
    assert sent == [("http://m/fail", "backup of hello failed: disk full"), ("http://m/ok", "check of hello passed")]


def test_without_a_report_dir_the_job_pings_itself(job, monkeypatch):
    sent = []
    monkeypatch.setattr(job, "ping", lambda url, body: sent.append((url, body)))
    job.report({"ping_url": "http://m/ok", "ping_failure_url": "http://m/fail"}, "check", False, "bad")
    assert sent == [("http://m/fail", "bad")]
