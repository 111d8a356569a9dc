# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of flaskops.deploy.nginx_upstream in tmp_path, with stand-ins for nginx, systemctl and pgrep on PATH."""

from __future__ import annotations

import json
import os
import stat
import sys
import typing as t

import pytest
import yaml

from ansible_collections.flaskops.deploy.plugins.module_utils import _nginx_upstream as up
from ansible_collections.flaskops.deploy.plugins.modules import nginx_upstream
from ansible_collections.flaskops.deploy.tests.unit.plugins.modules.utils import run_module, run_module_failing

# Each stand-in appends its arguments (and, for nginx, the upstream file it saw) to the calls file, and exits with
# the code the config file gives it.
STUB = """#!{python}
import json, os, sys
name = os.path.basename(sys.argv[0])
with open({config!r}) as handle:
    config = json.load(handle)
seen = None
if name == "nginx" and os.path.exists({upstream!r}):
    with open({upstream!r}) as handle:
        seen = handle.read()
with open({calls!r}, "a") as handle:
    handle.write(json.dumps([name] + sys.argv[1:] + ([seen] if seen is not None else [])) + "\\n")
if name == "pgrep":
    print("\\n".join(config.get("workers", [])))
    sys.exit(0 if config.get("workers") else 1)
rc = config.get(name, 0)
if rc:
    sys.stderr.write(config.get(name + "_stderr", "failed") + "\\n")
sys.exit(rc)
"""

SLOT_BLUE = "server unix:/run/hello/blue.sock max_fails=0;\n"
SLOT_GREEN = "server unix:/run/hello/green.sock max_fails=0;\n"
BACKENDS = [{"name": "web1", "address": "10.0.0.11:80"}, {"name": "web2", "address": "10.0.0.12:80"}]


class Host:
    def __init__(self, root: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = str(root)
        self.directory = os.path.join(self.root, "etc/nginx/flaskops")
        os.makedirs(self.directory)
        self.path = os.path.join(self.directory, "hello.upstream.conf")
        self.config_file = os.path.join(self.root, "stubs.json")
        self.calls_file = os.path.join(self.root, "calls")
        bin_dir = os.path.join(self.root, "bin")
        os.makedirs(bin_dir)
        for name in ("nginx", "systemctl", "pgrep"):
            stub = os.path.join(bin_dir, name)
            with open(stub, "w", encoding="utf-8") as handle:
                handle.write(STUB.format(python=sys.executable, config=self.config_file, calls=self.calls_file,
                                         upstream=self.path))
            os.chmod(stub, 0o755)
        monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ.get("PATH", ""))
        self.configure(workers=["101", "102"])

    def configure(self, **config: t.Any) -> None:
        with open(self.config_file, "w", encoding="utf-8") as handle:
            json.dump(config, handle)

    def write(self, text: str) -> None:
        with open(self.path, "w", encoding="utf-8") as handle:
            handle.write(text)

    def read(self) -> str | None:
        if not os.path.exists(self.path):
            return None
        with open(self.path, encoding="utf-8") as handle:
            return handle.read()

    def calls(self) -> list[list[str]]:
        if not os.path.exists(self.calls_file):
            return []
        with open(self.calls_file, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    def args(self, **extra: t.Any) -> dict[str, t.Any]:
        return {"site": "hello", "directory": self.directory, **extra}


@pytest.fixture
def host(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> Host:
    return Host(tmp_path, monkeypatch)


def run(args: dict[str, t.Any], check_mode: bool = False, diff: bool = False) -> dict[str, t.Any]:
    if diff:
        args = {**args, "_ansible_diff": True}
    return run_module(nginx_upstream.main, args, check_mode=check_mode)


def run_failing(args: dict[str, t.Any], check_mode: bool = False) -> dict[str, t.Any]:
    return run_module_failing(nginx_upstream.main, args, check_mode=check_mode)


# --- a slot ---------------------------------------------------------------------------------------

def test_a_switch_writes_checks_reloads_and_names_the_workers_to_drain(host: Host) -> None:
    host.write(SLOT_BLUE)
    result = run(host.args(server="unix:/run/hello/green.sock"))
    assert result["changed"] is True and result["reloaded"] is True
    assert result["path"] == host.path
    assert result["previous"] == SLOT_BLUE and result["content"] == SLOT_GREEN
    assert result["drain_pids"] == ["101", "102"]
    assert host.read() == SLOT_GREEN
    # The workers are listed before the file changes; nginx -t sees the new file; then the reload.
    assert host.calls() == [
        ["pgrep", "--full", "^nginx: worker process"],
        ["nginx", "-t", "-q", SLOT_GREEN],
        ["systemctl", "reload", "nginx"],
    ]


def test_the_same_server_again_changes_nothing_and_runs_nothing(host: Host) -> None:
    host.write(SLOT_GREEN)
    result = run(host.args(server="unix:/run/hello/green.sock"))
    assert result["changed"] is False and result["reloaded"] is False and result["drain_pids"] == []
    assert result["previous"] == result["content"] == SLOT_GREEN
    assert host.calls() == []


def test_check_mode_says_what_would_change_and_changes_nothing(host: Host) -> None:
    host.write(SLOT_BLUE)
    result = run(host.args(server="unix:/run/hello/green.sock"), check_mode=True, diff=True)
    assert result["changed"] is True and result["content"] == SLOT_GREEN and result["previous"] == SLOT_BLUE
    assert result["drain_pids"] == [] and result["reloaded"] is False
    assert result["diff"] == {"before": SLOT_BLUE, "after": SLOT_GREEN, "before_header": host.path,
                              "after_header": host.path}
    assert host.read() == SLOT_BLUE and host.calls() == []


def test_a_rejected_configuration_puts_the_previous_file_back(host: Host) -> None:
    host.write(SLOT_BLUE)
    os.chmod(host.path, 0o640)
    host.configure(workers=["101"], nginx=1, nginx_stderr='nginx: [emerg] invalid host in upstream "x"')
    result = run_failing(host.args(server="unix:/run/hello/green.sock"))
    assert 'invalid host in upstream "x"' in result["msg"] and "put back" in result["msg"]
    assert result["stderr"].strip() == 'nginx: [emerg] invalid host in upstream "x"'
    assert result["changed"] is False and result["previous"] == SLOT_BLUE
    assert host.read() == SLOT_BLUE
    assert stat.S_IMODE(os.stat(host.path).st_mode) == 0o640
    assert [call[0] for call in host.calls()] == ["pgrep", "nginx"]


def test_a_rejected_new_file_is_removed(host: Host) -> None:
    host.configure(nginx=1)
    run_failing(host.args(server="unix:/run/hello/green.sock"))
    assert host.read() is None


def test_a_failed_reload_puts_the_previous_file_back(host: Host) -> None:
    host.write(SLOT_BLUE)
    host.configure(systemctl=1, systemctl_stderr="nginx.service is not active, cannot reload.")
    result = run_failing(host.args(server="unix:/run/hello/green.sock"))
    assert "cannot reload" in result["msg"]
    assert host.read() == SLOT_BLUE


def test_a_new_file_is_0644_and_the_mode_of_an_existing_one_stays(host: Host) -> None:
    run(host.args(server="unix:/run/hello/blue.sock"))
    assert stat.S_IMODE(os.stat(host.path).st_mode) == 0o644
    os.chmod(host.path, 0o600)
    run(host.args(server="unix:/run/hello/green.sock"))
    assert stat.S_IMODE(os.stat(host.path).st_mode) == 0o600
    assert os.listdir(host.directory) == ["hello.upstream.conf"]


def test_force_false_writes_only_a_missing_file(host: Host) -> None:
    created = run(host.args(server="unix:/run/hello/gunicorn.sock", force=False, validate=False, reload=False))
    assert created["changed"] is True and host.read() == "server unix:/run/hello/gunicorn.sock max_fails=0;\n"
    host.write(SLOT_GREEN)
    kept = run(host.args(server="unix:/run/hello/gunicorn.sock", force=False))
    assert kept["changed"] is False and host.read() == SLOT_GREEN
    assert host.calls() == []


def test_without_reload_nothing_is_reloaded_and_no_worker_is_listed(host: Host) -> None:
    host.write(SLOT_BLUE)
    result = run(host.args(server="unix:/run/hello/green.sock", reload=False))
    assert result["changed"] is True and result["reloaded"] is False and result["drain_pids"] == []
    assert [call[0] for call in host.calls()] == ["nginx"]


def test_the_commands_can_be_replaced(host: Host) -> None:
    run(host.args(server="127.0.0.1:8001", validate_command=["nginx", "-t"],
                  reload_command=["systemctl", "reload", "nginx.service"]))
    assert host.calls()[1:] == [["nginx", "-t", "server 127.0.0.1:8001 max_fails=0;\n"],
                                ["systemctl", "reload", "nginx.service"]]


def test_no_workers_means_nothing_to_drain(host: Host) -> None:
    host.configure()
    assert run(host.args(server="127.0.0.1:8001"))["drain_pids"] == []


# --- a load balancer ------------------------------------------------------------------------------

def test_backends_are_written_whole(host: Host) -> None:
    result = run(host.args(backends=BACKENDS, down=["web2"], max_fails=3, fail_timeout=5))
    assert result["changed"] is True
    assert host.read() == up.render_backends(BACKENDS, ["web2"], 3, 5)
    # Every backend back in service, web2 removed.
    run(host.args(backends=BACKENDS[:1], max_fails=3, fail_timeout=5))
    assert up.parse(host.read())["backends"] == [
        {"name": "web1", "address": "10.0.0.11:80", "max_fails": 3, "fail_timeout": 5, "down": False}]


def test_marking_changes_only_the_named_backends_and_reloads_once(host: Host) -> None:
    original = up.render_backends(BACKENDS + [{"name": "web3", "address": "10.0.0.13:80"}], down=["web3"])
    host.write(original)
    result = run(host.args(mark_down=["web1", "web2", "web9"]))
    assert result["changed"] is True and result["not_found"] == ["web9"]
    assert [b["down"] for b in up.parse(host.read())["backends"]] == [True, True, True]
    assert [call[0] for call in host.calls()] == ["pgrep", "nginx", "systemctl"]
    again = run(host.args(mark_down=["web1", "web2"]))
    assert again["changed"] is False
    run(host.args(mark_up=["web1", "web2"]))
    assert host.read() == original


def test_marking_needs_a_load_balancers_file(host: Host) -> None:
    assert "no upstream file" in run_failing(host.args(mark_down=["web1"]))["msg"]
    host.write(SLOT_BLUE)
    assert "one app server" in run_failing(host.args(mark_up=["web1"]))["msg"]
    assert host.read() == SLOT_BLUE


# --- arguments ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "extra, message",
    [
        ({"site": "../x", "server": "a:1"}, "site name"),
        ({"server": "a b"}, "single nginx word"),
        ({"server": "a:1", "backends": BACKENDS}, "mutually exclusive"),
        ({"backends": BACKENDS, "mark_down": ["web1"]}, "mutually exclusive"),
        ({}, "one of the following is required"),
        ({"backends": BACKENDS, "down": ["web9"]}, "not listed"),
        ({"mark_down": ["web1"], "down": ["web1"]}, "only used with backends"),
    ],
)
def test_invalid_arguments_fail_and_write_nothing(host: Host, extra: dict[str, t.Any], message: str) -> None:
    result = run_failing({"site": "hello", "directory": host.directory, **extra})
    assert message in result["msg"]
    assert host.read() is None and host.calls() == []


def test_a_missing_directory_fails(host: Host) -> None:
    result = run_failing(host.args(directory=os.path.join(host.root, "nowhere"), server="a:1"))
    assert "is not a directory" in result["msg"]


def test_create_directory_makes_a_missing_directory_0755_and_check_mode_does_not(host: Host) -> None:
    directory = os.path.join(host.root, "etc/nginx/new")
    args = host.args(directory=directory, server="a:1", create_directory=True, validate=False, reload=False)
    result = run(args, check_mode=True)
    assert result["changed"] is True and not os.path.exists(directory)
    result = run(args)
    assert result["changed"] is True
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o755
    with open(os.path.join(directory, "hello.upstream.conf"), encoding="utf-8") as handle:
        assert handle.read() == "server a:1 max_fails=0;\n"


# --- documentation --------------------------------------------------------------------------------

def test_the_examples_use_documented_options() -> None:
    options = set(yaml.safe_load(nginx_upstream.DOCUMENTATION)["options"])
    used = [task["flaskops.deploy.nginx_upstream"] for task in yaml.safe_load(nginx_upstream.EXAMPLES)
            if "flaskops.deploy.nginx_upstream" in task]
    assert len(used) >= 4
    for args in used:
        assert set(args) <= options
    returns = yaml.safe_load(nginx_upstream.RETURN)
    assert {"changed", "path", "previous", "content", "drain_pids"} <= set(returns)
