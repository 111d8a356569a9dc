#!/usr/bin/python3
"""flaskops-backup: back up and restore one application with restic.

    flaskops-backup --config /etc/flaskops-backup/NAME.json init
    flaskops-backup --config ... run                      dump databases, back up, apply retention, ping
    flaskops-backup --config ... forget [--dry-run]       apply the retention policy (and prune)
    flaskops-backup --config ... check [--read-data]      verify the repository (and read a part of its data)
    flaskops-backup --config ... snapshots [--snapshot ID]
    flaskops-backup --config ... restore --snapshot ID    put a snapshot back in place (the app must be stopped)
    flaskops-backup --config ... notify backup-ok|backup-fail|check-ok|check-fail   send the last outcome's ping

SQLite databases are copied with SQLite's online backup API (never a file copy), checked (integrity_check, same
tables as the source, not empty when the source was not) and backed up from a staging directory with a manifest.
PostgreSQL databases are dumped with pg_dump. Files and directories are backed up as they are, without the live
SQLite files. A check reads the next of check_read_data_parts parts of the data each time (restic check
--read-data-subset n/N, n kept in check_state_file and advanced when the check passes), so that every pack is read
once in N checks; --read-data reads all of it. The configuration is written by the flaskops.deploy.backup role; `--repository` overrides the
repository (for inspection and tests). Exit codes: 0 success, 1 failure, 2 restore failed before any live file
was touched.
"""

import argparse
import contextlib
import datetime
import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request

SQLITE_SUFFIXES = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """A failure with a message for the journal."""


def log(message):
    print(message, flush=True)


def load_config(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_env_file(path):
    """KEY=VALUE lines (no shell syntax) of the repository's credentials."""
    env = {}
    if not path or not os.path.exists(path):
        return env
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            env[key.strip()] = value
    return env


class Restic:
    def __init__(self, config, repository=None):
        self.config = config
        self.env = dict(os.environ)
        self.env.update(read_env_file(config.get("env_file")))
        self.env["RESTIC_REPOSITORY"] = repository or config["repository"]
        self.env["RESTIC_PASSWORD_FILE"] = config["password_file"]
        self.env["RESTIC_CACHE_DIR"] = config["cache_dir"]
        self.env.pop("RESTIC_PASSWORD", None)
        self.options = list(config.get("restic_options", []))

    def __call__(self, *args, capture=False, check=True):
        cmd = ["restic"] + self.options + list(args)
        result = subprocess.run(cmd, env=self.env, text=True, capture_output=capture, check=False)
        if check and result.returncode != 0:
            detail = (result.stderr or "").strip() if capture else ""
            raise BackupError("restic %s failed (exit %d) %s" % (args[0], result.returncode, detail))
        return result

    def json(self, *args):
        return json.loads(self(*args, "--json", capture=True).stdout or "null")


def selection(config):
    return ["--host", config["host"], "--tag", config["tag"]]


# --- SQLite ---------------------------------------------------------------------------------------------------


def table_counts(conn):
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {name: conn.execute('SELECT count(*) FROM "%s"' % name.replace('"', '""')).fetchone()[0] for name in names}


def sqlite_online_copy(source, destination):
    """Copy a live database with the online backup API, then prove the copy is whole."""
    if not os.path.exists(source):
        raise BackupError("SQLite database %s does not exist" % source)
    st = os.stat(source)
    tmp = destination + ".tmp"
    for leftover in (tmp,) + tuple(tmp + s for s in SQLITE_SUFFIXES):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leftover)
    os.makedirs(os.path.dirname(destination), mode=0o700, exist_ok=True)
    src = sqlite3.connect(source, timeout=60)
    try:
        src.execute("PRAGMA busy_timeout = 60000")
        before = table_counts(src)
        journal_mode = src.execute("PRAGMA journal_mode").fetchone()[0]
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)  # every page in one step, inside one read transaction: a consistent snapshot
            dst.execute("PRAGMA journal_mode = DELETE")  # a self-contained file, no -wal beside it
            integrity = dst.execute("PRAGMA integrity_check").fetchone()[0]
            after = table_counts(dst)
        finally:
            dst.close()
    finally:
        src.close()
    if integrity != "ok":
        raise BackupError("copy of %s failed integrity_check: %s" % (source, integrity))
    if sorted(after) != sorted(before):
        raise BackupError("copy of %s has tables %s, the source %s" % (source, sorted(after), sorted(before)))
    if sum(before.values()) > 0 and sum(after.values()) == 0:
        raise BackupError("copy of %s is empty but the source had %d rows" % (source, sum(before.values())))
    os.chmod(tmp, st.st_mode & 0o7777)  # before the chown: a file no longer ours would need CAP_FOWNER
    os.chown(tmp, st.st_uid, st.st_gid)
    os.replace(tmp, destination)
    return {
        "source": source,
        "copy": destination,
        "uid": st.st_uid,
        "gid": st.st_gid,
        "mode": st.st_mode & 0o7777,
        "journal_mode": journal_mode,
        "rows": after,
        "integrity": integrity,
    }


def sqlite_check_file(path):
    conn = sqlite3.connect("file:%s?mode=ro&immutable=1" % path, uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0], table_counts(conn)
    finally:
        conn.close()


# --- PostgreSQL -----------------------------------------------------------------------------------------------


def pg_dump(config, database, destination):
    pg = config["postgresql"]
    os.makedirs(os.path.dirname(destination), mode=0o700, exist_ok=True)
    cmd = ["runuser", "-u", pg["user"], "--", "pg_dump", "--format=custom"] + pg.get("dump_options", []) + [database]
    with open(destination + ".tmp", "wb") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, text=False, check=False)
    if result.returncode != 0:
        raise BackupError("pg_dump %s failed: %s" % (database, result.stderr.decode(errors="replace").strip()))
    os.replace(destination + ".tmp", destination)
    return {"database": database, "dump": destination, "bytes": os.path.getsize(destination)}


def pg_restore(config, database, dump):
    pg = config["postgresql"]
    cmd = ["runuser", "-u", pg["user"], "--", "pg_restore", "--clean", "--if-exists", "--exit-on-error",
           "--dbname", database]
    with open(dump, "rb") as f:
        result = subprocess.run(cmd, stdin=f, stderr=subprocess.PIPE, check=False)
    if result.returncode != 0:
        raise BackupError("pg_restore %s failed: %s" % (database, result.stderr.decode(errors="replace").strip()))


# --- commands -------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def job_lock(config):
    """One job of an application at a time (a backup and a check must not overlap)."""
    path = config.get("lock_file") or "/run/lock/flaskops-backup-%s.lock" % config["name"]
    with open(path, "w", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def ping(url, body):
    if not url:
        return
    try:
        urllib.request.urlopen(url, data=body.encode()[-10000:], timeout=10).close()
    except OSError as exc:  # a monitoring outage must not fail the backup
        log("warning: ping %s failed: %s" % (url, exc))


def report(config, kind, ok, text):
    """The outcome of a backup or check for monitoring.

    With report_dir (the role's units), the text is written there and the unit's OnSuccess=/OnFailure= unit sends
    it (`notify`): the jobs themselves need no network. Without it, the ping is sent from here.
    """
    if config.get("report_dir"):
        path = os.path.join(config["report_dir"], "last-%s.txt" % kind)
        try:
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(path + ".tmp", path)
        except OSError as exc:  # the unit's state still tells success from failure
            log("warning: cannot write %s: %s" % (path, exc))
        return
    ping(config.get("ping_url") if ok else config.get("ping_failure_url"), text)


def cmd_notify(config, args):
    """Send the last outcome of a job (backup-ok, backup-fail, check-ok, check-fail) to its ping URL."""
    kind, outcome = args.event.split("-", 1)
    url = config.get("ping_url") if outcome == "ok" else config.get("ping_failure_url")
    text = "%s of %s %s" % (kind, config["name"], "passed" if outcome == "ok" else "failed")
    with contextlib.suppress(OSError):
        with open(os.path.join(config.get("report_dir", ""), "last-%s.txt" % kind), encoding="utf-8") as f:
            text = f.read()
    ping(url, text)
    return 0


def cmd_init(config, args):
    restic = Restic(config, args.repository)
    if restic("cat", "config", capture=True, check=False).returncode == 0:
        log("exists")
        return 0
    result = restic("init", capture=True, check=False)
    if result.returncode != 0:
        probe = restic("cat", "config", capture=True, check=False)
        raise BackupError("cannot open or create the repository: %s %s" % (result.stderr.strip(), probe.stderr.strip()))
    log("created")
    return 0


def stage(config):
    """Dump the databases into the staging directory and describe them in manifest.json."""
    staging = config["staging_dir"]
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging, mode=0o700)
    manifest = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(), "sqlite": [], "postgresql": []}
    for source in config.get("sqlite", []):
        copy = os.path.join(staging, "sqlite", source.lstrip("/"))
        entry = sqlite_online_copy(source, copy)
        log("sqlite %s: %d rows in %d tables, integrity %s"
            % (source, sum(entry["rows"].values()), len(entry["rows"]), entry["integrity"]))
        manifest["sqlite"].append(entry)
    for database in config.get("postgresql", {}).get("databases", []):
        entry = pg_dump(config, database, os.path.join(staging, "postgresql", database + ".dump"))
        log("postgresql %s: %d bytes" % (database, entry["bytes"]))
        manifest["postgresql"].append(entry)
    with open(os.path.join(staging, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def forget_args(config):
    keep = config["keep"]
    args = ["forget"] + selection(config) + ["--group-by", "host,tags"]
    for kind in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
        if int(keep.get(kind, 0)) > 0:
            args += ["--keep-%s" % kind, str(keep[kind])]
    if keep.get("within"):
        args += ["--keep-within", keep["within"]]
    return args


def cmd_run(config, args):
    restic = Restic(config, args.repository)
    started = time.monotonic()
    try:
        with job_lock(config):
            restic("unlock", capture=True, check=False)  # removes stale locks of dead processes only
            manifest = stage(config)
            paths = [config["staging_dir"]]
            for path in config.get("paths", []):
                if os.path.lexists(path):
                    paths.append(path)
                else:
                    log("warning: %s does not exist, not backed up" % path)
            excludes = []
            for source in config.get("sqlite", []):
                excludes += ["--exclude", source] + [x for s in SQLITE_SUFFIXES for x in ("--exclude", source + s)]
            for pattern in config.get("exclude", []):
                excludes += ["--exclude", pattern]
            restic("backup", *selection(config), *excludes, *paths)
            if config.get("prune", True):
                restic(*forget_args(config), "--prune")
            else:
                restic(*forget_args(config))
            shutil.rmtree(config["staging_dir"], ignore_errors=True)
    except (BackupError, OSError, sqlite3.Error) as exc:
        log("error: backup of %s failed: %s" % (config["name"], exc))
        report(config, "backup", False, "backup of %s failed: %s" % (config["name"], exc))
        return 1
    summary = "backup of %s done in %.1fs: %d sqlite, %d postgresql, %d paths" % (
        config["name"], time.monotonic() - started, len(manifest["sqlite"]), len(manifest["postgresql"]), len(paths) - 1)
    log(summary)
    report(config, "backup", True, summary)
    return 0


def cmd_forget(config, args):
    restic = Restic(config, args.repository)
    extra = ["--dry-run"] if args.dry_run else (["--prune"] if config.get("prune", True) else [])
    with job_lock(config):
        restic(*forget_args(config), *extra)
    return 0


def read_check_state(path):
    """The rotation's saved state ({"parts": N, "next": n}), or {} when there is none or it is unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def check_plan(config, state, read_all=False):
    """What a check reads: (restic check's options, a description, the state to save when it passes, or None).

    A full read (read_all, check_read_data) wins over a fixed subset (check_read_data_subset), which wins over the
    rotation over check_read_data_parts parts: part n of N, then n + 1, back to 1 after N, so that N checks read
    every pack (restic puts a pack in part 1 + first byte of its id mod N). A state of another N starts over at 1.
    """
    if read_all or config.get("check_read_data"):
        return ["--read-data"], "all data read", None
    if config.get("check_read_data_subset"):
        subset = str(config["check_read_data_subset"])
        return ["--read-data-subset", subset], "data subset %s read" % subset, None
    parts = int(config.get("check_read_data_parts") or 0)
    if parts <= 0:
        return [], "structure only, no data read", None
    part = state.get("next", 1) if state.get("parts") == parts else 1
    if not isinstance(part, int) or not 1 <= part <= parts:
        part = 1
    return (["--read-data-subset", "%d/%d" % (part, parts)], "data part %d/%d read" % (part, parts),
            {"parts": parts, "next": part % parts + 1})


def write_check_state(path, state):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def cmd_check(config, args):
    restic = Restic(config, args.repository)
    state_file = config.get("check_state_file")
    what = "not started"
    try:
        with job_lock(config):
            extra, what, after = check_plan(config, read_check_state(state_file) if state_file else {}, args.read_data)
            restic("check", *extra)
            # Only a passing check moves on: a failed one (corruption or an unreachable repository) reads the same
            # part again next time, so no part is skipped and a corruption keeps failing until it is repaired.
            if after is not None and state_file and not args.repository:
                write_check_state(state_file, after)
    except (BackupError, OSError) as exc:
        log("error: check of %s failed (%s): %s" % (config["name"], what, exc))
        report(config, "check", False, "check of %s failed (%s): %s" % (config["name"], what, exc))
        return 1
    log("check of %s passed (%s)" % (config["name"], what))
    report(config, "check", True, "check of %s passed (%s)" % (config["name"], what))
    return 0


def find_snapshot(restic, config, snapshot):
    if snapshot == "latest":
        found = restic.json("snapshots", *selection(config), "--latest", "1")
    else:
        found = restic.json("snapshots", snapshot)
    if not found:
        raise BackupError("no snapshot %s of host %s with tag %s" % (snapshot, config["host"], config["tag"]))
    return found[-1]


def cmd_snapshots(config, args):
    restic = Restic(config, args.repository)
    if args.snapshot:
        print(json.dumps(find_snapshot(restic, config, args.snapshot)))
    else:
        print(json.dumps(restic.json("snapshots", *selection(config))))
    return 0


def copy_into_place(staged, live):
    """Replace live (a file or directory) by a copy of staged, keeping owners and modes (cp -a)."""
    parent = os.path.dirname(live)
    if not os.path.isdir(parent):
        raise BackupError("%s does not exist: converge the host (site.yml) before restoring" % parent)
    incoming, outgoing = live + ".flaskops-restore", live + ".flaskops-old"
    for leftover in (incoming, outgoing):
        if os.path.isdir(leftover) and not os.path.islink(leftover):
            shutil.rmtree(leftover)
        elif os.path.lexists(leftover):
            os.unlink(leftover)
    subprocess.run(["cp", "-a", staged, incoming], check=True)
    if os.path.lexists(live):
        os.rename(live, outgoing)
    os.rename(incoming, live)
    if os.path.isdir(outgoing) and not os.path.islink(outgoing):
        shutil.rmtree(outgoing)
    elif os.path.lexists(outgoing):
        os.unlink(outgoing)


def cmd_restore(config, args):
    restic = Restic(config, args.repository)
    target = config["restore_dir"]
    try:
        snap = find_snapshot(restic, config, args.snapshot)
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target, mode=0o700)
        restic("restore", snap["id"], "--target", target)
        staged = os.path.join(target, config["staging_dir"].lstrip("/"))
        with open(os.path.join(staged, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        checked = []
        for entry in manifest["sqlite"]:
            copy = os.path.join(target, entry["copy"].lstrip("/"))
            integrity, rows = sqlite_check_file(copy)
            if integrity != "ok" or rows != entry["rows"]:
                raise BackupError("restored copy of %s: integrity %s, rows %s, expected %s" % (
                    entry["source"], integrity, rows, entry["rows"]))
            checked.append((entry, copy))
    except (BackupError, OSError, ValueError, KeyError, sqlite3.Error) as exc:
        log("error: restore of %s failed before any live file was touched: %s" % (config["name"], exc))
        shutil.rmtree(target, ignore_errors=True)
        return 2
    restored = {"snapshot": snap["id"], "time": snap["time"], "paths": [], "sqlite": [], "postgresql": []}
    try:
        for path in snap["paths"]:
            if path == config["staging_dir"]:
                continue
            source = os.path.join(target, path.lstrip("/"))
            if not os.path.lexists(source):
                continue
            copy_into_place(source, path)
            restored["paths"].append(path)
            log("restored %s" % path)
        for entry, copy in checked:
            live = entry["source"]
            incoming = live + ".flaskops-restore"
            subprocess.run(["cp", "-a", copy, incoming], check=True)
            if entry.get("journal_mode") == "wal":
                conn = sqlite3.connect(incoming)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.close()
            for suffix in SQLITE_SUFFIXES:  # a stale WAL of the lost database must never meet the restored one
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(live + suffix)
            os.replace(incoming, live)
            restored["sqlite"].append({"path": live, "rows": entry["rows"]})
            log("restored sqlite %s (%d rows)" % (live, sum(entry["rows"].values())))
        for entry in manifest["postgresql"]:
            pg_restore(config, entry["database"], os.path.join(target, entry["dump"].lstrip("/")))
            restored["postgresql"].append(entry["database"])
            log("restored postgresql %s" % entry["database"])
    except (BackupError, OSError, sqlite3.Error, subprocess.CalledProcessError) as exc:
        log("error: restore of %s failed after %s: %s" % (config["name"], restored, exc))
        return 1
    finally:
        shutil.rmtree(target, ignore_errors=True)
    print(json.dumps(restored))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--repository", help="use this repository instead of the configured one")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init")
    sub.add_parser("run")
    p = sub.add_parser("forget")
    p.add_argument("--dry-run", action="store_true")
    p = sub.add_parser("check")
    p.add_argument("--read-data", action="store_true")
    p = sub.add_parser("snapshots")
    p.add_argument("--snapshot")
    p = sub.add_parser("restore")
    p.add_argument("--snapshot", default="latest")
    p = sub.add_parser("notify")
    p.add_argument("event", choices=["backup-ok", "backup-fail", "check-ok", "check-fail"])
    args = parser.parse_args(argv)
    config = load_config(args.config)
    os.umask(0o077)
    handler = {"init": cmd_init, "run": cmd_run, "forget": cmd_forget, "check": cmd_check,
               "snapshots": cmd_snapshots, "restore": cmd_restore, "notify": cmd_notify}[args.command]
    try:
        return handler(config, args)
    except BackupError as exc:
        log("error: %s" % exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
