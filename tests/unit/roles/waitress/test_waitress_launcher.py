# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The waitress role's launcher: socket activation, readiness notification, access log and graceful stop."""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

pytest.importorskip("waitress")

LAUNCHER = pathlib.Path(__file__).resolve().parents[4] / "roles" / "waitress" / "files" / "waitress_systemd.py"

APP = textwrap.dedent(
    """
    import time

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            time.sleep(1.0)
        body = ("hello %s from %s" % (environ["PATH_INFO"], environ.get("REMOTE_ADDR"))).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    def create():
        return app
    """
)

# Runs in the child: put the listening socket on fd 3, claim it for this pid, then become the launcher (same pid).
CHILD = textwrap.dedent(
    """
    import os, socket, sys
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(sys.argv[1])
    sock.listen(16)
    if sock.fileno() != 3:
        os.dup2(sock.fileno(), 3)
    os.set_inheritable(3, True)
    os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
    os.execv(sys.executable, [sys.executable, sys.argv[2], sys.argv[3]])
    """
)


def load_launcher():
    spec = importlib.util.spec_from_file_location("waitress_systemd", LAUNCHER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_load_app_resolves_objects_and_factories(tmp_path, monkeypatch):
    (tmp_path / "testapp.py").write_text(APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    launcher = load_launcher()
    assert launcher.load_app("testapp:app").__name__ == "app"
    assert launcher.load_app("testapp:create()").__name__ == "app"
    with pytest.raises(AttributeError):
        launcher.load_app("testapp:missing")


def test_no_sockets_without_systemd(monkeypatch):
    launcher = load_launcher()
    monkeypatch.setenv("LISTEN_FDS", "1")
    monkeypatch.setenv("LISTEN_PID", "1")  # another process's sockets
    assert launcher.systemd_sockets() == []


def test_access_log_middleware_logs_status_and_bytes():
    launcher = load_launcher()
    lines = []

    class Logger:
        def info(self, fmt, *args):
            lines.append(fmt % args)

    def app(environ, start_response):
        start_response("201 Created", [])
        return [b"abc", b"de"]

    wrapped = launcher.AccessLog(app, Logger())
    body = wrapped({"PATH_INFO": "/x", "QUERY_STRING": "a=1", "REQUEST_METHOD": "POST", "SERVER_PROTOCOL": "HTTP/1.1",
                    "REMOTE_ADDR": "10.0.0.1"}, lambda status, headers, exc_info=None: None)
    assert b"".join(body) == b"abcde"
    body.close()
    assert lines and lines[0].startswith('10.0.0.1 "POST /x?a=1 HTTP/1.1" 201 5 ')


def request(path, sock_path, results):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(sock_path)
        conn.sendall(("GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    results.append(data)


def test_serves_the_passed_socket_notifies_logs_and_stops_gracefully(tmp_path):
    (tmp_path / "testapp.py").write_text(APP)
    config = tmp_path / "waitress.json"
    config.write_text(json.dumps({"app": "testapp:app", "stop_timeout": 5, "adjustments": {"threads": 2}}))
    sock_path = str(tmp_path / "slot.sock")
    notify_path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(15)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, sock_path, str(LAUNCHER), str(config)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert notify.recv(1024).startswith(b"READY=1")

        results = []
        request("/fast", sock_path, results)
        assert results[0].startswith(b"HTTP/1.1 200 OK") and results[0].endswith(b"hello /fast from localhost")

        # A slow request in progress when SIGTERM arrives still gets its whole answer.
        slow = threading.Thread(target=request, args=("/slow", sock_path, results))
        slow.start()
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        slow.join(10)
        assert results[1].startswith(b"HTTP/1.1 200 OK") and results[1].endswith(b"hello /slow from localhost")
        assert notify.recv(1024).startswith(b"STOPPING=1")
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
    assert proc.returncode == 0, err
    assert '"GET /fast HTTP/1.1" 200 ' in out and '"GET /slow HTTP/1.1" 200 ' in out
    assert "finishing requests in progress" in err and "stopped" in err
