# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""flaskops.deploy.run_summary through ansible-playbook on the controller, as roles/app/tasks/summary.yml calls it:
the summary's lines are the output of the play's last task in the default callback, the run's custom stats carry the
same data (flaskops_summary keyed by host, set by the summary's task itself) and check mode reports what would go live."""

from __future__ import annotations

import http.server
import json
import os
import pathlib
import re
import subprocess
import sys
import threading

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = {
    "status": {"state": {"live": "green", "recorded": {"slots": {"green": {"release": "2.0.0"}}}}},
    "plan": {"flip": True, "reason": "a new release", "live": "blue", "next": "green"},
    "flip": {"changed": True, "slot": "green", "old_slot": "blue", "release": "2.0.0",
             "steps": [{"step": "slot check", "seconds": 0.6}, {"step": "switch", "seconds": 0.2},
                       {"step": "proxy check", "seconds": 0.5}, {"step": "drain and stop", "seconds": 1.0}]},
    "venv": {"changed": True, "duration": 3.0},
    "health": {"healthy": True, "status": 200, "attempts": 2, "json": {"version": "2.0.0", "token": "s3cret-token"}},
}
PLAYBOOK = [{
    "name": "Summarise",
    "hosts": "localhost",
    "gather_facts": False,
    "vars_files": ["results.yml"],
    "tasks": [
        {"name": "Assemble the summary of this host",
         "flaskops.deploy.run_summary": {"operation": "deploy", "app_name": "hello", "status": "{{ status }}",
                                         "plan": "{{ plan }}", "flip": "{{ flip }}", "builds": ["{{ venv }}"],
                                         "health": "{{ health }}", "url": "https://u:pw@hello.example.org/"},
         "register": "summary"},
        {"name": "Summary", "ansible.builtin.debug": {"msg": "{{ summary.lines }}"}},
    ],
}]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("summary")
    namespace = root / "collections" / "ansible_collections" / "flaskops"
    namespace.mkdir(parents=True)
    os.symlink(ROOT, namespace / "deploy")
    (root / "results.yml").write_text(yaml.safe_dump(RESULTS))
    (root / "summary.yml").write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))

    def _run(*args: str, playbook: list | None = None, bin_dir: str = "") -> str:
        if playbook is not None:
            (root / "other.yml").write_text(yaml.safe_dump(playbook, sort_keys=False))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(root / "collections"), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_SHOW_CUSTOM_STATS="1",
                   ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
                   PATH=os.pathsep.join(filter(None, [bin_dir, os.path.dirname(sys.executable), os.environ.get("PATH", "")])))
        result = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local",
                                 "summary.yml" if playbook is None else "other.yml", *args], cwd=root,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                                check=False)
        assert result.returncode == 0, result.stdout[-3000:]
        return result.stdout

    return _run


def last_task(output: str) -> tuple[str, str]:
    """The name and the output of the last task before the recap."""
    body = output.split("PLAY RECAP")[0]
    name, text = re.findall(r"TASK \[([^\]]+)\] \**\n(.*?)(?=\nTASK \[|\Z)", body, re.S)[-1]
    return name, text


def custom_stats(output: str) -> dict:
    match = re.search(r"CUSTOM STATS: \**\n\s*RUN: (\{.*\})", output)
    assert match, output[-2000:]
    return json.loads(match.group(1))


def test_the_last_task_prints_the_summary_and_the_custom_stats_carry_it(run) -> None:
    output = run()
    name, text = last_task(output)
    assert name == "Summary"
    lines = json.loads(text.split("=>", 1)[1])["msg"]
    assert lines[0] == "hello on localhost (deploy): release 2.0.0 went live in slot green (a new release)"
    assert "url:      https://hello.example.org/" in lines
    assert "version:  2.0.0" in lines
    assert lines[-1] == "took:     build 3.00 s, gates 1.10 s (slot 0.60, proxy 0.50), switch 0.20 s, drain 1.00 s"
    stats = custom_stats(output)
    assert stats["flaskops_summary"]["localhost"]["release"] == "2.0.0"
    assert stats["flaskops_summary"]["localhost"]["durations"]["build"] == 3.0
    assert "s3cret" not in output and "pw@" not in output


def test_check_mode(run) -> None:
    name, text = last_task(run("--check"))
    lines = json.loads(text.split("=>", 1)[1])["msg"]
    assert lines[0] == "hello on localhost (deploy): check mode: release 2.0.0 would go live in slot green (a new release)"
    assert lines[-1] == "took:     none in check mode"


def test_without_status_the_task_reads_the_live_slot_on_the_host(run, tmp_path) -> None:
    """What roles/app/tasks/summary.yml does when the run flipped nothing: flaskops.deploy.release reads the host."""
    state = {"active": "blue", "previous": "", "slots": {"blue": {
        "release": "1.0.0", "release_dir": "/srv/hello/releases/1.0.0", "server": "gunicorn", "fingerprint": "fp"}}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    # systemd as the host's: slot blue's units are active.
    systemctl = tmp_path / "bin" / "systemctl"
    systemctl.parent.mkdir()
    systemctl.write_text("#!%s\nimport sys\nunits = [a for a in sys.argv[1:] if not a.startswith('-') and a != 'show']\n"
                         "print('\\n\\n'.join('ActiveState=%%s\\nId=%%s' %% ('active' if 'blue' in u else 'inactive', u)"
                         " for u in units))\n" % sys.executable)
    systemctl.chmod(0o755)
    task = {"operation": "summary", "app_name": "hello",
            "status_args": {"app_name": "hello", "state_file": str(tmp_path / "state.json")}}
    tasks = [{"name": "Assemble the summary of this host", "flaskops.deploy.run_summary": task, "register": "summary"},
             {"name": "Summary", "ansible.builtin.debug": {"msg": "{{ summary.lines }}"}}]
    playbook = [{"name": "Summarise", "hosts": "localhost", "gather_facts": False,
                 "vars": {"ansible_python_interpreter": sys.executable}, "tasks": tasks}]
    name, text = last_task(run(playbook=playbook, bin_dir=str(systemctl.parent)))
    lines = json.loads(text.split("=>", 1)[1])["msg"]
    assert "1.0.0" in lines[0] and "blue" in lines[0], lines
    # Neither status nor status_args: the task says so.
    status_args = task.pop("status_args")
    with pytest.raises(AssertionError, match="one of status or status_args is required"):
        run(playbook=playbook, bin_dir=str(systemctl.parent))

    # With a proxy_check, the same call checks the site (what roles/app/tasks/summary.yml passes when this run checked
    # nothing): its health is the summary's, and a site that does not answer fails the task with the check's message.
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            body = json.dumps({"status": "ok", "version": "1.0.0"}).encode()
            self.send_response(200 if self.path == "/health" else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % server.server_address[1]
    try:
        task["status_args"] = dict(status_args, proxy_check={"url": base + "/health", "retries": 0})
        name, text = last_task(run(playbook=playbook, bin_dir=str(systemctl.parent)))
        lines = json.loads(text.split("=>", 1)[1])["msg"]
        assert "health:   healthy (HTTP 200 through nginx, 1 attempt)" in lines, lines
        assert "version:  1.0.0" in lines, lines
        task["status_args"] = dict(status_args, proxy_check={"url": base + "/down", "retries": 0})
        with pytest.raises(AssertionError, match="/down"):
            run(playbook=playbook, bin_dir=str(systemctl.parent))
    finally:
        server.shutdown()
        server.server_close()
