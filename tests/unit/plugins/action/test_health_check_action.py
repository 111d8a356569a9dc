# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""flaskops.deploy.health_check's check option through ansible-playbook: a whole check in one dict, an option the task
gives wins, a key set to null is absent (the checks themselves: modules/test_health_check.py)."""

from __future__ import annotations

import http.server
import threading

import pytest

from ansible_collections.flaskops.deploy.plugins.action.health_check import merge_check
from ansible_collections.flaskops.deploy.tests.unit.plugins.action.playbook import task_runner


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the name http.server calls
        body = b'{"status": "ok"}' if self.path == "/health" else b"{}"
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return task_runner(tmp_path_factory, "health_check", ignore_errors=True)


def test_merge_check_task_options_win_and_null_keys_are_absent():
    assert merge_check({"check": {"url": "http://a/", "json": None, "retries": 3}, "retries": 0}) == {
        "url": "http://a/", "retries": 0}
    assert merge_check({"url": "http://b/"}) == {"url": "http://b/"}
    with pytest.raises(TypeError):
        merge_check({"check": ["http://a/"]})


def test_a_whole_check_in_one_dict(run, server):
    proc, out = run({"check": {"url": server + "/health", "json": {"status": "ok"}, "connect_to": None,
                               "use_proxy": False}})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["healthy"] is True and out["status"] == 200 and out["json"] == {"status": "ok"}


def test_an_option_the_task_gives_wins_over_the_check(run, server):
    proc, out = run({"check": {"url": server + "/health", "use_proxy": False}, "url": server + "/missing"})
    assert out["failed"] is True and out["healthy"] is False and out["status"] == 404
    assert "/missing" in out["msg"]


def test_no_url_anywhere_fails_naming_it(run):
    proc, out = run({"check": {"retries": 1}})
    assert out["failed"] is True and "url" in out["msg"]
