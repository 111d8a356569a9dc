"""python -m worker_app work | tick | fail | on-failure"""

import os
import signal
import sys
import time

from worker_app import RELEASE_DIR, VERSION, connect


def work():
    """Run queued jobs one at a time; on SIGTERM, finish the job in flight, then exit."""
    stop = {"at": None}

    def on_signal(signum, dummy_frame):
        stop["at"] = time.monotonic()
        print(f"worker {VERSION}: signal {signum}, stopping after the job in flight", flush=True)

    signal.signal(signal.SIGTERM, on_signal)
    db = connect()
    print(f"worker of version {VERSION} started in {RELEASE_DIR}", flush=True)
    while stop["at"] is None:
        db.execute("BEGIN IMMEDIATE")
        row = db.execute("SELECT id, seconds, until_stop FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1").fetchone()
        if row:
            db.execute("UPDATE jobs SET state = 'running', worker = ? WHERE id = ?", (VERSION, row[0]))
        db.execute("COMMIT")
        if row is None:
            time.sleep(0.2)
            continue
        job, seconds, until_stop = row
        print(f"job {job}: started by version {VERSION}", flush=True)
        if until_stop:
            deadline = time.monotonic() + 600
            while stop["at"] is None and time.monotonic() < deadline:
                time.sleep(0.1)
        time.sleep(seconds)
        signalled = "" if stop["at"] is None else f", {time.monotonic() - stop['at']:.1f} s after the stop signal"
        result = f"done by version {VERSION} (release {os.environ.get('FLASKOPS_RELEASE')}){signalled}"
        db.execute("UPDATE jobs SET state = 'done', result = ? WHERE id = ?", (result, job))
        print(f"job {job}: {result}", flush=True)
    print(f"worker of version {VERSION} stopped", flush=True)


def tick():
    print(f"tick by version {VERSION} (release {os.environ.get('FLASKOPS_RELEASE')})", flush=True)


def fail():
    print(f"failing on purpose, version {VERSION}", flush=True)
    sys.exit(3)


def on_failure():
    with open(os.path.join(os.environ["WORKER_DATA_DIR"], "failures.log"), "a", encoding="utf-8") as handle:
        handle.write(f"{os.environ.get('FLASKOPS_FAILED_UNIT')} failed (hook of version {VERSION})\n")


if __name__ == "__main__":
    {"work": work, "tick": tick, "fail": fail, "on-failure": on_failure}[sys.argv[1]]()
