# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The run summary of a host: what a playbook left live there, and how long its steps took.

:func:`summarise` builds it from the results of the modules that own each part, as registered by the app role:

- ``flaskops.deploy.release`` (``action=status``, read at the end of the run): the live slot and its release;
- the plan that ``flaskops.deploy.release`` made during the run (whether a release went, or in check mode would go,
  live, and why);
- ``flaskops.deploy.slot_flip``: the duration of each step of the flip (gates 2 and 3, the switch, the drain);
- ``flaskops.deploy.venv_build`` and the bytecode compile (``duration`` or ``delta``): the build;
- ``flaskops.deploy.flask_config_validate``: gate 1's ``duration``;
- ``flaskops.deploy.health_check``: the health through nginx at the end of the run, and the application's version
  from its JSON body.

Only those fields are read: no environment, no body, no header. A URL loses any user and password it carries.
:func:`lines` renders the summary as the lines the play prints, one block per host.
"""

from __future__ import annotations

import re
import typing as t
import urllib.parse

GATE_STEPS = {"slot check": "slot", "proxy check": "proxy", "recheck": "recheck"}
"""slot_flip's steps that are health gates, with their short names in the summary."""

SWITCH_STEPS = ("switch", "links", "switch back", "links back")
"""slot_flip's steps that move the traffic (nginx's upstream, the socket link, ``current`` and ``previous``)."""

DRAIN_STEPS = ("drain and stop",)
"""slot_flip's steps that let the slot that served drain, then stop it."""

MAX_VERSION = 64
"""How many characters of the version the application reports are kept."""

_DELTA = re.compile(r"^(?:(\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


def _mapping(value: t.Any) -> t.Mapping[str, t.Any]:
    return value if isinstance(value, t.Mapping) else {}


def ran(result: t.Any) -> bool:
    """Whether a registered task result is that of a task that ran (not skipped, not missing)."""
    result = _mapping(result)
    return bool(result) and not result.get("skipped", False)


def seconds(result: t.Any) -> float | None:
    """The duration of a task result in seconds: its ``duration`` (this collection's modules) or the ``delta`` of
    ``ansible.builtin.command`` (``H:MM:SS.ffffff``); ``None`` when it has neither or did not run."""
    result = _mapping(result)
    if not ran(result):
        return None
    duration = result.get("duration")
    if isinstance(duration, (int, float)) and not isinstance(duration, bool):
        return float(duration)
    match = _DELTA.match(str(result.get("delta", "")).strip())
    if match:
        days, hours, minutes, secs = match.groups()
        return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(secs)
    return None


def _total(values: t.Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(sum(present), 3) if present else None


def flip_seconds(flip: t.Any) -> dict[str, t.Any]:
    """The durations of a slot_flip result: ``gates`` (slot check, proxy check, recheck, by name), ``switch`` and
    ``drain`` in seconds, ``None`` when that part did not run."""
    steps = _mapping(flip).get("steps") if ran(flip) else None
    gates: dict[str, float] = {}
    switch: list[float] = []
    drain: list[float] = []
    for step in steps if isinstance(steps, list) else []:
        step = _mapping(step)
        value = step.get("seconds")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        name = step.get("step")
        if name in GATE_STEPS:
            gates[GATE_STEPS[name]] = round(gates.get(GATE_STEPS[name], 0.0) + value, 3)
        elif name in SWITCH_STEPS:
            switch.append(float(value))
        elif name in DRAIN_STEPS:
            drain.append(float(value))
    return {"gates": gates, "switch": _total(switch), "drain": _total(drain)}


def public_url(url: str) -> str:
    """``url`` without the user and password it may carry."""
    url = str(url or "").strip()
    if not url:
        return ""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def app_version(health: t.Any, field: str) -> str:
    """The version the application reports in the JSON body of its health check (``field``, a dotted path), on one
    line and at most :data:`MAX_VERSION` characters; ``""`` when there is none."""
    value: t.Any = _mapping(health).get("json") if ran(health) else None
    for key in [part for part in str(field or "").split(".") if part]:
        value = value.get(key) if isinstance(value, t.Mapping) else None
    if value is None or isinstance(value, (t.Mapping, list, bool)):
        return ""
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_VERSION else text[: MAX_VERSION - 3] + "..."


def _health(health: t.Any) -> dict[str, t.Any]:
    if not ran(health):
        return {"health": "not checked", "status": None, "attempts": 0}
    health = _mapping(health)
    return {
        "health": "healthy" if health.get("healthy") else "unhealthy",
        "status": health.get("status"),
        "attempts": health.get("attempts", 0),
    }


def _live(status: t.Any) -> tuple[str, dict[str, t.Any]]:
    state = _mapping(_mapping(status).get("state"))
    live = str(state.get("live") or "")
    slots = _mapping(_mapping(state.get("recorded")).get("slots"))
    return live, dict(_mapping(slots.get(live))) if live else {}


def summarise(
    *,
    host: str,
    operation: str,
    app_name: str,
    status: t.Any,
    plan: t.Any = None,
    flip: t.Any = None,
    builds: t.Sequence[t.Any] = (),
    config: t.Any = None,
    health: t.Any = None,
    url: str = "",
    check_mode: bool = False,
    version_field: str = "version",
) -> dict[str, t.Any]:
    """The summary of one host (see the module's docstring for where each part comes from)."""
    plan = _mapping(plan) if ran(plan) else {}
    live, record = _live(status)
    flipped = ran(flip) and bool(_mapping(flip).get("steps"))
    would_flip = check_mode and bool(plan.get("flip"))
    if would_flip:
        outcome = "would go live"
        release = str(_mapping(flip).get("release") or "") or record.get("release", "")
        slot = str(plan.get("next") or "")
    else:
        outcome = "went live" if flipped else ("live" if live else "nothing live")
        release = str(record.get("release", ""))
        slot = live
    built = [value for value in (seconds(result) for result in builds) if value is not None]
    flip_times = flip_seconds(flip) if flipped else {"gates": {}, "switch": None, "drain": None}
    gates = dict(flip_times["gates"])
    config_seconds = seconds(config)
    if config_seconds is not None and not check_mode:
        gates = {"config": round(config_seconds, 3), **gates}
    timed = not check_mode
    summary: dict[str, t.Any] = {
        "host": host,
        "app": app_name,
        "operation": operation,
        "check_mode": bool(check_mode),
        "outcome": outcome,
        "reason": str(plan.get("reason", "")) if (flipped or would_flip) else "",
        "release": release,
        "slot": slot,
        "previous_slot": str(_mapping(flip).get("old_slot") or "") if flipped else (
            str(plan.get("live") or "") if would_flip else ""),
        "built": bool(built) and timed,
        "url": public_url(url),
        "version": app_version(health, version_field),
        "durations": {
            "build": _total(built) if timed else None,
            "gates": _total(gates.values()) if timed else None,
            "switch": flip_times["switch"] if timed else None,
            "drain": flip_times["drain"] if timed else None,
        },
        "gates": gates if timed else {},
    }
    summary.update(_health(health))
    return summary


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def lines(summary: t.Mapping[str, t.Any]) -> list[str]:
    """The summary as the lines the play prints for the host."""
    release = summary["release"] or "none"
    if summary["outcome"] == "would go live":
        head = f"check mode: release {release} would go live in slot {summary['slot']}"
        head += f" ({summary['reason']})" if summary["reason"] else ""
    elif summary["outcome"] == "went live":
        head = f"release {release} went live in slot {summary['slot']}"
        head += f" ({summary['reason']})" if summary["reason"] else ""
    elif summary["outcome"] == "live":
        head = f"release {release} is live in slot {summary['slot']}, unchanged by this run"
    else:
        head = "no release is live"
    health = summary["health"]
    if summary["status"] is not None:
        plural = "" if summary["attempts"] == 1 else "s"
        health += f" (HTTP {summary['status']} through nginx, {summary['attempts']} attempt{plural})"
    slot = summary["slot"] or "none"
    if summary["previous_slot"]:
        slot += f" (before: {summary['previous_slot']})"
    durations = summary["durations"]
    if summary["check_mode"]:
        timings = "none in check mode"
    else:
        gates = ", ".join(f"{name} {value:.2f}" for name, value in summary["gates"].items())
        gates_detail = f" ({gates})" if gates else ""
        timings = (f"build {_secs(durations['build'])}, gates {_secs(durations['gates'])}{gates_detail}, "
                   f"switch {_secs(durations['switch'])}, drain {_secs(durations['drain'])}")
    return [
        f"{summary['app']} on {summary['host']} ({summary['operation']}): {head}",
        f"release:  {release}" + (", built in this run" if summary["built"] else ""),
        f"slot:     {slot}",
        f"url:      {summary['url'] or 'none'}",
        f"health:   {health}",
        f"version:  {summary['version'] or 'not reported'}",
        f"took:     {timings}",
    ]
