# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the units and the plan behind flaskops.deploy.app_processes (app_processes, app_timers)."""

from __future__ import annotations

import shlex
import typing as t

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _processes as proc


def context(**extra: t.Any) -> dict[str, t.Any]:
    base = {"app_name": "hello", "release": "r1", "release_dir": "/srv/hello/releases/r1",
            "env_file": "/etc/hello/slots/blue/env", "user": "hello", "group": "hello",
            "shared_dir": "/srv/hello/shared", "memory_deny_write_execute": True}
    base.update(extra)
    return base


def process(**extra: t.Any) -> dict[str, t.Any]:
    base = {"name": "worker", "command": "python -m hello_app.worker", "instances": 2, "stop_signal": "SIGTERM",
            "stop_timeout": 60, "writable_paths": []}
    base.update(extra)
    return base


def timer(**extra: t.Any) -> dict[str, t.Any]:
    base = {"name": "report", "command": "flask --app hello_app report", "on_calendar": "*-*-* 03:00:00",
            "randomized_delay": 0, "persistent": True, "timeout": 0, "writable_paths": [], "on_failure": ""}
    base.update(extra)
    return base


def by_name(units: list[dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    return {unit["name"]: unit for unit in units}


# --- check -------------------------------------------------------------------------------------------------------

def test_check_accepts_good_input() -> None:
    assert proc.check("hello", [process()], [timer(on_failure="flask --app hello_app alert")]) == []


@pytest.mark.parametrize("processes, timers, expected", [
    ([process(name="Worker")], [], "app_processes[0] (Worker): name must match"),
    ([process()], [timer(name="worker")], "app_timers[0] (worker): the name worker is used by app_processes[0]"),
    ([process(command="  ")], [], "app_processes[0] (worker).command: a command is required"),
    ([process(command="python -c 'unclosed")], [], "app_processes[0] (worker).command: No closing quotation"),
    ([process(command="a\nb")], [], "must be one line"),
    ([process(instances=-1)], [], "instances must be 0 or more"),
    ([process(stop_timeout=0)], [], "stop_timeout must be at least 1 second"),
    ([process(writable_paths=["var/cache"])], [], "'var/cache' is not an absolute path"),
    ([], [timer(on_calendar="")], "app_timers[0] (report).on_calendar: a calendar expression is required"),
    ([], [timer(randomized_delay=-5)], "randomized_delay and timeout are seconds"),
    ([], [timer(on_failure="notify 'x")], "app_timers[0] (report).on_failure: No closing quotation"),
])
def test_check_names_the_variable_and_item(processes: list, timers: list, expected: str) -> None:
    problems = proc.check("hello", processes, timers)
    assert any(expected in problem for problem in problems), problems


def test_calendar_problems_name_the_job_and_skip_empty_expressions() -> None:
    asked = []

    def read(expression: str) -> str | None:
        asked.append(expression)
        return "Failed to parse calendar specification\n" if expression == "sometimes" else None

    timers = [timer(), timer(name="never", on_calendar="sometimes"), timer(name="empty", on_calendar=" ")]
    assert proc.calendar_problems(timers, read) == [
        "app_timers[1] (never).on_calendar: systemd does not read 'sometimes': Failed to parse calendar specification"
    ]
    assert asked == ["*-*-* 03:00:00", "sometimes"]
    assert proc.calendar_problems([timer()], read) == []


def test_the_item_specs_match_the_role_argument_spec() -> None:
    """app_processes and app_timers items: the specs the module and flaskops.deploy.app_inputs validate with are the
    app role's own (meta/argument_specs.yml)."""
    import pathlib

    import yaml

    root = pathlib.Path(__file__).resolve().parents[4]
    options = yaml.safe_load((root / "roles" / "app" / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    for variable, spec in (("app_processes", proc.PROCESS_OPTIONS), ("app_timers", proc.TIMER_OPTIONS)):
        role = options[variable]["options"]
        assert set(role) == set(spec), variable
        for name, item in spec.items():
            assert {key: value for key, value in role[name].items() if key != "description"} == item, (variable, name)


# --- commands ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("word, quoted", [
    ("plain", "plain"),
    ("100%", "100%%"),
    ("$SECRET", "$$SECRET"),
    ("two words", '"two words"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("a;b", '"a;b"'),
    ("", '""'),
])
def test_systemd_word_is_literal(word: str, quoted: str) -> None:
    assert proc.systemd_word(word) == quoted


def test_exec_line_runs_in_the_release_venv_without_a_shell() -> None:
    line = proc.exec_line("rq worker --name 'a b' high low", "/srv/hello/releases/r1")
    assert line.startswith("/usr/bin/env PATH=/srv/hello/releases/r1/.venv/bin:/usr/local/bin:/usr/bin:/bin rq ")
    assert shlex.split(line)[2:] == ["rq", "worker", "--name", "a b", "high", "low"]


# --- units -------------------------------------------------------------------------------------------------------

def test_a_process_type_is_a_hardened_template_on_the_live_release() -> None:
    unit = by_name(proc.units(context(), [process(writable_paths=["/var/cache/hello"])], []))["hello-worker@.service"]
    service = unit["service"]
    assert unit["hardening"] is True
    assert unit["install"] == {"WantedBy": "multi-user.target"}
    assert service["WorkingDirectory"] == "/srv/hello/releases/r1"
    assert service["EnvironmentFile"] == "/etc/hello/slots/blue/env"
    assert service["User"] == "hello" and service["Group"] == "hello"
    assert "FLASKOPS_RELEASE=r1" in service["Environment"] and "FLASKOPS_INSTANCE=%i" in service["Environment"]
    assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed" and service["TimeoutStopSec"] == 60
    assert service["ReadWritePaths"] == "/srv/hello/shared /var/cache/hello"
    assert service["ExecStart"].endswith(" python -m hello_app.worker")
    assert service["Restart"] == "on-failure"


def test_a_timer_starts_a_oneshot_job_with_its_failure_hook() -> None:
    units = by_name(proc.units(context(), [], [timer(randomized_delay=600, timeout=120, persistent=False,
                                                     on_failure="flask --app hello_app alert")]))
    assert sorted(units) == ["hello-report-failure.service", "hello-report.service", "hello-report.timer"]
    job = units["hello-report.service"]
    assert job["service"]["Type"] == "oneshot" and job["service"]["TimeoutStartSec"] == 120
    assert job["unit"] == {"OnFailure": "hello-report-failure.service"}
    assert "install" not in job
    assert units["hello-report.timer"]["timer"] == {"OnCalendar": "*-*-* 03:00:00", "Persistent": False,
                                                    "Unit": "hello-report.service", "RandomizedDelaySec": 600}
    assert units["hello-report.timer"]["install"] == {"WantedBy": "timers.target"}
    hook = units["hello-report-failure.service"]["service"]
    assert "FLASKOPS_FAILED_UNIT=hello-report.service" in hook["Environment"]
    assert hook["ExecStart"].endswith(" flask --app hello_app alert")


def test_a_timer_without_hook_or_delay_sets_neither() -> None:
    units = by_name(proc.units(context(), [], [timer()]))
    assert sorted(units) == ["hello-report.service", "hello-report.timer"]
    assert units["hello-report.service"]["unit"] == {}
    assert "RandomizedDelaySec" not in units["hello-report.timer"]["timer"]
    assert "TimeoutStartSec" not in units["hello-report.service"]["service"]


# --- plan --------------------------------------------------------------------------------------------------------

RUNNING = {"ActiveState": "active", "UnitFileState": "enabled"}


def run(processes: list, timers: list, ctx: dict, recorded: dict, observed: dict) -> dict[str, t.Any]:
    return proc.plan("hello", processes, timers, proc.units(ctx, processes, timers), recorded, observed)


def settled(processes: list, timers: list, ctx: dict) -> tuple[dict, dict]:
    """The manifest and the states after a run that applied its plan."""
    first = run(processes, timers, ctx, {}, {})
    return first["manifest"], {unit: dict(RUNNING) for unit in first["manifest"]["running"]}


def test_a_first_run_enables_and_starts_everything() -> None:
    result = run([process()], [timer()], context(), {}, {})
    assert result["start"] == ["hello-worker@1.service", "hello-worker@2.service", "hello-report.timer"]
    assert result["enable"] == result["start"]
    assert result["restart"] == [] and result["stop"] == [] and result["absent"] == []
    assert result["changes"] and result["manifest_changed"]


def test_a_second_run_does_nothing() -> None:
    recorded, observed = settled([process()], [timer()], context())
    result = run([process()], [timer()], context(), recorded, observed)
    assert not result["changes"]
    assert proc.actions(result) == []


@pytest.mark.parametrize("change", [
    {"release": "r2", "release_dir": "/srv/hello/releases/r2"},  # a deploy or a rollback
    {"env_file": "/etc/hello/slots/green/env"},  # a restart: the same release in the other slot
])
def test_a_flip_restarts_the_processes_and_rearms_the_timers(change: dict) -> None:
    recorded, observed = settled([process()], [timer()], context())
    result = run([process()], [timer()], context(**change), recorded, observed)
    assert result["restart"] == ["hello-worker@1.service", "hello-worker@2.service"]
    assert result["restart_timers"] == ["hello-report.timer"]
    assert result["start"] == [] and result["stop"] == []
    assert result["changes"]


def test_a_new_schedule_restarts_the_timer() -> None:
    recorded, observed = settled([process()], [timer()], context())
    result = run([process()], [timer(on_calendar="hourly")], context(), recorded, observed)
    assert result["restart_timers"] == ["hello-report.timer"]
    assert result["restart"] == []


def test_a_stopped_or_failed_instance_is_started() -> None:
    recorded, observed = settled([process()], [], context())
    observed["hello-worker@2.service"] = {"ActiveState": "failed", "UnitFileState": "enabled"}
    result = run([process()], [], context(), recorded, observed)
    assert result["start"] == ["hello-worker@2.service"] and result["restart"] == []


def test_scaling_down_stops_the_extra_instances() -> None:
    recorded, observed = settled([process(instances=3)], [], context())
    result = run([process(instances=1)], [], context(), recorded, observed)
    assert result["stop"] == ["hello-worker@2.service", "hello-worker@3.service"]
    assert result["absent"] == [] and result["restart"] == []


def test_removing_a_type_and_a_job_stops_and_removes_their_units() -> None:
    recorded, observed = settled([process()], [timer(on_failure="alert")], context())
    result = run([], [], context(), recorded, observed)
    assert result["stop"] == ["hello-worker@1.service", "hello-worker@2.service", "hello-report.timer"]
    assert result["absent"] == ["hello-report-failure.service", "hello-report.service", "hello-report.timer",
                                "hello-worker@.service"]
    assert result["manifest"] == {"format": proc.MANIFEST_VERSION, "units": {}, "running": []}


def test_a_unit_already_stopped_is_not_stopped_again() -> None:
    recorded, observed = settled([process(instances=2)], [], context())
    observed["hello-worker@2.service"] = {"ActiveState": "inactive", "UnitFileState": "disabled"}
    result = run([process(instances=1)], [], context(), recorded, observed)
    assert result["stop"] == []
    assert result["manifest_changed"]


def test_no_processes_and_no_manifest_is_nothing_to_do() -> None:
    result = run([], [], context(), {}, {})
    assert not result["changes"]
    assert result["manifest"]["running"] == []


def test_actions_say_what_a_run_does() -> None:
    result = run([process(instances=1)], [], context(), {}, {})
    assert proc.actions(result) == ["enable hello-worker@1.service", "start hello-worker@1.service"]
