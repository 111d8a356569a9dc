# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The flip of the ``app`` role: put a release live through the idle slot, as one sequence.

:func:`flip` runs, for :func:`~._release.plan`'s plan, the steps the role used to run as tasks:

1. clear the idle slot's failed state, give it its configuration (env file, server configuration) and its
   ``50-release.conf`` drop-in (``systemctl daemon-reload`` when that changed);
2. start it and check it on its own socket (gate 2); on failure read its last log lines, stop it, write the
   release's ``.failed`` report and stop;
3. switch nginx's upstream to it (and, for unix sockets, the stable socket link and its tmpfiles.d line);
4. move ``current`` (and ``previous``) to the release;
5. check through the proxy (gate 3); on failure switch back to the old slot once, re-check, stop the new slot
   after the drain, write the ``.failed`` report and stop - or, with no old slot, record the served slot as
   ``unverified`` and stop;
6. record the live slot, start it at boot, let the old slot drain and stop it.

Every side effect goes through a *host* object (see :class:`Host`), so the sequence runs on plain data in the unit
tests. The text of the files and the messages are pure functions.
"""

from __future__ import annotations

import json
import posixpath
import typing as t

from ansible_collections.flaskops.deploy.plugins.module_utils._release import commit, record_failure

JOURNAL_LINES = 12
"""How many of the new slot's last log lines a failure of its health check shows."""

JOURNAL_CHARS = 1200
"""How much of those log lines the failure message keeps (as the role's ``truncate(1200)``)."""

UNVERIFIED = "unverified"
"""The fingerprint recorded for a slot nginx serves that failed the check through the proxy (no slot to go back
to): the next run starts the release afresh in the other slot and flips to it."""


class FlipFailed(Exception):
    """The flip stopped; ``args[0]`` is the message, :attr:`result` the result so far."""

    def __init__(self, msg: str, result: dict[str, t.Any]) -> None:
        super().__init__(msg)
        self.result = result


class HostError(Exception):
    """A step on the host failed (a command, nginx rejecting the upstream file); ``args[0]`` is the message."""


class Host(t.Protocol):
    """What the flip does on a host. Methods that change something return whether they did; a failure raises
    :class:`HostError`."""

    def now(self) -> float:
        ...

    def systemctl(self, *args: str) -> None:
        ...

    def ensure_directory(self, path: str, owner: str, group: str, mode: int) -> bool:
        ...

    def copy_file(self, src: str, dest: str, owner: str, group: str, mode: int) -> bool:
        ...

    def write_file(self, path: str, content: str, owner: str, group: str, mode: int) -> bool:
        ...

    def remove_file(self, path: str) -> bool:
        ...

    def symlink(self, path: str, target: str) -> bool:
        ...

    def health(self, check: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        ...

    def journal(self, unit: str, lines: int) -> list[str]:
        ...

    def switch_upstream(self, site: str, address: str) -> list[str]:
        ...

    def wait_gone(self, pids: t.Sequence[str], timeout: float) -> bool:
        ...

    def sleep(self, seconds: float) -> None:
        ...


# --- pure functions ---------------------------------------------------------------------------------------------

def unit(app_name: str, slot: str, kind: str) -> str:
    """Return the systemd unit of ``slot``: ``<app_name>@<slot>.<kind>`` (``service`` or ``socket``)."""
    return f"{app_name}@{slot}.{kind}"


def dropin_path(unit_dir: str, app_name: str, slot: str) -> str:
    """Return the path of the drop-in that points ``slot`` at its release."""
    return posixpath.join(unit_dir, f"{unit(app_name, slot, 'service')}.d", "50-release.conf")


def dropin_text(slot: str, release: str, release_dir: str, server: str, exec_start: str) -> str:
    """Return the drop-in that makes ``slot`` run ``release`` (in ``release_dir``) with ``exec_start``."""
    return (
        "# Written by flaskops.deploy.slot_flip: changes are overwritten when a release goes live in this slot.\n"
        f"# Slot {slot} runs release {release} with {server}.\n"
        "\n"
        "[Service]\n"
        f"WorkingDirectory={release_dir}\n"
        f"Environment=FLASKOPS_SLOT={slot}\n"
        f"Environment=FLASKOPS_RELEASE={release}\n"
        "ExecStart=\n"
        f"ExecStart={exec_start}\n"
    )


def tmpfiles_text(app_name: str, run_dir: str, link: str, target: str) -> str:
    """Return the tmpfiles.d file that recreates the stable socket link ``link`` -> ``target`` at boot."""
    return (
        f"# {app_name}: the stable socket path follows the live slot (written by flaskops.deploy.app).\n"
        f"d {run_dir} 0755 root root -\n"
        f"L+ {link} - - - - {target}\n"
    )


def previous_target(previous_to: str, current_to: str) -> str:
    """Return where ``previous`` points: ``previous_to``, or ``""`` (no link) when empty or the same as current."""
    previous_to, current_to = (previous_to or "").strip(), (current_to or "").strip()
    return previous_to if previous_to and previous_to != current_to else ""


def failure_report_text(report: t.Mapping[str, t.Any]) -> str:
    """Return the ``.failed`` report's text (JSON, as the role's ``to_nice_json``)."""
    return json.dumps(dict(report), indent=4, sort_keys=True) + "\n"


def slot_failure_message(release: str, slot: str, old: str, health: str, journal: t.Sequence[str]) -> str:
    """Return the message of a release that did not become healthy in its slot."""
    keeps = f" and slot {old} keeps serving" if old else ""
    lines = " | ".join(journal)
    if len(lines) > JOURNAL_CHARS:
        lines = lines[: JOURNAL_CHARS - 3] + "..."
    return (f"Release {release} did not become healthy in slot {slot}, so no traffic was switched to it{keeps}. "
            f"Health: {health} Last log lines: {lines}")


def unverified_message(release: str, slot: str, proxy: str) -> str:
    """Return the message of a first release that failed the check through the proxy (nothing to go back to)."""
    return (f"Release {release} is live in slot {slot} but failed the check through the proxy, and no other slot was "
            f"running to switch back to: {proxy}")


def switched_back_message(release: str, slot: str, old: str, proxy: str, recheck: str) -> str:
    """Return the message of a release that failed the check through the proxy and was switched away from."""
    return (f"Release {release} failed the check through the proxy after the switch to slot {slot}: {proxy} -- The "
            f"traffic went back to slot {old}, which is {recheck} through the proxy, and slot {slot} was stopped.")


def check_mode_steps(spec: t.Mapping[str, t.Any]) -> list[str]:
    """Return what a real run of the flip does, one line per step, for check mode."""
    slot, old, plan = spec["slot"], spec["plan"]["old"], spec["plan"]
    steps = []
    if plan["reset_failed"]:
        steps.append(f"clear the failed state of slot {slot}")
    steps.append(f"give slot {slot} the configuration and point it at release {spec['release']}")
    steps.append(f"start slot {slot} and check it on its own socket")
    if spec["site"]:
        steps.append(f"point nginx's upstream at slot {slot}")
    if spec["link"]:
        steps.append(f"point {spec['link']} at slot {slot}")
    steps.append(f"point current at {spec['release_dir']}")
    if spec["proxy_check"]:
        steps.append("check through the proxy" + (f" (switch back to slot {old} on failure)" if old else ""))
    steps.append(f"record slot {slot} as live and start it at boot")
    if plan["live"]:
        steps.append(f"let slot {plan['live']} drain, then stop it")
    return steps


# --- the flip -----------------------------------------------------------------------------------------------------

class _Run:
    """One flip: the spec, the host and the result being built."""

    def __init__(self, host: Host, spec: t.Mapping[str, t.Any]) -> None:
        self.host = host
        self.spec = spec
        self.plan = spec["plan"]
        self.slot = spec["slot"]
        self.old = self.plan["old"]
        self.result: dict[str, t.Any] = {
            "changed": False,
            "slot": self.slot,
            "old_slot": self.old,
            "stopped_slot": "",
            "release": spec["release"],
            "release_dir": spec["release_dir"],
            "reason": self.plan["reason"],
            "steps": [],
            "drain_pids": [],
            "slot_check": {},
            "proxy_check": {},
            "recheck": {},
            "committed": {},
            "failure": {},
        }

    def step(self, name: str, action: t.Callable[[], t.Any], **details: t.Any) -> t.Any:
        """Run ``action`` as step ``name``, with its duration in the result."""
        started = self.host.now()
        entry = dict(step=name, **details)
        self.result["steps"].append(entry)
        try:
            value = action()
        finally:
            entry["seconds"] = round(self.host.now() - started, 3)
        self.result["changed"] = True
        return value

    # the pieces ---------------------------------------------------------------------------------------------------

    def prepare(self) -> None:
        spec, host, slot = self.spec, self.host, self.slot
        group = spec["group"]
        if self.plan["reset_failed"]:
            host.systemctl("reset-failed", unit(spec["app_name"], slot, "service"), unit(spec["app_name"], slot, "socket"))
        slot_dir = posixpath.join(spec["slots_dir"], slot)
        host.ensure_directory(slot_dir, "root", group, 0o750)
        for name in spec["config_files"]:
            host.copy_file(posixpath.join(spec["config_dir"], name), posixpath.join(slot_dir, name), "root", group, 0o640)
        path = dropin_path(spec["unit_dir"], spec["app_name"], slot)
        host.ensure_directory(posixpath.dirname(path), "root", "root", 0o755)
        text = dropin_text(slot, spec["release"], spec["release_dir"], spec["server"], spec["exec_start"])
        if host.write_file(path, text, "root", "root", 0o644):
            host.systemctl("daemon-reload")

    def switch(self, slot: str) -> list[str]:
        spec, host = self.spec, self.host
        pids: list[str] = []
        if spec["site"]:
            pids = list(host.switch_upstream(spec["site"], spec["slot_addresses"][slot]))
        if spec["link"]:
            target = spec["slot_sockets"][slot]
            host.symlink(spec["link"], target)
            host.write_file(spec["tmpfiles"], tmpfiles_text(spec["app_name"], posixpath.dirname(spec["link"]),
                                                            spec["link"], target), "root", "root", 0o644)
        return pids

    def links(self, current_to: str, previous_to: str) -> None:
        root, host = self.spec["app_root"], self.host
        previous = previous_target(previous_to, current_to)
        if previous:
            host.symlink(posixpath.join(root, "previous"), previous)
        else:
            host.remove_file(posixpath.join(root, "previous"))
        host.symlink(posixpath.join(root, "current"), current_to)

    def stop(self, slot: str, pids: t.Sequence[str], drain: bool) -> None:
        spec, host = self.spec, self.host
        if drain and pids:
            host.wait_gone(pids, spec["drain_timeout"])
        if drain and not spec["site"] and spec["drain_grace"] > 0:
            host.sleep(spec["drain_grace"])
        sock = unit(spec["app_name"], slot, "socket")
        host.systemctl("stop", sock)
        # systemd reads the enablement links again once, at the end of the flip (reload), not on each change.
        host.systemctl("disable", "--no-reload", sock)

    def mark_failed(self, gate: str, health: str) -> None:
        spec = self.spec
        live_dir = spec["live_release_dir"]
        report = record_failure(spec["state"], spec["release"], spec["release_dir"], gate, self.slot, health)
        if report is None or spec["release_dir"] == live_dir:
            return
        self.result["failure"] = report
        self.host.write_file(spec["release_dir"].rstrip("/") + ".failed", failure_report_text(report), "root", "root",
                             0o600)

    def record(self, fingerprint: str) -> None:
        spec = self.spec
        new = commit(spec["state"], self.slot, spec["release"], spec["release_dir"], fingerprint, spec["server"])
        self.result["committed"] = new
        self.host.write_file(spec["state_file"], json.dumps(new, indent=4, sort_keys=True) + "\n", "root",
                             spec["group"], 0o640)
        self.host.remove_file(spec["release_dir"].rstrip("/") + ".failed")

    # the sequence -------------------------------------------------------------------------------------------------

    def run(self) -> dict[str, t.Any]:
        spec, host, slot, old = self.spec, self.host, self.slot, self.old
        service = unit(spec["app_name"], slot, "service")
        self.step("prepare", self.prepare, slot=slot)
        self.step("start", lambda: host.systemctl("start", service), slot=slot)
        health = self.step("slot check", lambda: host.health(spec["slot_check"]), slot=slot)
        self.result["slot_check"] = health
        if not health.get("healthy"):
            failure = health.get("msg", "")
            journal = self.step("journal", lambda: host.journal(service, JOURNAL_LINES), slot=slot)
            self.step("stop", lambda: self.stop(slot, [], False), slot=slot)
            self.result["stopped_slot"] = slot
            self.mark_failed("slot health", failure)
            raise FlipFailed(slot_failure_message(spec["release"], slot, old, failure, journal), self.result)

        pids = self.step("switch", lambda: self.switch(slot), slot=slot)
        self.result["drain_pids"] = pids
        self.step("links", lambda: self.links(spec["release_dir"], self.plan["previous_release_dir"]))

        if spec["proxy_check"]:
            proxy = self.step("proxy check", lambda: host.health(spec["proxy_check"]), slot=slot)
            self.result["proxy_check"] = proxy
            if not proxy.get("healthy"):
                self.switch_back(proxy.get("msg", ""))

        self.step("commit", lambda: self.record(self.plan["fingerprint"]), slot=slot)
        self.step("enable", lambda: host.systemctl("enable", "--no-reload", unit(spec["app_name"], slot, "socket")),
                  slot=slot)
        live = self.plan["live"]
        if live:
            self.step("drain and stop", lambda: self.stop(live, pids, True), slot=live)
            self.result["stopped_slot"] = live
        # One reload for both enablement changes (each of enable and disable would reload on its own): systemctl
        # status shows the live slot enabled and the old one disabled.
        self.step("reload", lambda: host.systemctl("daemon-reload"))
        return self.result

    def switch_back(self, failure: str) -> t.NoReturn:
        spec, host, slot, old = self.spec, self.host, self.slot, self.old
        if not old:
            self.step("commit", lambda: self.record(UNVERIFIED), slot=slot)
            raise FlipFailed(unverified_message(spec["release"], slot, failure), self.result)
        pids = self.step("switch back", lambda: self.switch(old), slot=old)
        self.result["drain_pids"] = pids
        self.step("links back", lambda: self.links(spec["live_release_dir"], spec["state"]["recorded"]["previous"]))
        again = self.step("recheck", lambda: host.health(spec["proxy_check"]), slot=old)
        self.result["recheck"] = again
        recheck = "healthy" if again.get("healthy") else f"unhealthy ({again.get('msg', '')})"
        self.step("drain and stop", lambda: self.stop(slot, pids, True), slot=slot)
        self.result["stopped_slot"] = slot
        self.mark_failed("proxy health", failure)
        raise FlipFailed(switched_back_message(spec["release"], slot, old, failure, recheck), self.result)


def flip(host: Host, spec: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Put ``spec['release_dir']`` live in ``spec['slot']`` on ``host``; return the result or raise
    :class:`FlipFailed` (with the result so far) when a gate fails.

    ``spec`` holds ``app_name``, ``slot``, ``release``, ``release_dir``, ``server``, ``exec_start``, ``group``,
    ``config_dir``, ``config_files``, ``slots_dir``, ``unit_dir``, ``app_root``, ``state_file``, ``state`` and ``plan``
    (:mod:`._release`'s), ``live_release_dir``, ``site`` (``""`` without nginx), ``slot_addresses``, ``link`` (``""``
    without a stable socket link), ``slot_sockets``, ``tmpfiles``, ``slot_check`` and ``proxy_check`` (health
    checks; an empty ``proxy_check`` skips the gate), ``drain_timeout`` and ``drain_grace``.
    """
    run = _Run(host, spec)
    try:
        return run.run()
    except HostError as error:
        raise FlipFailed(str(error), run.result) from error
    except OSError as error:
        raise FlipFailed(f"{type(error).__name__}: {error}", run.result) from error


# --- the activation: repairs, then the flip or nginx put back ----------------------------------------------------

def activation_steps(spec: t.Mapping[str, t.Any]) -> list[str]:
    """Return what :func:`activate` does for ``spec``'s plan, one line per step (what check mode reports)."""
    plan = spec["plan"]
    steps = [f"stop slot {slot} first: it runs but serves nothing" for slot in plan["stop_first"]]
    if plan["flip"]:
        steps.extend(check_mode_steps(spec))
    elif plan["switch_to"]:
        steps.append(f"put nginx back on slot {plan['switch_to']}")
    return steps


def activate(host: Host, spec: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Carry out ``spec['plan']`` (:func:`~._release.plan`'s) on ``host``, as the role's one activation call.

    The slots that run but serve nothing (``stop_first``, left by a run interrupted between a slot's start and the
    switch) stop first; then the release goes live through the idle slot (:func:`flip`) when the plan flips, or
    nginx's upstream file is put back on the live slot (``switch_to``) when it does not. The slot nginx serves is
    never among the stopped ones (the plan never lists it).

    ``spec`` is :func:`flip`'s (``slot`` is ``""`` when the plan does not flip).

    :returns: ``{changed, stopped_first, switched_to, drain_pids, flip}``; ``flip`` is :func:`flip`'s result (``{}``
        without a flip).
    :raises FlipFailed: with this result so far (``flip`` holding the flip's result) when a step or a gate fails.
    """
    plan = spec["plan"]
    result: dict[str, t.Any] = {"changed": False, "stopped_first": [], "switched_to": "", "drain_pids": [], "flip": {}}
    try:
        for slot in plan["stop_first"]:
            host.systemctl("stop", unit(spec["app_name"], slot, "socket"))
            result["stopped_first"].append(slot)
            result["changed"] = True
        if not plan["flip"] and plan["switch_to"]:
            result["drain_pids"] = list(host.switch_upstream(spec["site"], spec["slot_addresses"][plan["switch_to"]]))
            result["switched_to"] = plan["switch_to"]
            result["changed"] = True
    except HostError as error:
        raise FlipFailed(str(error), result) from error
    if plan["flip"]:
        try:
            result["flip"] = flip(host, spec)
        except FlipFailed as failed:
            result["flip"] = failed.result
            raise FlipFailed(str(failed), result) from failed
        result["drain_pids"] = result["flip"]["drain_pids"]
        result["changed"] = True
    return result


def retire_legacy(host: Host, units: t.Sequence[tuple[str, str]], drain_pids: t.Sequence[str], timeout: float) -> list[str]:
    """Retire the single service of version 0.1.0 (``<app_name>.service`` behind ``<app_name>.socket``) once a slot
    serves: nginx's workers from before the switch (``drain_pids``) finish their requests to it first (at most
    ``timeout`` seconds), then each unit stops and is disabled, its file goes, and systemd reads the units again.

    ``units`` are the ``(name, unit file)`` pairs on the host. A unit systemd no longer knows is not an error: its
    file goes all the same.

    :returns: the names of the units retired.
    """
    if not units:
        return []
    if drain_pids:
        host.wait_gone(drain_pids, timeout)
    for name, dummy in units:
        try:
            host.systemctl("disable", "--now", name)
        except HostError:
            pass
    for dummy, path in units:
        host.remove_file(path)
    host.systemctl("daemon-reload")
    return [name for name, dummy in units]
