# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Serve a WSGI application with waitress on the sockets systemd passes (socket activation).

    <release>/.venv/bin/python waitress_systemd.py CONFIG.json

CONFIG.json holds ``{"app": "wsgi:app", "stop_timeout": 30, "access_log": true, "adjustments": {...}}`` where
``adjustments`` are waitress.serve() options (threads, connection_limit, channel_timeout, trusted_proxy, ...).

What this adds to ``waitress-serve``:
- the listening sockets come from systemd (LISTEN_FDS): the process never binds, chmods or unlinks a socket, so a
  hardened unit needs no privileged system call, and connections wait in the socket's backlog while it starts;
- systemd is told when the application is imported and the server listens (Type=notify, READY=1);
- SIGTERM is graceful: stop accepting, finish the requests in progress (at most stop_timeout seconds), close idle
  keep-alive connections, then exit (waitress alone exits at once);
- one access-log line per request on stdout, i.e. in the journal (waitress alone logs none).
"""

import importlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

SD_LISTEN_FDS_START = 3
log = logging.getLogger("flaskops.waitress")


def sd_notify(state):
    """Send a state line to systemd's notification socket, if there is one."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(addr)
            sock.sendall(state.encode("utf-8"))
        except OSError as exc:
            log.warning("cannot notify systemd: %s", exc)


def systemd_sockets():
    """The listening sockets passed by systemd, or an empty list."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return []
    count = int(os.environ.get("LISTEN_FDS", "0"))
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    return [socket.socket(fileno=fd) for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count)]


def load_app(spec):
    """Import ``module:name`` or call ``module:factory()`` (no arguments)."""
    module_name, dummy, attr = spec.partition(":")
    attr = attr or "app"
    call = attr.endswith("()")
    if call:
        attr = attr[:-2]
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj() if call else obj


class AccessLog:
    """WSGI middleware: one line per request, like gunicorn's access log."""

    def __init__(self, app, logger):
        self.app = app
        self.logger = logger

    def __call__(self, environ, start_response):
        started = time.monotonic()
        seen = {"status": "-"}

        def _start_response(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        return _LoggedBody(self.app(environ, _start_response), environ, seen, started, self.logger)


class _LoggedBody:
    def __init__(self, body, environ, seen, started, logger):
        self._body = body
        self._environ = environ
        self._seen = seen
        self._started = started
        self._logger = logger
        self._bytes = 0

    def __iter__(self):
        for chunk in self._body:
            self._bytes += len(chunk)
            yield chunk

    def close(self):
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            env = self._environ
            path = env.get("PATH_INFO", "") + ("?" + env["QUERY_STRING"] if env.get("QUERY_STRING") else "")
            self._logger.info(
                '%s "%s %s %s" %s %d %.6fs "%s"',
                env.get("REMOTE_ADDR", "-"), env.get("REQUEST_METHOD", "-"), path, env.get("SERVER_PROTOCOL", "-"),
                self._seen["status"], self._bytes, time.monotonic() - self._started, env.get("HTTP_USER_AGENT", "-"),
            )


def serve(config):
    stop_timeout = float(config.get("stop_timeout", 30))
    sockets = systemd_sockets()
    if not sockets:
        sys.exit("no listening socket from systemd (LISTEN_FDS): start this through its .socket unit")

    # Import the application from the working directory (the release), as waitress-serve and gunicorn do.
    sys.path.insert(0, os.getcwd())
    app = load_app(config["app"])
    if config.get("access_log", True):
        access = logging.getLogger("flaskops.access")
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.propagate = False
        access.setLevel(logging.INFO)
        app = AccessLog(app, access)

    socket_map = {}
    server = create_server(app, map=socket_map, sockets=sockets, **config.get("adjustments", {}))
    server.print_listen("Serving on {}:{}")

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    sd_notify("READY=1\nSTATUS=serving")

    deadline = None
    while True:
        wasyncore.loop(timeout=0.5, map=socket_map, use_poll=True, count=1)
        if not stopping.is_set():
            continue
        if deadline is None:
            deadline = time.monotonic() + stop_timeout
            sd_notify("STOPPING=1\nSTATUS=finishing requests in progress")
            log.info("stopping: no new connections, finishing requests in progress (at most %ss)", stop_timeout)
            for dispatcher in list(socket_map.values()):
                if isinstance(dispatcher, BaseWSGIServer):
                    dispatcher.accepting = False
        busy = 0
        for channel in list(socket_map.values()):
            if not isinstance(channel, HTTPChannel):
                continue
            if channel.requests or channel.request is not None or channel.total_outbufs_len:
                busy += 1
            else:
                channel.will_close = True
        if not busy:
            break
        if time.monotonic() >= deadline:
            log.warning("stop timeout reached with %d connection(s) still busy", busy)
            break
    server.task_dispatcher.shutdown(timeout=5)
    wasyncore.close_all(socket_map)
    log.info("stopped")


def main(argv):
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if len(argv) != 2:
        sys.exit("usage: waitress_systemd.py CONFIG.json")
    with open(argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    serve(config)


if __name__ == "__main__":
    main(sys.argv)
