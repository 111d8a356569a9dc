# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The background processes (``app_processes``) and scheduled jobs (``app_timers``) of the ``app`` role, as pure
functions.

A process type ``worker`` of the application ``hello`` is the template unit ``hello-worker@.service`` and its
instances ``hello-worker@1.service`` ... ``hello-worker@<instances>.service``. A scheduled job ``report`` is the
timer ``hello-report.timer`` and the service it starts, ``hello-report.service``; with a failure hook, that
service's ``OnFailure=`` names ``hello-report-failure.service``.

Every unit names the live release's directory and the live slot's copy of the environment file, so the units are
rewritten, and the processes restarted, only once a release is live (after the web switch is committed).

:func:`check` validates the inputs, :func:`units` builds the units (in the ``flaskops.deploy.systemd`` role's item
format), :func:`plan` compares them with what the last run recorded (the manifest) and with the units' states and
says what to stop, write, start and restart.

Everything here works on plain data and does no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import typing as t

NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
"""A process type's or a scheduled job's name."""

STOP_SIGNALS: tuple[str, ...] = ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH")
"""The signals a process may ask to be stopped with (its graceful shutdown)."""

RUNNING_STATES = frozenset(("active", "activating", "reloading"))
"""Unit states in which a process needs no start."""

MANIFEST_VERSION = 1
"""The format of the manifest; a change makes every unit count as changed."""

PROCESS_OPTIONS: dict[str, dict[str, t.Any]] = {
    "name": {"type": "str", "required": True},
    "command": {"type": "str", "required": True},
    "instances": {"type": "int", "default": 1},
    "stop_signal": {"type": "str", "default": "SIGTERM", "choices": list(STOP_SIGNALS)},
    "stop_timeout": {"type": "int", "default": 30},
    "writable_paths": {"type": "list", "elements": "str", "default": []},
}
"""The argument spec of one process type (an item of ``app_processes``)."""

TIMER_OPTIONS: dict[str, dict[str, t.Any]] = {
    "name": {"type": "str", "required": True},
    "command": {"type": "str", "required": True},
    "on_calendar": {"type": "str", "required": True},
    "randomized_delay": {"type": "int", "default": 0},
    "persistent": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 0},
    "writable_paths": {"type": "list", "elements": "str", "default": []},
    "on_failure": {"type": "str", "default": ""},
}
"""The argument spec of one scheduled job (an item of ``app_timers``)."""


def _problems_of_paths(where: str, paths: t.Any) -> list[str]:
    return ["%s.writable_paths: %r is not an absolute path" % (where, path)
            for path in paths or [] if not isinstance(path, str) or not path.startswith("/") or "\n" in path]


def _problems_of_command(where: str, command: t.Any) -> list[str]:
    if not isinstance(command, str) or not command.strip():
        return ["%s: a command is required" % where]
    if "\n" in command or "\r" in command:
        return ["%s: the command must be one line" % where]
    try:
        shlex.split(command)
    except ValueError as error:
        return ["%s: %s (%s)" % (where, error, command)]
    return []


def check(app_name: str, processes: list[dict[str, t.Any]], timers: list[dict[str, t.Any]]) -> list[str]:
    """Return one message per problem of ``processes`` and ``timers`` (the module's argument spec has already
    checked the types and the choices); each names the inventory variable and item."""
    problems = []
    seen: dict[str, str] = {}
    for variable, items in (("app_processes", processes), ("app_timers", timers)):
        for index, item in enumerate(items):
            name = item.get("name") or ""
            where = "%s[%d] (%s)" % (variable, index, name or "no name")
            if not NAME.match(name):
                problems.append("%s: name must match %s" % (where, NAME.pattern))
            elif name in seen:
                problems.append("%s: the name %s is used by %s already; names are unique over app_processes and "
                                "app_timers" % (where, name, seen[name]))
            else:
                seen[name] = "%s[%d]" % (variable, index)
            problems += _problems_of_command(where + ".command", item.get("command"))
            problems += _problems_of_paths(where, item.get("writable_paths"))
            if variable == "app_processes":
                if int(item.get("instances", 1)) < 0:
                    problems.append("%s.instances must be 0 or more" % where)
                if int(item.get("stop_timeout", 30)) < 1:
                    problems.append("%s.stop_timeout must be at least 1 second" % where)
            else:
                if not (item.get("on_calendar") or "").strip() or "\n" in item.get("on_calendar", ""):
                    problems.append("%s.on_calendar: a calendar expression is required (e.g. '*-*-* 03:00:00')" % where)
                if int(item.get("randomized_delay", 0)) < 0 or int(item.get("timeout", 0)) < 0:
                    problems.append("%s: randomized_delay and timeout are seconds, 0 or more" % where)
                if item.get("on_failure"):
                    problems += _problems_of_command(where + ".on_failure", item["on_failure"])
    for name in seen:
        if len("%s-%s-failure" % (app_name, name)) > 200:
            problems.append("%s: the unit name %s-%s is too long" % (seen[name], app_name, name))
    return problems


def calendar_problems(timers: list[dict[str, t.Any]], read: t.Callable[[str], str | None]) -> list[str]:
    """One message per scheduled job whose ``on_calendar`` systemd does not read.

    ``read(expression)`` asks systemd (``systemd-analyze calendar``) and returns its complaint, or None when it reads
    the expression. An empty expression is not asked about: :func:`check` reports it.
    """
    problems = []
    for index, item in enumerate(timers):
        expression = item.get("on_calendar") or ""
        if not expression.strip():
            continue
        error = read(expression)
        if error is not None:
            problems.append("app_timers[%d] (%s).on_calendar: systemd does not read %r: %s"
                            % (index, item.get("name"), expression, error.strip()))
    return problems


def systemd_word(word: str) -> str:
    """Quote one word of a command for a systemd ``Exec*=`` line: taken literally (no ``%`` specifier, no ``$``
    variable), quoted when it holds a blank, a quote, a backslash or a semicolon."""
    word = word.replace("%", "%%").replace("$", "$$")
    if word and not re.search(r"[\s\"'\\;]", word):
        return word
    return '"%s"' % word.replace("\\", "\\\\").replace('"', '\\"')


def exec_line(command: str, release_dir: str) -> str:
    """The ``Exec*=`` line of ``command``: no shell, split as a POSIX shell splits words, run through
    ``/usr/bin/env`` with the release's venv first on ``PATH`` (as the role's hooks run)."""
    path = "PATH=%s/.venv/bin:/usr/local/bin:/usr/bin:/bin" % release_dir
    return " ".join(systemd_word(word) for word in ["/usr/bin/env", path] + shlex.split(command))


def _service(
    context: dict[str, t.Any], item: dict[str, t.Any], kind: str, name: str, extra_env: list[str]
) -> dict[str, t.Any]:
    """The [Service] settings shared by the units of processes, jobs and failure hooks."""
    release_dir = context["release_dir"]
    return {
        "User": context["user"],
        "Group": context["group"],
        "WorkingDirectory": release_dir,
        "EnvironmentFile": context["env_file"],
        "Environment": ["PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "FLASKOPS_RELEASE=%s" % context["release"],
                        "FLASKOPS_%s=%s" % (kind, name)] + extra_env,
        "SyslogIdentifier": "%s-%s" % (context["app_name"], name),
        "ReadWritePaths": " ".join([context["shared_dir"]] + list(item.get("writable_paths") or [])),
        "MemoryDenyWriteExecute": bool(context["memory_deny_write_execute"]),
    }


def units(context: dict[str, t.Any], processes: list[dict[str, t.Any]],
          timers: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The units of ``processes`` and ``timers``, as items of the ``flaskops.deploy.systemd`` role's
    ``systemd_units`` (each service with ``hardening: true``).

    ``context`` holds ``app_name``, ``release`` and ``release_dir`` (the live release), ``env_file`` (the live slot's
    copy of the environment file), ``user``, ``group``, ``shared_dir`` (always writable) and
    ``memory_deny_write_execute``.
    """
    app_name, release_dir = context["app_name"], context["release_dir"]
    result = []
    for item in processes:
        base = "%s-%s" % (app_name, item["name"])
        service = _service(context, item, "PROCESS", item["name"], ["FLASKOPS_INSTANCE=%i"])
        service.update({
            "Type": "exec",
            "ExecStart": exec_line(item["command"], release_dir),
            "KillSignal": item.get("stop_signal", "SIGTERM"),
            # The signal goes to the main process only (a worker's children finish their job), SIGKILL to all after
            # the timeout.
            "KillMode": "mixed",
            "TimeoutStopSec": int(item.get("stop_timeout", 30)),
            "Restart": "on-failure",
            "RestartSec": 2,
        })
        result.append({
            "name": "%s@.service" % base,
            "description": "%s process %s %%i (release %s)" % (app_name, item["name"], context["release"]),
            "comment": "Process type %s of %s (app_processes); instance %%i. Managed by the flaskops.deploy.app role: "
                       "deploy.yml, rollback.yml and restart.yml move it to the live release once the web switch "
                       "succeeded. Logs: journalctl -u '%s@*'" % (item["name"], app_name, base),
            "unit": {"After": "network.target", "StartLimitIntervalSec": 60, "StartLimitBurst": 5},
            "service": service,
            "hardening": True,
            "install": {"WantedBy": "multi-user.target"},
        })
    for item in timers:
        base = "%s-%s" % (app_name, item["name"])
        service = _service(context, item, "TIMER", item["name"], [])
        service.update({"Type": "oneshot", "ExecStart": exec_line(item["command"], release_dir)})
        if int(item.get("timeout", 0)) > 0:
            service["TimeoutStartSec"] = int(item["timeout"])
        unit: dict[str, t.Any] = {}
        if item.get("on_failure"):
            unit["OnFailure"] = "%s-failure.service" % base
            hook = _service(context, item, "TIMER", item["name"], ["FLASKOPS_FAILED_UNIT=%s.service" % base])
            hook.update({"Type": "oneshot", "ExecStart": exec_line(item["on_failure"], release_dir)})
            result.append({
                "name": "%s-failure.service" % base,
                "description": "%s job %s: failure hook" % (app_name, item["name"]),
                "comment": "Started by systemd when %s.service fails (app_timers on_failure)." % base,
                "service": hook,
                "hardening": True,
            })
        result.append({
            "name": "%s.service" % base,
            "description": "%s job %s (release %s)" % (app_name, item["name"], context["release"]),
            "comment": "Scheduled job %s of %s (app_timers), started by %s.timer; a failed run leaves this unit "
                       "failed. Logs: journalctl -u %s.service" % (item["name"], app_name, base, base),
            "unit": unit,
            "service": service,
            "hardening": True,
        })
        timer = {"OnCalendar": item["on_calendar"], "Persistent": bool(item.get("persistent", True)),
                 "Unit": "%s.service" % base}
        if int(item.get("randomized_delay", 0)) > 0:
            timer["RandomizedDelaySec"] = int(item["randomized_delay"])
        result.append({
            "name": "%s.timer" % base,
            "description": "%s job %s: schedule" % (app_name, item["name"]),
            "timer": timer,
            "install": {"WantedBy": "timers.target"},
        })
    return result


def fingerprint(unit: dict[str, t.Any]) -> str:
    """A stable digest of a unit's content (with the manifest's format)."""
    data = json.dumps([MANIFEST_VERSION, unit], sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(data.encode("utf-8")).hexdigest()  # nosec - a change marker, not a secret


def instances(app_name: str, processes: list[dict[str, t.Any]]) -> dict[str, str]:
    """Each instance unit that must run, with the template it is an instance of."""
    return {"%s-%s@%d.service" % (app_name, item["name"], number): "%s-%s@.service" % (app_name, item["name"])
            for item in processes for number in range(1, int(item.get("instances", 1)) + 1)}


def plan(
    app_name: str,
    processes: list[dict[str, t.Any]],
    timers: list[dict[str, t.Any]],
    desired_units: list[dict[str, t.Any]],
    recorded: dict[str, t.Any],
    observed: dict[str, dict[str, str]],
) -> dict[str, t.Any]:
    """What a run does to put ``desired_units`` live.

    ``recorded`` is the manifest of the last run (``{"units": {file: fingerprint}, "running": [unit, ...]}``, empty
    when none); ``observed`` maps each unit of ``running`` and of the new manifest to its ``ActiveState`` and
    ``UnitFileState``. A process restarts when its template changed: it names the release and the live slot's
    environment file, so every flip (a deploy, a rollback, a restart) restarts the processes.

    Returns ``stop`` (instances and timers to stop and disable before the unit files change: removed types, instances
    beyond ``instances``, removed jobs), ``absent`` (unit files to remove), ``restart`` (running processes whose unit
    changed; they stop gracefully, then start), ``start`` (processes and timers to start), ``enable`` (to enable),
    ``restart_timers`` (running timers whose schedule or job changed), ``manifest`` (what to record), ``manifest_changed`` and
    ``changes`` (whether anything is to do).
    """
    fingerprints = {unit["name"]: fingerprint(unit) for unit in desired_units}
    old = dict(recorded.get("units") or {})
    changed = {name for name, digest in fingerprints.items() if old.get(name) != digest}
    wanted = instances(app_name, processes)
    timer_units = ["%s-%s.timer" % (app_name, item["name"]) for item in timers]
    running = sorted(wanted) + timer_units

    def state(unit: str) -> dict[str, str]:
        return observed.get(unit) or {}

    def active_or_enabled(unit: str) -> bool:
        return state(unit).get("ActiveState", "") in RUNNING_STATES or state(unit).get("UnitFileState") == "enabled"

    stop = [unit for unit in recorded.get("running") or [] if unit not in running and active_or_enabled(unit)]
    restart_units, start = [], []
    for unit, template in sorted(wanted.items()):
        active = state(unit).get("ActiveState", "") in RUNNING_STATES
        if not active:
            start.append(unit)
        elif template in changed:
            restart_units.append(unit)
    restart_timers, start_timers = [], []
    for unit in timer_units:
        if state(unit).get("ActiveState", "") not in RUNNING_STATES:
            start_timers.append(unit)
        elif unit in changed or unit[:-len(".timer")] + ".service" in changed:
            # A timer whose job changed (every flip: the job names the release) is re-armed: systemd 252 (Debian 12)
            # was seen to stop triggering a timer after the daemon-reload that changed its service while it ran.
            restart_timers.append(unit)
    enable = [unit for unit in running if state(unit).get("UnitFileState") != "enabled"]
    manifest = {"format": MANIFEST_VERSION, "units": fingerprints, "running": running}
    manifest_differs = manifest != {key: recorded.get(key) for key in manifest}
    result: dict[str, t.Any] = {
        "stop": stop,
        "absent": sorted(set(old) - set(fingerprints)),
        "restart": restart_units,
        "start": start + start_timers,
        "enable": enable,
        "restart_timers": restart_timers,
        "manifest": manifest,
        # No manifest and nothing to record (an application without processes) is no change.
        "manifest_changed": manifest_differs and bool(recorded or running or fingerprints),
    }
    result["changes"] = any(result[key] for key in ("stop", "absent", "enable", "restart", "start", "restart_timers",
                                                    "manifest_changed"))
    return result


def actions(the_plan: dict[str, t.Any]) -> list[str]:
    """One line per action of ``the_plan``, for check mode and the task's output."""
    lines = []
    for key, verb in (("stop", "stop and disable"), ("absent", "remove the unit file"), ("enable", "enable"),
                      ("restart", "restart (graceful stop, then start on the live release)"), ("start", "start"),
                      ("restart_timers", "restart the timer")):
        lines += ["%s %s" % (verb, unit) for unit in the_plan.get(key) or []]
    return lines
