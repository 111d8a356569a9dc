# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The blue/green release state machine of the ``app`` role, as pure functions.

A host runs an application in two slots, ``blue`` and ``green`` (the systemd instances ``<app>@<slot>.service``
and ``<app>@<slot>.socket``). Three sources say which slot is live, and an interrupted run can leave them
disagreeing:

* the state file (``state.json``): ``active``, ``previous`` and, per slot, ``release``, ``release_dir``,
  ``server`` and ``fingerprint``;
* nginx's upstream file: ``server <slot address> max_fails=0;`` for the slot nginx serves (or, without nginx, the
  stable socket link that points at the live slot's socket);
* the state of the slots' units.

:func:`read_state` puts the three side by side, :func:`plan` decides what a run does (flip or not, which slot is
next, what to stop first) and repairs what an interrupted run left behind, :func:`commit` computes the state file
after a flip, :func:`record_failure` the report of a release that failed a health gate, :func:`retention` the
releases that cleanup removes and :func:`rollback_candidates` the release a rollback goes back to.

The rule behind the repairs: the slot that nginx serves is live, whatever the state file says, and no plan ever
stops or restarts it before the traffic has moved away from it.

Everything here works on plain data (str, int, bool, dict, list) and does no I/O.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import typing as t

SLOTS: tuple[str, ...] = ("blue", "green")
"""The two slots, in the order a first deploy uses them."""

SLOT_FORMAT = 1
"""The format of what a slot's drop-in contains; part of the fingerprint, so a change renews the slots."""

STATE_KEYS: tuple[str, ...] = ("release", "release_dir", "server", "fingerprint")
"""What the state file records per slot."""

STOPPED_STATES = frozenset(("inactive", "failed", ""))
"""Unit states of a slot that is not running (``""``: the unit is unknown)."""

FAILURE_RESULT_CHARS = 1200
"""How much of a health result a failure report keeps."""

_UPSTREAM_SERVER = re.compile(r"^\s*server\s+(\S+)(?:\s+[^;]*)?;", re.MULTILINE)
_UNIT_NAME = re.compile(r"@(" + "|".join(SLOTS) + r")\.(service|socket)$")


def other_slot(slot: str) -> str:
    """Return the slot that is not ``slot``; the first slot when ``slot`` is empty (a first deploy)."""
    if slot == SLOTS[0]:
        return SLOTS[1]
    return SLOTS[0]


def upstream_line(address: str) -> str:
    """Return the line of nginx's upstream file that sends the traffic to ``address`` (without a newline)."""
    return f"server {address} max_fails=0;"


def slot_units(app_name: str) -> list[str]:
    """Return the units of both slots of ``app_name``, in the order the role lists them."""
    return [f"{app_name}@{slot}.{kind}" for slot in SLOTS for kind in ("service", "socket")]


def parse_systemctl_show(text: str) -> dict[str, str]:
    """Turn the output of ``systemctl show --property=Id,ActiveState UNIT...`` into ``{unit: ActiveState}``.

    systemctl separates the units with empty lines and prints the properties in its own order.
    """
    states: dict[str, str] = {}
    for block in re.split(r"\n\s*\n", text or ""):
        properties: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                properties[key.strip()] = value.strip()
        if properties.get("Id"):
            states[properties["Id"]] = properties.get("ActiveState", "")
    return states


def _empty_record() -> dict[str, t.Any]:
    return {"active": "", "previous": "", "slots": {}}


def parse_record(text: str | None) -> tuple[dict[str, t.Any], str]:
    """Parse the state file's text into ``({active, previous, slots}, status)``.

    ``status`` is ``missing`` (no file), ``invalid`` (not a JSON object; the record is then empty) or ``present``.
    Unknown slots and non-string values are dropped, so the record always has the same shape.
    """
    if text is None:
        return _empty_record(), "missing"
    try:
        data = json.loads(text)
    except ValueError:
        return _empty_record(), "invalid"
    if not isinstance(data, dict):
        return _empty_record(), "invalid"
    record = _empty_record()
    active = data.get("active")
    record["active"] = active if active in SLOTS else ""
    previous = data.get("previous")
    record["previous"] = previous if isinstance(previous, str) else ""
    slots = data.get("slots")
    if isinstance(slots, dict):
        for slot in SLOTS:
            entry = slots.get(slot)
            if isinstance(entry, dict):
                record["slots"][slot] = {
                    key: entry[key] if isinstance(entry.get(key), str) else "" for key in STATE_KEYS
                }
    return record, "present"


def parse_upstream(text: str | None, slot_addresses: t.Mapping[str, str]) -> dict[str, t.Any]:
    """Find the slot that nginx's upstream file sends the traffic to.

    Returns ``{present, servers, slot, canonical}``: the ``server`` addresses in the file, the slot whose address is
    the only one (``""`` when none or several), and whether the file is exactly the line the role writes for it.
    """
    if text is None:
        return {"present": False, "servers": [], "slot": "", "canonical": False}
    uncommented = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    servers = _UPSTREAM_SERVER.findall(uncommented)
    slot = ""
    if len(servers) == 1:
        for name in SLOTS:
            if slot_addresses.get(name) == servers[0]:
                slot = name
    canonical = bool(slot) and text.strip() == upstream_line(slot_addresses[slot])
    return {"present": True, "servers": servers, "slot": slot, "canonical": canonical}


def _link_slot(link_target: str | None, slot_addresses: t.Mapping[str, str]) -> str:
    if not link_target:
        return ""
    for name in SLOTS:
        address = slot_addresses.get(name, "")
        path = address[len("unix:"):] if address.startswith("unix:") else address
        if path and posixpath.normpath(path) == posixpath.normpath(link_target):
            return name
    return ""


def normalise_units(unit_states: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """Return ``{slot: {service, socket, running, failed}}`` from the units' ``ActiveState``.

    ``unit_states`` is keyed by unit name (``hello@blue.service``, as :func:`parse_systemctl_show` returns it) or by
    slot (``{"blue": {"service": "active", "socket": "active"}}``). A slot is running when one of its units is in
    another state than ``inactive`` or ``failed`` (a listening socket starts the service on the next connection).
    """
    units: dict[str, dict[str, t.Any]] = {slot: {"service": "", "socket": ""} for slot in SLOTS}
    for key, value in (unit_states or {}).items():
        if key in SLOTS and isinstance(value, dict):
            for kind in ("service", "socket"):
                if isinstance(value.get(kind), str):
                    units[key][kind] = value[kind]
            continue
        match = _UNIT_NAME.search(str(key))
        if match and isinstance(value, str):
            units[match.group(1)][match.group(2)] = value
    for entry in units.values():
        entry["running"] = entry["service"] not in STOPPED_STATES or entry["socket"] not in STOPPED_STATES
        entry["failed"] = "failed" in (entry["service"], entry["socket"])
    return units


def read_state(
    state_text: str | None,
    upstream_text: str | None,
    unit_states: t.Mapping[str, t.Any],
    slot_addresses: t.Mapping[str, str],
    link_target: str | None = None,
) -> dict[str, t.Any]:
    """Put the state file, nginx's upstream file and the slots' units side by side.

    :param state_text: the state file's text, ``None`` when it does not exist.
    :param upstream_text: nginx's upstream file's text, ``None`` when it does not exist (nginx is not switched).
    :param unit_states: the ``ActiveState`` of the slots' units (see :func:`normalise_units`).
    :param slot_addresses: each slot's address as the upstream file names it (``unix:/run/hello/blue.sock``,
        ``127.0.0.1:8001``).
    :param link_target: without nginx, where the stable socket link points (``/run/hello/blue.sock``), if known.
    :returns: a dict with

        * ``recorded``: what the state file says (``active``, ``previous``, ``slots``), ``state_file``: ``present``,
          ``missing`` or ``invalid``;
        * ``nginx``: whether the upstream file exists; ``served``: the slot nginx (or, without nginx, the link)
          sends the traffic to, ``""`` when unknown; ``served_by``: ``nginx``, ``link`` or ``""``;
          ``upstream_canonical``: whether the upstream file is exactly the role's line for ``served``;
        * ``units``: per slot ``service``, ``socket``, ``running``, ``failed``; ``running``: the running slots;
        * ``live``: the slot that serves: ``served`` when known, else the state file's ``active``;
          ``live_trusted``: whether the state file records ``live`` as active (so its fingerprint describes what it
          runs); ``live_record``: the state file's entry of ``live`` when trusted, else ``{}``;
        * ``problems``: ``[{code, message}]``; ``disagree``: whether the sources contradict each other;
          ``interrupted``: whether that looks like an interrupted run.
    """
    recorded, state_file = parse_record(state_text)
    upstream = parse_upstream(upstream_text, slot_addresses)
    units = normalise_units(unit_states)
    problems: list[dict[str, str]] = []

    served, served_by = "", ""
    if upstream["present"]:
        served, served_by = upstream["slot"], "nginx" if upstream["slot"] else ""
    else:
        served = _link_slot(link_target, slot_addresses)
        served_by = "link" if served else ""

    if state_file == "invalid":
        problems.append({"code": "state-invalid", "message": "the state file is not a JSON object; it is ignored"})
    if upstream["present"] and not served and recorded["active"]:
        # Before the first flip the file names what nginx was set up with (the single service of earlier versions).
        problems.append({
            "code": "upstream-unknown",
            "message": f"nginx's upstream file names {upstream['servers'] or 'no server'}, not one slot's address",
        })

    live = served or recorded["active"]
    if served and served != recorded["active"]:
        said = f"slot {recorded['active']}" if recorded["active"] else "no live slot"
        problems.append({
            "code": "served-not-recorded",
            "message": f"{served_by} serves slot {served} but the state file says {said} (a run was interrupted "
                       "between the switch and the record, or a first release failed the check through the proxy)",
        })
    for slot in SLOTS:
        if units[slot]["running"] and slot != live and slot != served:
            problems.append({
                "code": "idle-running",
                "message": f"slot {slot} is running but does not serve (a run was interrupted between starting it "
                           "and the switch)",
            })
    live_trusted = bool(live) and live == recorded["active"]
    if live and units[live]["service"] != "active":
        problems.append({"code": "live-not-running", "message": f"the live slot {live} is not running"})

    codes = {problem["code"] for problem in problems}
    return {
        "recorded": recorded,
        "state_file": state_file,
        "nginx": upstream["present"],
        "upstream_servers": upstream["servers"],
        "upstream_canonical": upstream["canonical"],
        "served": served,
        "served_by": served_by,
        "units": units,
        "running": [slot for slot in SLOTS if units[slot]["running"]],
        "live": live,
        "live_trusted": live_trusted,
        "live_record": dict(recorded["slots"].get(live, {})) if live_trusted else {},
        "problems": problems,
        "disagree": bool(codes & {"served-not-recorded", "idle-running", "upstream-unknown"}),
        "interrupted": bool(codes & {"served-not-recorded", "idle-running"}),
    }


def runtime_sum_line(path: str, digest: str) -> str:
    """Return the line ``sha1sum`` prints for ``path`` with the hex ``digest`` (escaped as GNU sha1sum does)."""
    if "\\" in path or "\n" in path or "\r" in path:
        escaped = path.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{digest}  {escaped}"
    return f"{digest}  {path}"


def fingerprint(slot_format: int | str, server: str, release_dir: str, runtime_sums: t.Sequence[str]) -> str:
    """Return the fingerprint of what a slot runs: the SHA-1 of the slot format, the server, the release directory
    and the ``sha1sum`` lines of the runtime files (env file, server configuration, units), joined with ``|``.

    The same value as the role's ``([slot_format, server, release_dir] + sha1sum lines) | join('|') | hash('sha1')``,
    so state files written by either agree. A runtime file that does not exist has no line.
    """
    parts = [str(slot_format), server, release_dir] + list(runtime_sums)
    return hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()


def _previous_after(recorded: t.Mapping[str, t.Any], release_dir: str) -> str:
    """The release directory ``previous`` points at once ``release_dir`` is live: the one live before, unless it is
    the same; then the recorded previous, unless that is ``release_dir`` too."""
    active = recorded.get("active", "")
    before = recorded.get("slots", {}).get(active, {}).get("release_dir", "") if active else ""
    if before and before != release_dir:
        return before
    previous = recorded.get("previous", "")
    return previous if previous != release_dir else ""


def live_release(state: t.Mapping[str, t.Any]) -> tuple[str, str]:
    """The release directory and id the live slot runs, as the state file records them (what a restart starts again);
    ``("", "")`` when no slot is live or the state file records nothing for it."""
    live = state.get("live", "")
    entry = state["recorded"]["slots"].get(live, {}) if live else {}
    release_dir = entry.get("release_dir", "")
    if not release_dir:
        return "", ""
    return release_dir, entry.get("release") or release_id(release_dir)


def plan(state: t.Mapping[str, t.Any], release_dir: str, fingerprint: str, restart: bool = False,
         release: str = "") -> dict[str, t.Any]:
    """Decide what a run that puts ``release_dir`` (with ``fingerprint``) live does, from :func:`read_state`'s state.

    A flip happens on a first deploy, on a restart, when the live slot is not running, when its fingerprint differs,
    and when the state file does not record the slot nginx serves (what it runs is then unknown). Repairs:

    * the slot nginx serves is live, whatever the state file says; it is never in ``stop_first`` and never ``next``,
      so it keeps serving until the switch moves the traffic away (it is ``old`` then, drained and stopped after the
      switch, and switched back to when the check through the proxy fails);
    * a slot that runs but serves nothing (left by a run interrupted between its start and the switch) is in
      ``stop_first``, stopped before anything else, so the next slot starts fresh;
    * without a flip, nginx's upstream file is put back on the live slot when it is not the role's line for it.

    :param release: the release's id; the last part of ``release_dir`` when empty.
    :returns: ``{flip, reason, live, next, old, stop_first, reset_failed, switch_to, keep_serving,
        previous_release_dir, first_deploy, repairs, release_dir, release, fingerprint}``. ``next`` and ``old`` are ``""``
        without a flip; ``old`` is also ``""`` when no slot runs to fall back to.
    """
    units = state["units"]
    live = state["live"]
    served = state["served"]
    recorded = state["recorded"]
    live_running = bool(live) and units[live]["service"] == "active"

    if not live:
        flip, reason = True, "first deploy: no slot is live"
    elif not state["live_trusted"]:
        flip, reason = True, (f"slot {live} serves but the state file does not record what it runs: "
                              "a fresh slot takes over")
    elif not live_running:
        flip, reason = True, f"the live slot {live} is not running"
    elif restart:
        flip, reason = True, "restart: the release starts in a fresh slot"
    elif state["live_record"].get("fingerprint", "") != fingerprint:
        flip, reason = True, f"what slot {live} runs differs (release, server, configuration or units)"
    else:
        flip, reason = False, f"slot {live} already runs this release with the same configuration"

    nxt = other_slot(live) if flip else ""
    old = live if flip and live_running else ""
    stop_first = [slot for slot in SLOTS if units[slot]["running"] and slot not in (live, served)]
    reset_failed = [nxt] if nxt and units[nxt]["failed"] else []
    switch_to = live if not flip and state["nginx"] and not state["upstream_canonical"] else ""

    repairs: list[str] = []
    if served and served != recorded["active"]:
        repairs.append(f"slot {served} is live because {state['served_by']} serves it; it keeps serving until the "
                       "switch")
    for slot in stop_first:
        repairs.append(f"stop slot {slot} first: it runs but serves nothing")
    if switch_to:
        repairs.append(f"put nginx back on slot {switch_to}")

    return {
        "flip": flip,
        "reason": reason,
        "live": live,
        "next": nxt,
        "old": old,
        "stop_first": stop_first,
        "reset_failed": reset_failed,
        "switch_to": switch_to,
        "keep_serving": served or live,
        "previous_release_dir": _previous_after(recorded, release_dir) if flip else recorded["previous"],
        "first_deploy": not recorded["active"],
        "repairs": repairs,
        "release_dir": release_dir,
        "release": release or release_id(release_dir),
        "fingerprint": fingerprint,
    }


def commit(
    state: t.Mapping[str, t.Any],
    slot: str,
    release: str,
    release_dir: str,
    fingerprint: str,
    server: str,
) -> dict[str, t.Any]:
    """Return the state file's new content once ``slot`` serves ``release`` (in ``release_dir``).

    ``state`` is :func:`read_state`'s result (or a state file's parsed content). ``previous`` becomes the release
    directory that was live before (see ``plan``'s ``previous_release_dir``) and is never ``release_dir``; the other
    slot's entry is kept. Committing the same again gives the same content.
    """
    if slot not in SLOTS:
        raise ValueError(f"slot must be one of {', '.join(SLOTS)}, got {slot!r}")
    for name, value in (("release", release), ("release_dir", release_dir), ("fingerprint", fingerprint),
                        ("server", server)):
        if not value:
            raise ValueError(f"{name} must not be empty")
    recorded = state["recorded"] if "recorded" in state else parse_record(json.dumps(dict(state)))[0]
    slots = {name: dict(entry) for name, entry in recorded["slots"].items()}
    slots[slot] = {"release": release, "release_dir": release_dir, "server": server, "fingerprint": fingerprint}
    return {"active": slot, "previous": _previous_after(recorded, release_dir), "slots": slots}


def record_failure(
    state: t.Mapping[str, t.Any],
    release: str,
    release_dir: str,
    gate: str,
    slot: str,
    result: str,
) -> dict[str, t.Any] | None:
    """Return the failure report written next to a release that failed a health gate (``<release_dir>.failed``),
    or ``None`` when ``release_dir`` is what the live slot runs: the live release is never marked failed.

    ``gate`` is ``slot health`` (the new slot on its own socket) or ``proxy health`` (through the proxy). The state
    file does not change: the slot that served before keeps serving. ``result`` is cut to
    :data:`FAILURE_RESULT_CHARS` characters.
    """
    recorded = state["recorded"] if "recorded" in state else parse_record(json.dumps(dict(state)))[0]
    live_dirs = {recorded["slots"].get(recorded["active"], {}).get("release_dir", "")} if recorded["active"] else set()
    live_record = state.get("live_record") or {}
    if live_record.get("release_dir"):
        live_dirs.add(live_record["release_dir"])
    if release_dir in live_dirs:
        return None
    text = result if len(result) <= FAILURE_RESULT_CHARS else result[:FAILURE_RESULT_CHARS] + "..."
    return {"release": release, "gate": gate, "slot": slot, "result": text}


def release_id(release_dir: str) -> str:
    """Return a release's id, the last part of its directory."""
    return posixpath.basename(release_dir.rstrip("/")) if release_dir else ""


def protected_releases(state: t.Mapping[str, t.Any], extra: t.Iterable[str] = ()) -> set[str]:
    """Return the ids of the releases cleanup must keep: the live one, the previous one, the ones both slots run
    (as the state file records them) and ``extra`` (ids or release directories, say the release being deployed)."""
    recorded = state["recorded"] if "recorded" in state else parse_record(json.dumps(dict(state)))[0]
    ids = {release_id(recorded["previous"])}
    for entry in recorded["slots"].values():
        ids.add(entry.get("release") or release_id(entry.get("release_dir", "")))
        ids.add(release_id(entry.get("release_dir", "")))
    for item in extra:
        ids.add(release_id(item))
    ids.discard("")
    return ids


def _newest_first(releases: t.Iterable[t.Mapping[str, t.Any]]) -> list[t.Mapping[str, t.Any]]:
    return sorted(releases, key=lambda item: (item.get("mtime", 0), item["id"]), reverse=True)


def retention(releases: t.Sequence[t.Mapping[str, t.Any]], keep: int, protected: t.Iterable[str]) -> list[str]:
    """Return the ids of the releases to remove, in order: failed ones, incomplete ones, then the oldest complete
    ones beyond the newest ``keep``.

    :param releases: ``{id, mtime, failed, complete}`` per release (``complete`` defaults to true: the release has
        its marker, its hooks ran).
    :param keep: how many complete, not failed releases stay, the newest ones (protected ones among them count).
    :param protected: ids never removed (see :func:`protected_releases`), whatever they are.
    """
    if keep < 0:
        raise ValueError(f"keep must be at least 0, got {keep}")
    protected = set(protected)
    failed, incomplete, complete = [], [], []
    for item in _newest_first(releases):
        if item.get("failed"):
            failed.append(item["id"])
        elif not item.get("complete", True):
            incomplete.append(item["id"])
        else:
            complete.append(item["id"])
    remove = list(reversed(failed)) + list(reversed(incomplete)) + list(reversed(complete[keep:]))
    return [name for name in remove if name not in protected]


PRUNE_WHEN = ("never", "flip", "always")
"""When an activation prunes: never, after a flip, or always (a run that built a release)."""


def prune_after(
    state: t.Mapping[str, t.Any],
    committed: t.Mapping[str, t.Any] | None,
    releases: t.Sequence[t.Mapping[str, t.Any]],
    keep: int,
    extra: t.Iterable[str],
    when: str,
    flipped: bool,
) -> list[str]:
    """Return the releases an activation removes once its flip is recorded, in :func:`retention`'s order.

    ``when`` is one of :data:`PRUNE_WHEN`; ``flipped`` says whether the run flipped. The protected releases are those
    of the state file as the run leaves it (``committed``, :func:`commit`'s content, or ``state``'s record without a
    flip): the live one, the previous one and the ones both slots run, besides ``extra`` (this run's release).
    """
    if when not in PRUNE_WHEN:
        raise ValueError(f"when must be one of {', '.join(PRUNE_WHEN)}, got {when!r}")
    if when == "never" or (when == "flip" and not flipped):
        return []
    recorded = committed if committed else state["recorded"]
    return retention(releases, keep, protected_releases(recorded, extra))


def rollback_candidates(
    state: t.Mapping[str, t.Any],
    releases: t.Sequence[t.Mapping[str, t.Any]],
    target: str | None = None,
) -> dict[str, t.Any]:
    """Choose the release a rollback goes back to: ``target`` when given, else the state file's ``previous``.

    :returns: ``{release, already_live, candidates, error}``: the release id (``""`` on error), whether it is what
        the live slot runs already (a rollback then changes nothing), the complete releases that are not failed,
        newest first, without the live one, and a message saying why there is nothing to go back to (``""`` when
        there is).
    """
    recorded = state["recorded"] if "recorded" in state else parse_record(json.dumps(dict(state)))[0]
    live_entry = recorded["slots"].get(recorded["active"], {}) if recorded["active"] else {}
    live_id = live_entry.get("release") or release_id(live_entry.get("release_dir", ""))
    by_id = {item["id"]: item for item in releases}
    candidates = [item["id"] for item in _newest_first(releases)
                  if item.get("complete", True) and not item.get("failed") and item["id"] != live_id]
    listed = ", ".join(candidates) if candidates else "none"
    choice = {"release": "", "already_live": False, "candidates": candidates, "error": ""}

    wanted = release_id(target) if target else release_id(recorded["previous"])
    if not wanted:
        choice["error"] = f"No previous release to roll back to; complete releases: {listed}"
        return choice
    what = f"release {wanted}" if target else f"the previous release {wanted}"
    item = by_id.get(wanted)
    if item is None:
        where = f"No release {wanted} on this host" if target else f"The previous release {wanted} is no longer on this host"
        choice["error"] = f"{where}; complete releases: {listed}"
    elif not item.get("complete", True):
        choice["error"] = f"Cannot roll back to {what}: it is not complete (its hooks did not run); " \
                          f"complete releases: {listed}"
    elif item.get("failed") and wanted != live_id:
        choice["error"] = f"Cannot roll back to {what}: it failed a health gate (deploy it again to retry it); " \
                          f"complete releases: {listed}"
    else:
        choice["release"] = wanted
        choice["already_live"] = wanted == live_id
    return choice
