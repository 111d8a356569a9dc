"""templates/serve.py.j2 is plain Python: render it with Linux paths and run it for real under waitress.

The NSSM service runs exactly this file on Windows. Here it serves a tiny WSGI app and is asked what IIS
would ask: through the trusted proxy headers ARR and web.config send, with a body over the limit, and
with headers a client might forge.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time

import pytest

APP = '''
import json, os

def _app(environ, start_response):
    if environ["REQUEST_METHOD"] == "POST":
        environ["wsgi.input"].read()
    body = json.dumps({
        "scheme": environ["wsgi.url_scheme"],
        "remote_addr": environ.get("REMOTE_ADDR"),
        "host": environ.get("HTTP_HOST"),
        "forwarded_host": environ.get("HTTP_X_FORWARDED_HOST"),
        "plain": os.environ.get("PLAIN"),
        "secret": os.environ.get("SECRET"),
        "shared": os.environ.get("BOTH"),
        "cwd": os.getcwd(),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]

app = _app

def create_app():
    return _app
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_launcher(role_templar, tmp_path, wsgi="wsgi:app", port=None, max_body=1024):
    app_dir = tmp_path / "current"
    app_dir.mkdir()
    (app_dir / "wsgi.py").write_text(APP, encoding="utf-8")
    env_file, secrets_file = tmp_path / "env.json", tmp_path / "secrets.json"
    env_file.write_text(json.dumps({"PLAIN": "plain value", "BOTH": "from env"}), encoding="utf-8")
    secrets_file.write_text(json.dumps({"SECRET": "s3cret", "BOTH": "from secrets"}), encoding="utf-8")
    port = port or free_port()
    t = role_templar(
        {"app_wsgi": wsgi, "iis_waitress_port": port, "app_max_content_length": max_body},
        facts={"__iis_current_link": str(app_dir), "__iis_env_file": str(env_file),
               "__iis_secrets_file": str(secrets_file)},
    )
    launcher = tmp_path / "serve.py"
    launcher.write_text(t.template_file("serve.py.j2"), encoding="utf-8")
    return launcher, port, app_dir


def test_rendered_launcher_binds_loopback_and_trusts_only_iis(role_templar, tmp_path):
    launcher, port, _cfg = render_launcher(role_templar, tmp_path, port=8123, max_body=16777216)
    text = launcher.read_text(encoding="utf-8")
    assert text.startswith("#\n# Ansible managed\n#")
    spec = importlib.util.spec_from_file_location("serve_under_test", launcher)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # main() only runs as a script
    assert module.SETTINGS["host"] == "127.0.0.1"
    assert module.SETTINGS["port"] == 8123
    assert module.SETTINGS["trusted_proxy"] == "127.0.0.1"
    assert module.SETTINGS["trusted_proxy_count"] == 1
    assert set(module.SETTINGS["trusted_proxy_headers"].split()) == {"x-forwarded-for", "x-forwarded-proto"}
    assert module.SETTINGS["clear_untrusted_proxy_headers"] is True
    assert module.SETTINGS["max_request_body_size"] == 16777216
    assert module.SETTINGS["ident"] == ""
    assert module.WSGI == "wsgi:app"


def test_windows_paths_survive_rendering(role_templar):
    t = role_templar({})
    text = t.template_file("serve.py.j2")
    namespace = {}
    exec(compile(text.split("def load_environment")[0], "serve.py", "exec"), namespace)  # constants only
    assert namespace["APP_DIR"] == "C:\\apps\\demo\\current"
    assert namespace["ENV_FILES"] == ["C:\\apps\\demo\\config\\env.json", "C:\\apps\\demo\\config\\secrets.json"]


def start(launcher, port, tmp_path):
    pytest.importorskip("waitress")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    log = open(tmp_path / "waitress.log", "w", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-u", str(launcher)], stdout=log, stderr=subprocess.STDOUT, env=env,
                            cwd=str(tmp_path))
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    log.close()
    pytest.fail("waitress did not start:\n" + (tmp_path / "waitress.log").read_text())
    return None


def request(port, method="GET", path="/health", headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


@pytest.mark.parametrize("wsgi", ["wsgi:app", "wsgi:create_app()"])
def test_launcher_serves_like_iis_expects(role_templar, tmp_path, wsgi):
    launcher, port, app_dir = render_launcher(role_templar, tmp_path, wsgi=wsgi)
    proc = start(launcher, port, tmp_path)
    try:
        # what ARR sends: the client's Host kept, X-Forwarded-For added, X-Forwarded-Proto set by web.config
        response, data = request(port, headers={
            "Host": "example.com", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example",
        })
        assert response.status == 200
        seen = json.loads(data)
        assert seen["scheme"] == "https"
        assert seen["remote_addr"] == "203.0.113.7"
        assert seen["host"] == "example.com"
        assert seen["forwarded_host"] is None  # not trusted, so cleared
        assert seen["plain"] == "plain value"
        assert seen["secret"] == "s3cret"
        assert seen["shared"] == "from secrets"  # secrets win, as in the Linux env file
        assert os.path.realpath(seen["cwd"]) == os.path.realpath(app_dir)
        assert response.getheader("Server") is None  # waitress does not announce itself

        # a client forging X-Forwarded-For: only the address IIS appended (the last one) counts
        response, data = request(port, headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9",
                                                "X-Forwarded-Proto": "http"})
        assert json.loads(data)["remote_addr"] == "203.0.113.9"

        # a body over app_max_content_length is refused by waitress too (IIS refuses it first)
        response, _body = request(port, method="POST", path="/upload", body=b"x" * 2048,
                                  headers={"Content-Type": "application/octet-stream"})
        assert response.status == 413
        response, _body = request(port, method="POST", path="/upload", body=b"x" * 512,
                                  headers={"Content-Type": "application/octet-stream"})
        assert response.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_launcher_refuses_an_environment_that_is_not_strings(role_templar, tmp_path):
    pytest.importorskip("waitress")
    launcher, _port, _cfg = render_launcher(role_templar, tmp_path)
    (tmp_path / "env.json").write_text(json.dumps({"WORKERS": 3}), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, str(launcher)], capture_output=True, text=True, timeout=30, env=env,
                          check=False)
    assert proc.returncode != 0
    assert "the value of WORKERS is not a string" in proc.stderr
