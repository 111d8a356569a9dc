# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of flaskops.deploy.app_processes: arguments, the plan read from a manifest and systemctl, check mode, and
what apply and retire run (systemctl is simulated)."""

from __future__ import annotations

import json
import typing as t

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flaskops.deploy.plugins.modules import app_processes
from ansible_collections.flaskops.deploy.tests.unit.plugins.modules.utils import run_module, run_module_failing

WORKER = {"name": "worker", "command": "python -m hello_app.worker", "instances": 2}
TICK = {"name": "tick", "command": "flask --app hello_app tick", "on_calendar": "*:0/5"}


class Systemd:
    """systemctl show answers from ``states``; every other command is recorded."""

    def __init__(self, states: dict[str, dict[str, str]] | None = None) -> None:
        self.states = states or {}
        self.commands: list[list[str]] = []

    def __call__(self, module: AnsibleModule, argv: list[str], **kwargs: t.Any) -> tuple[int, str, str]:
        if argv[1] == "show":
            names = argv[argv.index("--") + 1:]
            blocks = []
            for name in names:
                state = self.states.get(name, {"ActiveState": "inactive", "UnitFileState": ""})
                blocks.append("Id=%s\nActiveState=%s\nUnitFileState=%s\nNRestarts=0"
                              % (name, state["ActiveState"], state["UnitFileState"]))
            return 0, "\n\n".join(blocks) + "\n", ""
        self.commands.append([argv[0].rsplit("/", 1)[-1]] + argv[1:])
        if argv[1] in ("start", "restart", "enable"):
            for name in argv[argv.index("--") + 1:]:
                self.states[name] = {"ActiveState": "active", "UnitFileState": "enabled"}
        return 0, "", ""


@pytest.fixture
def systemd(monkeypatch: pytest.MonkeyPatch) -> Systemd:
    fake = Systemd()

    def run_command(module: AnsibleModule, argv: list[str], **kwargs: t.Any) -> tuple[int, str, str]:
        return fake(module, argv, **kwargs)

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, required=False: "/usr/bin/" + name)
    monkeypatch.setattr(app_processes.time, "sleep", lambda seconds: None)
    return fake


def plan_args(tmp_path: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    args = {"action": "plan", "app_name": "hello", "processes": [WORKER], "timers": [TICK], "release": "r1",
            "release_dir": "/srv/hello/releases/r1", "env_file": "/etc/hello/slots/blue/env", "user": "hello",
            "group": "hello", "shared_dir": "/srv/hello/shared", "manifest": str(tmp_path / "processes.json")}
    args.update(extra)
    return args


def test_plan_applies_the_defaults_and_changes_nothing(tmp_path: t.Any, systemd: Systemd) -> None:
    result = run_module(app_processes.main, plan_args(tmp_path))
    assert result["changed"] is False
    template = [unit for unit in result["units"] if unit["name"] == "hello-worker@.service"][0]
    assert template["service"]["KillSignal"] == "SIGTERM" and template["service"]["TimeoutStopSec"] == 30
    assert result["plan"]["start"] == ["hello-worker@1.service", "hello-worker@2.service", "hello-tick.timer"]
    assert systemd.commands == []
    assert not (tmp_path / "processes.json").exists()


def test_plan_and_apply_take_the_host_layout(tmp_path: t.Any, systemd: Systemd) -> None:
    layout = {"app_name": "hello", "user": "hello", "group": "root", "shared_dir": "/srv/hello/shared",
              "processes_manifest": str(tmp_path / "processes.json"), "state_file": "/etc/hello/slots/state.json"}
    args = plan_args(tmp_path, group="root")
    given = run_module(app_processes.main, args)
    for key in ("app_name", "user", "group", "shared_dir", "manifest"):
        del args[key]
    assert run_module(app_processes.main, dict(args, layout=layout)) == given
    applied = run_module(app_processes.main, {"action": "apply", "layout": layout, "plan": given["plan"]})
    assert applied["changed"] is True and (tmp_path / "processes.json").exists()
    missing = run_module_failing(app_processes.main, {"action": "apply", "layout": {"app_name": "hello"},
                                                      "plan": given["plan"]})
    assert missing["msg"] == "action is apply but all of the following are missing: manifest, group"
    nameless = run_module_failing(app_processes.main, {"action": "validate"})
    assert nameless["msg"] == "missing required arguments (here or in layout): app_name"


def test_plan_refuses_bad_input_naming_it(tmp_path: t.Any, systemd: Systemd) -> None:
    result = run_module_failing(app_processes.main, plan_args(tmp_path, timers=[dict(TICK, name="worker")]))
    assert "app_timers[0] (worker): the name worker is used by app_processes[0]" in result["msg"]


def test_validate_asks_systemd_to_read_the_calendar(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake(module: AnsibleModule, argv: list[str], **kwargs: t.Any) -> tuple[int, str, str]:
        calls.append(argv)
        return (1, "", "Failed to parse calendar specification 'sometimes'") if argv[-1] == "sometimes" else (0, "", "")

    monkeypatch.setattr(AnsibleModule, "run_command", fake)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, required=False: "/usr/bin/" + name)
    ok = run_module(app_processes.main, {"action": "validate", "app_name": "hello", "timers": [TICK]})
    assert ok["changed"] is False and ok["problems"] == []
    failed = run_module_failing(app_processes.main, {"action": "validate", "app_name": "hello",
                                                     "timers": [dict(TICK, on_calendar="sometimes")]})
    assert "app_timers[0] (tick).on_calendar: systemd does not read 'sometimes'" in failed["msg"]
    assert calls[0] == ["/usr/bin/systemd-analyze", "calendar", "--", "*:0/5"]


def test_apply_then_a_second_plan_has_nothing_to_do(tmp_path: t.Any, systemd: Systemd) -> None:
    plan = run_module(app_processes.main, plan_args(tmp_path))["plan"]
    applied = run_module(app_processes.main, {"action": "apply", "app_name": "hello", "group": "root",
                                              "manifest": str(tmp_path / "processes.json"), "plan": plan})
    assert applied["changed"] is True
    assert ["systemctl", "enable", "--", "hello-worker@1.service", "hello-worker@2.service", "hello-tick.timer"] \
        in systemd.commands
    assert ["systemctl", "start", "--", "hello-worker@1.service", "hello-worker@2.service", "hello-tick.timer"] \
        in systemd.commands
    assert json.loads((tmp_path / "processes.json").read_text())["running"][0] == "hello-worker@1.service"
    again = run_module(app_processes.main, plan_args(tmp_path))["plan"]
    assert again["changes"] is False


def test_a_new_release_restarts_the_workers_and_rearms_the_timers(tmp_path: t.Any, systemd: Systemd) -> None:
    plan = run_module(app_processes.main, plan_args(tmp_path))["plan"]
    run_module(app_processes.main, {"action": "apply", "app_name": "hello", "group": "root",
                                    "manifest": str(tmp_path / "processes.json"), "plan": plan})
    systemd.commands.clear()
    plan = run_module(app_processes.main, plan_args(tmp_path, release="r2", release_dir="/srv/hello/releases/r2"))["plan"]
    run_module(app_processes.main, {"action": "apply", "app_name": "hello", "group": "root",
                                    "manifest": str(tmp_path / "processes.json"), "plan": plan})
    assert systemd.commands == [["systemctl", "restart", "--", "hello-worker@1.service", "hello-worker@2.service"],
                                ["systemctl", "restart", "--", "hello-tick.timer"]]


def test_check_mode_reports_without_running_anything(tmp_path: t.Any, systemd: Systemd) -> None:
    plan = run_module(app_processes.main, plan_args(tmp_path))["plan"]
    result = run_module(app_processes.main, {"action": "apply", "app_name": "hello", "group": "root",
                                             "manifest": str(tmp_path / "processes.json"), "plan": plan},
                        check_mode=True)
    assert result["changed"] is True
    assert "start hello-worker@1.service" in result["would"]
    retired = run_module(app_processes.main, {"action": "retire", "app_name": "hello",
                                              "plan": dict(plan, stop=["hello-old@1.service"])}, check_mode=True)
    assert retired["changed"] is True and retired["would"] == ["stop and disable hello-old@1.service"]
    assert systemd.commands == []
    assert not (tmp_path / "processes.json").exists()


def test_retire_stops_and_disables(tmp_path: t.Any, systemd: Systemd) -> None:
    result = run_module(app_processes.main, {"action": "retire", "app_name": "hello",
                                             "plan": {"stop": ["hello-worker@2.service"]}})
    assert result["changed"] is True
    assert systemd.commands == [["systemctl", "disable", "--now", "--", "hello-worker@2.service"]]


def test_retire_without_a_plan_makes_it_and_stops_what_it_removes(tmp_path: t.Any, systemd: Systemd) -> None:
    plan = run_module(app_processes.main, plan_args(tmp_path))["plan"]
    run_module(app_processes.main, {"action": "apply", "app_name": "hello", "group": "root",
                                    "manifest": str(tmp_path / "processes.json"), "plan": plan})
    systemd.commands.clear()
    # Nothing removed: the plan of action=plan, and nothing stopped.
    same = run_module(app_processes.main, plan_args(tmp_path, action="retire"))
    assert same["changed"] is False and same["would"] == [] and systemd.commands == []
    assert same["plan"] == run_module(app_processes.main, plan_args(tmp_path))["plan"] and same["units"]
    # One worker instead of two: the second stops now, before the unit files change.
    fewer = run_module(app_processes.main, plan_args(tmp_path, action="retire",
                                                     processes=[dict(WORKER, instances=1)]), check_mode=True)
    assert fewer["changed"] is True and fewer["would"] == ["stop and disable hello-worker@2.service"]
    assert fewer["plan"]["stop"] == ["hello-worker@2.service"] and not any(c[1] == "disable" for c in systemd.commands)
    missing = run_module_failing(app_processes.main, {"action": "retire", "app_name": "hello"})
    assert missing["msg"].startswith("action is retire but all of the following are missing: release, release_dir")


def test_apply_fails_when_a_process_does_not_keep_running(tmp_path: t.Any, systemd: Systemd,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    plan = run_module(app_processes.main, plan_args(tmp_path, timers=[]))["plan"]
    original = systemd.__call__

    def crashing(module: AnsibleModule, argv: list[str], **kwargs: t.Any) -> tuple[int, str, str]:
        if argv[0].endswith("journalctl"):
            return 0, "ModuleNotFoundError: No module named 'hello_app'\n", ""
        rc, out, err = original(module, argv, **kwargs)
        if argv[1] == "start":
            systemd.states["hello-worker@1.service"] = {"ActiveState": "failed", "UnitFileState": "enabled"}
        return rc, out, err

    monkeypatch.setattr(AnsibleModule, "run_command", crashing)
    result = run_module_failing(app_processes.main, {"action": "apply", "app_name": "hello", "group": "root",
                                                     "manifest": str(tmp_path / "processes.json"), "plan": plan})
    assert "hello-worker@1.service" in result["msg"] and "No module named 'hello_app'" in result["msg"]
    assert not (tmp_path / "processes.json").exists()
