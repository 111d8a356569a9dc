#!/usr/bin/env python3
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""WebSocket clients of a Socket.IO server (Engine.IO 4, the WebSocket transport only) that count every failure: the
WebSocket tests run them while a release goes live.

    wsload.py --url wss://chat.test/socket.io/ --insecure --once
    wsload.py --url wss://chat.test/socket.io/ --insecure --clients 4 --max-seconds 300 \
              --stop-file /run/wsload.stop --out /run/wsload.json

Needs the `websockets` library (its sync client). --once opens one connection, checks the handshake's status (101),
sends the `echo` event and waits for its acknowledgement, then prints the result.

Otherwise it runs until --max-seconds or the --stop-file appears:
- --clients persistent clients, each on one connection that sends `echo` every --interval seconds and answers the
  server's pings. When its connection closes (a release's old slot stopping), the client opens a new one at once and
  the gap (from the close to the first acknowledged echo on the new connection) is recorded.
- one prober that opens a fresh connection every --interval seconds, echoes once and closes: every new handshake
  counts, and the version it reached shows when new connections moved to the new release.
- with --http-url, one more thread that GETs that URL every --interval seconds on a new connection and times it:
  requests, failures, the slowest, and how many took longer than --stall seconds (the benchmark's "no stall").

A handshake fails when the connection or the upgrade is refused, or the status is not 101, or the Socket.IO connect
gets no answer in --timeout seconds. The summary (JSON, printed and written to --out) counts handshakes, failed
handshakes, echoes, disconnects and reconnect gaps, and per version when the prober and the clients first and last
saw it (seconds since the start). Exit code 0; the caller asserts on the summary.
"""

import argparse
import errno
import http.client
import json
import os
import select
import ssl
import threading
import time
import urllib.parse

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the Socket.IO endpoint, ws:// or wss://host/socket.io/")
    parser.add_argument("--insecure", action="store_true", help="do not verify the server's certificate")
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--stop-file")
    parser.add_argument("--http-url", help="also GET this URL every --interval seconds and time it")
    parser.add_argument("--stall", type=float, default=1.0, help="seconds above which an echo or a GET is a stall")
    parser.add_argument("--out")
    return parser.parse_args()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.start = time.monotonic()
        self.handshakes = 0
        self.failed_handshakes = 0
        self.errors = {}
        self.echoes = 0
        self.failed_echoes = 0
        self.max_echo_seconds = 0.0
        self.disconnects = []  # seconds since start, per client connection closed by the server
        self.gaps = []  # seconds from a close to the first acknowledged echo on the next connection
        self.versions = {"probe": {}, "client": {}}
        self.stalls = 0
        self.http = {"requests": 0, "failed": 0, "max_seconds": 0.0, "stalls": 0}

    def now(self):
        return round(time.monotonic() - self.start, 3)

    def error(self, kind, exc):
        key = f"{kind}: {type(exc).__name__}: {exc}"[:160]
        self.errors[key] = self.errors.get(key, 0) + 1

    def version(self, who, version):
        at = self.now()
        seen = self.versions[who].setdefault(version, {"count": 0, "first": at, "last": at})
        seen["count"] += 1
        seen["last"] = at


class SerializedTLS:
    """A TLS socket whose reads and writes never run at the same time.

    websockets' sync client reads in a thread of its own (a blocking recv from the moment the connection object
    exists) while the caller's thread writes the upgrade request. Python's ssl module takes no lock per connection
    (python/cpython#137583: one added in 3.13.6 was taken out again), so both threads can be inside the same OpenSSL
    connection at once, which OpenSSL does not support. Over TLS 1.3 nginx sends two session tickets right after
    the TLS handshake, so the reading thread is inside OpenSSL just when the request is written. About one new
    handshake in 50 then never sent its request (a capture shows the client's Finished, then nothing): either the
    connection closed at once, or the reading thread stayed blocked in its read, where the library's own timeout
    cannot end it (its cleanup waits for that thread), until nginx dropped the silent connection after 60 s
    (docs/runtime.md has the measurements).

    Here the socket is non-blocking and each OpenSSL call holds one lock; waiting for the network happens outside
    the lock, in short polls that also notice close()."""

    POLL_SECONDS = 0.05

    def __init__(self, sock):
        sock.setblocking(False)
        self._sock = sock
        self._lock = threading.Lock()
        self._timeout = None
        self._closed = False

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def _wait(self, want_write, deadline=None):
        if self._closed:
            raise OSError(errno.EBADF, "socket closed")
        timeout = self.POLL_SECONDS
        if deadline is not None:
            timeout = max(0.0, min(timeout, deadline - time.monotonic()))
        if want_write:
            select.select([], [self._sock], [], timeout)
        else:
            select.select([self._sock], [], [], timeout)

    def recv(self, bufsize):
        while True:
            with self._lock:
                try:
                    data = self._sock.recv(bufsize)
                    # Decrypted bytes OpenSSL holds are invisible to the caller's select(): hand them over too.
                    while data and len(data) < bufsize and self._sock.pending():
                        data += self._sock.recv(min(self._sock.pending(), bufsize - len(data)))
                    return data
                except (ssl.SSLWantReadError, BlockingIOError):  # BlockingIOError: plain reads after shutdown()
                    want_write = False
                except ssl.SSLWantWriteError:
                    want_write = True
            self._wait(want_write)

    def sendall(self, data):
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        view = memoryview(data).cast("B")
        while view:
            with self._lock:
                try:
                    view = view[self._sock.send(view):]
                    continue
                except (ssl.SSLWantWriteError, BlockingIOError):
                    want_write = True
                except ssl.SSLWantReadError:
                    want_write = False
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("timed out while sending")
            self._wait(want_write, deadline)

    def settimeout(self, timeout):
        """The library bounds its closing writes this way; the socket itself stays non-blocking."""
        self._timeout = timeout

    def gettimeout(self):
        return self._timeout

    def shutdown(self, how):
        with self._lock:
            self._sock.shutdown(how)

    def close(self):
        self._closed = True
        with self._lock:
            self._sock.close()


class SerializedConnection(ClientConnection):
    """websockets' client connection over a SerializedTLS socket."""

    def __init__(self, sock, protocol, **kwargs):
        if isinstance(sock, ssl.SSLSocket):
            sock = SerializedTLS(sock)
        super().__init__(sock, protocol, **kwargs)


class Session:
    """One Engine.IO/Socket.IO session on one WebSocket connection."""

    def __init__(self, args):
        parsed = urllib.parse.urlsplit(args.url)
        query = "EIO=4&transport=websocket"
        self.url = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path or "/socket.io/", query, ""))
        self.context = None
        if parsed.scheme == "wss":
            self.context = ssl.create_default_context()
            if args.insecure:
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE
        self.timeout = args.timeout
        self.ws = None
        self.status = None
        self.ack = 0
        # The step the session is in, with the seconds since open() began: a failure names where it stalled.
        self.began = None
        self.phase = "not opened"

    def at(self, phase):
        self.phase = phase
        if self.began is None:
            self.began = time.monotonic()

    def where(self):
        since = "" if self.began is None else f", {time.monotonic() - self.began:.1f} s after the connect began"
        return f"{self.phase}{since}"

    def open(self):
        """The handshake (101) and the Socket.IO connect; raises on any failure."""
        self.at("TCP, TLS and the upgrade")
        self.ws = connect(self.url, ssl=self.context, open_timeout=self.timeout, close_timeout=1, compression=None,
                          legacy=True, create_connection=SerializedConnection)
        self.status = self.ws.response.status_code
        if self.status != 101:
            raise RuntimeError(f"status {self.status}")
        self.at("waiting for the Engine.IO open packet")
        opening = self.recv_packet()
        if not opening.startswith("0"):
            raise RuntimeError(f"no Engine.IO open packet: {opening[:60]!r}")
        self.at("sending the Socket.IO connect")
        self.ws.send("40")
        self.at("waiting for the Socket.IO connect's answer")
        connected = self.recv_packet()
        if not connected.startswith("40"):
            raise RuntimeError(f"no Socket.IO connect: {connected[:60]!r}")

    def recv_packet(self, deadline=None):
        """The next packet that is not a ping (pings are answered)."""
        deadline = deadline or time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer ({self.where()})")
            packet = self.ws.recv(timeout=left)
            if packet == "2":
                self.ws.send("3")
                continue
            return packet

    def echo(self, payload):
        """Send the echo event with an acknowledgement id; return the acknowledgement's body."""
        self.ack += 1
        prefix = f"43{self.ack}"
        self.at("sending an echo")
        self.ws.send(f"42{self.ack}" + json.dumps(["echo", payload]))
        deadline = time.monotonic() + self.timeout
        self.at("waiting for the echo's acknowledgement")
        while True:
            packet = self.recv_packet(deadline)
            if packet.startswith(prefix + "["):
                return json.loads(packet[len(prefix):])[0]

    def wait(self, seconds):
        """Stay on the connection for a while, answering pings."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                packet = self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                return
            if packet == "2":
                self.ws.send("3")

    def close(self):
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass


def guarded(function, seconds, where=None):
    """Run function in a thread of its own; raise TimeoutError when it has not returned after seconds (a connection
    that hangs past the library's own timeouts, seen on a machine under heavy load, counts as a failure)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = function()
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no result after {seconds} s" + (f" ({where()})" if where else ""))
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def stopped(args, start):
    if time.monotonic() - start >= args.max_seconds:
        return True
    return bool(args.stop_file) and os.path.exists(args.stop_file)


def client(args, stats, number):
    closed_at = None
    sent = 0
    while not stopped(args, stats.start):
        session = Session(args)
        try:
            guarded(session.open, 5 * args.timeout, session.where)
        except Exception as exc:  # noqa: BLE001 - every failure counts
            with stats.lock:
                stats.failed_handshakes += 1
                stats.error("client handshake", exc)
            session.close()
            time.sleep(0.2)
            continue
        with stats.lock:
            stats.handshakes += 1
        try:
            while not stopped(args, stats.start):
                sent += 1
                began = time.monotonic()
                reply = session.echo({"client": number, "n": sent})
                took = time.monotonic() - began
                with stats.lock:
                    stats.echoes += 1
                    stats.max_echo_seconds = max(stats.max_echo_seconds, round(took, 3))
                    stats.stalls += took > args.stall
                    stats.version("client", reply.get("version", "?"))
                    if closed_at is not None:
                        stats.gaps.append(round(time.monotonic() - closed_at, 3))
                        closed_at = None
                session.wait(args.interval)
        except ConnectionClosed:
            closed_at = time.monotonic()
            with stats.lock:
                stats.disconnects.append(stats.now())
        except Exception as exc:  # noqa: BLE001 - an echo without its answer on an open connection
            closed_at = time.monotonic()
            with stats.lock:
                stats.failed_echoes += 1
                stats.disconnects.append(stats.now())
                stats.error("client echo", exc)
        session.close()


def prober(args, stats):
    while not stopped(args, stats.start):
        session = Session(args)
        try:
            reply = guarded(lambda: (session.open(), session.echo({"probe": True}))[1], 5 * args.timeout, session.where)
        except Exception as exc:  # noqa: BLE001 - every failure counts
            with stats.lock:
                stats.failed_handshakes += 1
                stats.error("probe", exc)
        else:
            with stats.lock:
                stats.handshakes += 1
                stats.version("probe", reply.get("version", "?"))
        threading.Thread(target=session.close, daemon=True).start()
        time.sleep(args.interval)


def http_timer(args, stats):
    parsed = urllib.parse.urlsplit(args.http_url)
    context = None
    if parsed.scheme == "https":
        context = ssl.create_default_context()
        if args.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    path = parsed.path or "/"
    while not stopped(args, stats.start):
        began = time.monotonic()
        try:
            if context is not None:
                conn = http.client.HTTPSConnection(parsed.hostname, parsed.port or 443, timeout=args.timeout, context=context)
            else:
                conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=args.timeout)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            conn.close()
            ok = response.status == 200
        except Exception as exc:  # noqa: BLE001 - every failure counts
            ok = False
            with stats.lock:
                stats.error("http", exc)
        took = time.monotonic() - began
        with stats.lock:
            stats.http["requests"] += 1
            stats.http["failed"] += not ok
            stats.http["max_seconds"] = max(stats.http["max_seconds"], round(took, 3))
            stats.http["stalls"] += took > args.stall
        time.sleep(args.interval)


def once(args):
    session = Session(args)
    result = {"status": None, "echo": None, "error": None}
    try:
        session.open()
        result["status"] = session.status
        result["echo"] = session.echo({"hello": "through nginx"})
    except Exception as exc:  # noqa: BLE001 - reported to the caller
        result["status"] = session.status
        result["error"] = f"{type(exc).__name__}: {exc}"
    session.close()
    return result


def main():
    args = parse_args()
    if args.once:
        summary = once(args)
    else:
        stats = Stats()
        threads = [threading.Thread(target=client, args=(args, stats, n), daemon=True) for n in range(args.clients)]
        threads.append(threading.Thread(target=prober, args=(args, stats), daemon=True))
        if args.http_url:
            threads.append(threading.Thread(target=http_timer, args=(args, stats), daemon=True))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(args.max_seconds + 2 * args.timeout + 5)
        summary = {
            "seconds": stats.now(),
            "clients": args.clients,
            "handshakes": stats.handshakes,
            "failed_handshakes": stats.failed_handshakes,
            "echoes": stats.echoes,
            "failed_echoes": stats.failed_echoes,
            "max_echo_seconds": stats.max_echo_seconds,
            "echo_stalls": stats.stalls,
            "http": stats.http,
            "disconnects": stats.disconnects,
            "reconnect_gaps": stats.gaps,
            "max_reconnect_gap": max(stats.gaps) if stats.gaps else 0.0,
            "versions": stats.versions,
            "errors": stats.errors,
        }
    text = json.dumps(summary, sort_keys=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
