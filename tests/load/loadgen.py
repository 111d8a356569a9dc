#!/usr/bin/env python3
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A bounded HTTP load that counts every failed request: the zero-downtime tests run it while a release, a restart
or a rollback happens.

    loadgen.py --url http://127.0.0.1/health --host hello.test --threads 4 --max-seconds 120 \
               --max-requests 100000 --stop-file /run/loadgen.stop --out /run/loadgen.json

Each request opens its own connection (so a reload of the proxy cannot leave a stale keep-alive connection behind),
sends GET with the given Host header and reads the whole answer. A request fails when it gets no complete answer
(refused, reset, timeout) or a status other than --ok-status. When the body is JSON with a "version" key the
version is counted, with the time it was first and last seen.

It stops at the first of: --max-seconds, --max-requests, or the --stop-file appearing. It prints one JSON summary
and writes it to --out; the exit code is 0 (the caller asserts on the summary).
"""

import argparse
import http.client
import ssl
import json
import os
import threading
import time
import urllib.parse


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--host", help="Host header (default: the URL's host)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=100000)
    parser.add_argument("--stop-file")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds each thread sleeps between requests")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--ok-status", type=int, default=200)
    parser.add_argument("--out")
    parser.add_argument("--insecure", action="store_true",
                        help="do not verify the server's certificate (a test host's self-signed one)")
    return parser.parse_args()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.failed = 0
        self.statuses = {}
        self.errors = {}
        self.failures = []
        self.versions = {}
        self.started = time.monotonic()

    def record(self, status, error, version):
        now = round(time.monotonic() - self.started, 3)
        with self.lock:
            self.requests += 1
            if status is not None:
                self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            if error is not None:
                self.errors[error] = self.errors.get(error, 0) + 1
            if error is not None or status != ARGS.ok_status:
                self.failed += 1
                if len(self.failures) < 20:
                    self.failures.append({"t": now, "status": status, "error": error})
            if version is not None:
                seen = self.versions.setdefault(version, {"count": 0, "first": now, "last": now})
                seen["count"] += 1
                seen["last"] = now

    def summary(self):
        elapsed = time.monotonic() - self.started
        return {
            "requests": self.requests,
            "failed": self.failed,
            "seconds": round(elapsed, 3),
            "rps": round(self.requests / elapsed, 1) if elapsed > 0 else 0,
            "statuses": self.statuses,
            "errors": self.errors,
            "failures": self.failures,
            "versions": self.versions,
            "last_version": max(self.versions.items(), key=lambda kv: kv[1]["last"])[0] if self.versions else None,
        }


def one_request(target, host):
    if target.scheme == "https":
        context = ssl._create_unverified_context() if ARGS.insecure else ssl.create_default_context()
        conn = http.client.HTTPSConnection(target.hostname, target.port, timeout=ARGS.timeout, context=context)
    else:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=ARGS.timeout)
    try:
        conn.request("GET", target.path or "/", headers={"Host": host, "Connection": "close", "User-Agent": "flaskops-loadgen"})
        response = conn.getresponse()
        body = response.read()
        version = None
        try:
            version = json.loads(body).get("version")
        except (ValueError, AttributeError):
            pass
        return response.status, None, version
    except (OSError, http.client.HTTPException) as exc:
        return None, type(exc).__name__, None
    finally:
        conn.close()


def worker(stats, target, host, deadline, stop):
    while not stop.is_set():
        if time.monotonic() >= deadline:
            stop.set()
            break
        with stats.lock:
            if stats.requests >= ARGS.max_requests:
                stop.set()
                break
        stats.record(*one_request(target, host))
        if ARGS.pause:
            time.sleep(ARGS.pause)


def main():
    target = urllib.parse.urlsplit(ARGS.url)
    host = ARGS.host or target.netloc
    if ARGS.stop_file and os.path.exists(ARGS.stop_file):
        os.unlink(ARGS.stop_file)
    stats = Stats()
    stop = threading.Event()
    deadline = time.monotonic() + ARGS.max_seconds
    threads = [threading.Thread(target=worker, args=(stats, target, host, deadline, stop), daemon=True)
               for _ in range(ARGS.threads)]
    for thread in threads:
        thread.start()
    while not stop.is_set():
        if ARGS.stop_file and os.path.exists(ARGS.stop_file):
            stop.set()
        stop.wait(0.1)
    for thread in threads:
        thread.join(ARGS.timeout + 1)
    summary = stats.summary()
    text = json.dumps(summary, sort_keys=True)
    if ARGS.out:
        with open(ARGS.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(text)


ARGS = parse_args()

if __name__ == "__main__":
    main()
