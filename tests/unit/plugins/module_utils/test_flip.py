# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the flip (module_utils/_flip.py) on a simulated host: units, nginx, files, links and health checks are
plain data, and each run plans with _release.read_state/plan from what the host holds, as the role does."""

from __future__ import annotations

import json
import typing as t

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _flip as fl
from ansible_collections.flaskops.deploy.plugins.module_utils import _release as rel

ADDRESSES = {"blue": "unix:/run/hello/blue.sock", "green": "unix:/run/hello/green.sock"}
SOCKETS = {"blue": "/run/hello/blue.sock", "green": "/run/hello/green.sock"}
UPSTREAM = "/etc/nginx/flaskops/hello.upstream.conf"
STATE = "/etc/hello/slots/state.json"


class Killed(BaseException):
    """The run was killed (not an error the flip handles)."""


class FakeHost:
    def __init__(self) -> None:
        self.clock = 0.0
        self.files: dict[str, str] = {"/etc/hello/env": "SECRET=1\n", "/etc/hello/gunicorn.conf.py": "bind = 1\n"}
        self.modes: dict[str, tuple[str, str, int]] = {}
        self.links: dict[str, str] = {}
        self.dirs: set[str] = set()
        self.units = {slot: "inactive" for slot in rel.SLOTS}
        self.enabled: set[str] = set()
        self.calls: list[tuple[t.Any, ...]] = []
        self.broken_releases: set[str] = set()      # releases that never become healthy on their socket
        self.proxy_broken_releases: set[str] = set()  # releases that fail through the proxy
        self.nginx_rejects = False
        self.kill_at: tuple[str, int] | None = None  # (method, call number): the run dies before that call
        self.counts: dict[str, int] = {}
        self.workers = ["101", "102"]

    def _call(self, name: str, *args: t.Any) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        if self.kill_at == (name, self.counts[name]):
            raise Killed(name)
        self.calls.append((name,) + args)

    # the Host protocol
    def now(self) -> float:
        self.clock += 0.25
        return self.clock

    def systemctl(self, *args: str) -> None:
        self._call("systemctl", *args)
        verb = args[0]
        if verb in ("start", "stop"):
            slot = args[1].split("@")[1].split(".")[0]
            self.units[slot] = "active" if verb == "start" else "inactive"
        elif verb == "reset-failed":
            slot = args[1].split("@")[1].split(".")[0]
            self.units[slot] = "inactive"
        elif verb == "enable":
            self.enabled.add(args[-1])
        elif verb == "disable":
            self.enabled.discard(args[-1])

    def ensure_directory(self, path: str, owner: str, group: str, mode: int) -> bool:
        self._call("ensure_directory", path)
        changed = path not in self.dirs
        self.dirs.add(path)
        return changed

    def copy_file(self, src: str, dest: str, owner: str, group: str, mode: int) -> bool:
        return self.write_file(dest, self.files[src], owner, group, mode)

    def write_file(self, path: str, content: str, owner: str, group: str, mode: int) -> bool:
        self._call("write_file", path)
        changed = self.files.get(path) != content
        self.files[path] = content
        self.modes[path] = (owner, group, mode)
        return changed

    def remove_file(self, path: str) -> bool:
        self._call("remove_file", path)
        return self.files.pop(path, None) is not None or self.links.pop(path, None) is not None

    def symlink(self, path: str, target: str) -> bool:
        self._call("symlink", path, target)
        changed = self.links.get(path) != target
        self.links[path] = target
        return changed

    def _slot_release(self, slot: str) -> str:
        text = self.files.get(fl.dropin_path("/etc/systemd/system", "hello", slot), "")
        return next((line.split("=", 2)[2] for line in text.splitlines() if "FLASKOPS_RELEASE" in line), "")

    def health(self, check: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        self._call("health", check["url"])
        if check.get("connect_to"):
            served = rel.parse_upstream(self.files.get(UPSTREAM), ADDRESSES)["slot"]
            ok = bool(served) and self.units[served] == "active" and \
                self._slot_release(served) not in self.proxy_broken_releases
        else:
            slot = next(slot for slot, path in SOCKETS.items() if path == check["unix_socket"])
            ok = self.units[slot] == "active" and self._slot_release(slot) not in self.broken_releases
        return {"healthy": ok, "msg": "" if ok else f"{check['url']} is not healthy after 3 attempts: status 503"}

    def journal(self, unit: str, lines: int) -> list[str]:
        self._call("journal", unit)
        return ["Traceback (most recent call last):", "ImportError: no module named hello"]

    def switch_upstream(self, site: str, address: str) -> list[str]:
        self._call("switch_upstream", address)
        if self.nginx_rejects:
            raise fl.HostError(f"nginx rejected its configuration with the new {UPSTREAM}, so the previous file was "
                               "put back and nginx was not reloaded: unknown directive")
        content = rel.upstream_line(address) + "\n"
        if self.files.get(UPSTREAM) == content:
            return []
        self.files[UPSTREAM] = content
        return list(self.workers)

    def wait_gone(self, pids: t.Sequence[str], timeout: float) -> bool:
        self._call("wait_gone", list(pids), timeout)
        return True

    def sleep(self, seconds: float) -> None:
        self._call("sleep", seconds)

    # what the role's release task reads
    def read_state(self) -> dict[str, t.Any]:
        return rel.read_state(self.files.get(STATE), self.files.get(UPSTREAM),
                              {slot: {"service": s, "socket": s} for slot, s in self.units.items()}, ADDRESSES)


def spec_for(host: FakeHost, release: str, restart: bool = False, site: str = "hello") -> dict[str, t.Any]:
    """The spec of the role's activation call, planned from what the host holds."""
    state = host.read_state()
    release_dir = f"/srv/hello/releases/{release}"
    plan = rel.plan(state, release_dir, f"fp-{release}", restart)
    return {
        "app_name": "hello", "slot": plan["next"], "plan": plan, "state": state, "release": release,
        "release_dir": release_dir, "live_release_dir": state["live_record"].get("release_dir", ""),
        "server": "gunicorn", "exec_start": f"{release_dir}/.venv/bin/gunicorn --config x",
        "group": "hello", "config_dir": "/etc/hello", "config_files": ["env", "gunicorn.conf.py"],
        "slots_dir": "/etc/hello/slots", "unit_dir": "/etc/systemd/system", "app_root": "/srv/hello",
        "state_file": STATE, "site": site, "slot_addresses": ADDRESSES, "link": "/run/hello/hello.sock",
        "slot_sockets": SOCKETS, "tmpfiles": "/etc/tmpfiles.d/flaskops-hello.conf",
        "slot_check": {"url": "http://hello.test/health", "unix_socket": SOCKETS.get(plan["next"], "")},
        "proxy_check": {"url": "http://hello.test/health", "connect_to": "127.0.0.1"} if site else {},
        "drain_timeout": 60, "drain_grace": 5,
    }


def activation(host: FakeHost, release: str, restart: bool = False, site: str = "hello") -> dict[str, t.Any]:
    """One run of activate.yml: the one call that plans, stops the stray slots and flips (or puts nginx back)."""
    return fl.activate(host, spec_for(host, release, restart, site))


def deploy(host: FakeHost, release: str, restart: bool = False, site: str = "hello") -> dict[str, t.Any]:
    """The flip of one run of activate.yml (``{"changed": False, "plan": ...}`` when the plan does not flip)."""
    spec = spec_for(host, release, restart, site)
    try:
        result = fl.activate(host, spec)
    except fl.FlipFailed as failed:
        raise fl.FlipFailed(str(failed), failed.result["flip"]) from failed
    return result["flip"] or {"changed": False, "plan": spec["plan"]}


def record(host: FakeHost) -> dict[str, t.Any]:
    return json.loads(host.files[STATE])


def steps(result: dict[str, t.Any]) -> list[str]:
    return [step["step"] for step in result["steps"]]


# --- pure functions -------------------------------------------------------------------------------------------------

def test_dropin_text_points_the_slot_at_its_release() -> None:
    text = fl.dropin_text("green", "1.2.0", "/srv/hello/releases/1.2.0", "gunicorn", "/x/gunicorn --config y")
    assert "[Service]\nWorkingDirectory=/srv/hello/releases/1.2.0\n" in text
    assert "Environment=FLASKOPS_SLOT=green\nEnvironment=FLASKOPS_RELEASE=1.2.0\n" in text
    assert text.endswith("ExecStart=\nExecStart=/x/gunicorn --config y\n")


def test_tmpfiles_text() -> None:
    assert fl.tmpfiles_text("hello", "/run/hello", "/run/hello/hello.sock", "/run/hello/blue.sock").splitlines()[1:] == [
        "d /run/hello 0755 root root -", "L+ /run/hello/hello.sock - - - - /run/hello/blue.sock"]


@pytest.mark.parametrize("previous, current, expected", [
    ("/r/1", "/r/2", "/r/1"), ("", "/r/2", ""), ("/r/2", "/r/2", ""), (" /r/1 ", "/r/2", "/r/1")])
def test_previous_target(previous: str, current: str, expected: str) -> None:
    assert fl.previous_target(previous, current) == expected


def test_slot_failure_message_cuts_the_log_lines() -> None:
    msg = fl.slot_failure_message("2", "green", "blue", "bad", ["x" * 2000])
    assert msg.startswith("Release 2 did not become healthy in slot green, so no traffic was switched to it and slot "
                          "blue keeps serving. Health: bad Last log lines: ")
    assert msg.endswith("...") and len(msg.split("Last log lines: ")[1]) == fl.JOURNAL_CHARS
    assert "keeps serving" not in fl.slot_failure_message("2", "blue", "", "bad", [])


# --- the flip on a simulated host -------------------------------------------------------------------------------

def test_first_deploy_then_a_new_release() -> None:
    host = FakeHost()
    result = deploy(host, "1")
    assert steps(result) == ["prepare", "start", "slot check", "switch", "links", "proxy check", "commit", "enable",
                             "reload"]
    assert result["slot"] == "blue" and result["old_slot"] == "" and result["stopped_slot"] == ""
    assert all(step["seconds"] == 0.25 for step in result["steps"])
    assert record(host)["active"] == "blue" and record(host)["slots"]["blue"]["fingerprint"] == "fp-1"
    assert host.links == {"/run/hello/hello.sock": SOCKETS["blue"], "/srv/hello/current": "/srv/hello/releases/1"}
    assert host.files["/etc/hello/slots/blue/env"] == "SECRET=1\n"
    assert host.modes["/etc/hello/slots/blue/env"] == ("root", "hello", 0o640)
    assert ("systemctl", "daemon-reload") in host.calls
    assert "hello@blue.socket" in host.enabled

    host.calls.clear()
    result = deploy(host, "2")
    assert steps(result) == ["prepare", "start", "slot check", "switch", "links", "proxy check", "commit", "enable",
                             "drain and stop", "reload"]
    assert (result["slot"], result["old_slot"], result["stopped_slot"]) == ("green", "blue", "blue")
    # Enabling the new slot and disabling the old one make systemd read its units once, after both, not each time.
    systemctl = [call[1:] for call in host.calls if call[0] == "systemctl"]
    assert ("enable", "--no-reload", "hello@green.socket") in systemctl
    assert ("disable", "--no-reload", "hello@blue.socket") in systemctl
    assert systemctl[-1] == ("daemon-reload",) and systemctl.count(("daemon-reload",)) == 2  # the drop-in's, and this
    assert result["drain_pids"] == ["101", "102"]
    assert ("wait_gone", ["101", "102"], 60) in host.calls
    assert host.units == {"blue": "inactive", "green": "active"}
    assert host.enabled == {"hello@green.socket"}
    assert host.links["/srv/hello/previous"] == "/srv/hello/releases/1"
    assert record(host)["previous"] == "/srv/hello/releases/1"
    # the same release again: nothing to do
    assert deploy(host, "2")["changed"] is False


def test_restart_runs_the_same_release_in_the_other_slot() -> None:
    host = FakeHost()
    deploy(host, "1")
    deploy(host, "2")
    result = deploy(host, "2", restart=True)
    assert (result["slot"], result["stopped_slot"]) == ("blue", "green")
    assert host.links["/srv/hello/current"] == "/srv/hello/releases/2"
    assert host.links["/srv/hello/previous"] == "/srv/hello/releases/1"
    assert record(host)["active"] == "blue" and record(host)["previous"] == "/srv/hello/releases/1"


def test_slot_health_failure_stops_the_new_slot_and_marks_the_release() -> None:
    host = FakeHost()
    deploy(host, "1")
    host.broken_releases.add("2")
    with pytest.raises(fl.FlipFailed) as failed:
        deploy(host, "2")
    result = failed.value.result
    assert steps(result) == ["prepare", "start", "slot check", "journal", "stop"]
    assert str(failed.value).startswith("Release 2 did not become healthy in slot green, so no traffic was switched to "
                                        "it and slot blue keeps serving. Health: ")
    assert "ImportError: no module named hello" in str(failed.value)
    assert host.units == {"blue": "active", "green": "inactive"}
    assert json.loads(host.files["/srv/hello/releases/2.failed"])["gate"] == "slot health"
    assert host.modes["/srv/hello/releases/2.failed"] == ("root", "root", 0o600)
    assert record(host)["active"] == "blue"
    assert rel.parse_upstream(host.files[UPSTREAM], ADDRESSES)["slot"] == "blue"


def test_slot_health_failure_of_the_live_release_writes_no_report() -> None:
    host = FakeHost()
    deploy(host, "1")
    host.broken_releases.add("1")
    with pytest.raises(fl.FlipFailed):
        deploy(host, "1", restart=True)
    assert "/srv/hello/releases/1.failed" not in host.files


def test_proxy_failure_switches_back_once() -> None:
    host = FakeHost()
    deploy(host, "1")
    host.proxy_broken_releases.add("2")
    with pytest.raises(fl.FlipFailed) as failed:
        deploy(host, "2")
    result = failed.value.result
    assert steps(result) == ["prepare", "start", "slot check", "switch", "links", "proxy check", "switch back",
                             "links back", "recheck", "drain and stop"]
    assert [s for s in steps(result) if s.startswith("switch")] == ["switch", "switch back"]
    assert "failed the check through the proxy after the switch to slot green" in str(failed.value)
    assert "The traffic went back to slot blue, which is healthy through the proxy, and slot green was stopped." \
        in str(failed.value)
    assert rel.parse_upstream(host.files[UPSTREAM], ADDRESSES)["slot"] == "blue"
    assert host.links["/srv/hello/current"] == "/srv/hello/releases/1"
    assert "/srv/hello/previous" not in host.links
    assert host.units == {"blue": "active", "green": "inactive"}
    assert json.loads(host.files["/srv/hello/releases/2.failed"])["gate"] == "proxy health"
    assert record(host)["active"] == "blue"
    # the next run of a fixed release flips normally
    host.proxy_broken_releases.clear()
    assert deploy(host, "2")["slot"] == "green"


def test_proxy_failure_without_an_old_slot_records_the_served_slot_unverified() -> None:
    host = FakeHost()
    host.proxy_broken_releases.add("1")
    with pytest.raises(fl.FlipFailed) as failed:
        deploy(host, "1")
    assert str(failed.value).startswith("Release 1 is live in slot blue but failed the check through the proxy, and no "
                                        "other slot was running to switch back to: ")
    assert steps(failed.value.result)[-1] == "commit"
    assert record(host)["slots"]["blue"]["fingerprint"] == fl.UNVERIFIED
    # the next run starts the release afresh in the other slot; blue keeps serving until the switch
    host.proxy_broken_releases.clear()
    result = deploy(host, "1")
    assert (result["slot"], result["stopped_slot"]) == ("green", "blue")


def test_nginx_rejecting_the_upstream_fails_before_the_links_move() -> None:
    host = FakeHost()
    deploy(host, "1")
    host.nginx_rejects = True
    with pytest.raises(fl.FlipFailed) as failed:
        deploy(host, "2")
    assert "nginx rejected its configuration" in str(failed.value)
    assert steps(failed.value.result)[-1] == "switch"
    assert host.links["/srv/hello/current"] == "/srv/hello/releases/1"
    assert record(host)["active"] == "blue"
    # green runs but serves nothing: the next run stops it first, then flips to it afresh
    host.nginx_rejects = False
    plan = rel.plan(host.read_state(), "/srv/hello/releases/2", "fp-2")
    assert plan["stop_first"] == ["green"]
    assert deploy(host, "2")["slot"] == "green"


def test_without_nginx_the_old_slot_gets_the_grace_time() -> None:
    host = FakeHost()
    deploy(host, "1", site="")
    result = deploy(host, "2", site="")
    assert "proxy check" not in steps(result)
    assert ("sleep", 5) in host.calls
    assert host.links["/run/hello/hello.sock"] == SOCKETS["green"]


@pytest.mark.parametrize("kill_at", [("health", 1), ("switch_upstream", 1)])
def test_killed_between_the_start_and_the_switch(kill_at: tuple[str, int]) -> None:
    host = FakeHost()
    deploy(host, "1")
    host.counts.clear()
    host.kill_at = kill_at
    with pytest.raises(Killed):
        deploy(host, "2")
    host.kill_at = None
    assert host.units["green"] == "active"
    state = host.read_state()
    plan = rel.plan(state, "/srv/hello/releases/2", "fp-2")
    assert plan["stop_first"] == ["green"] and plan["next"] == "green" and plan["old"] == "blue"
    host.calls.clear()
    result = deploy(host, "2")
    assert host.calls[0] == ("systemctl", "stop", "hello@green.socket")
    assert ("systemctl", "stop", "hello@blue.socket") in host.calls  # only after the switch: blue is never restarted
    assert not any(call[:2] == ("systemctl", "start") and "blue" in call[2] for call in host.calls)
    assert result["slot"] == "green" and record(host)["active"] == "green"


def test_killed_between_the_switch_and_the_commit() -> None:
    host = FakeHost()
    deploy(host, "1")
    host.counts.clear()
    host.kill_at = ("health", 2)  # the check through the proxy
    with pytest.raises(Killed):
        deploy(host, "2")
    host.kill_at = None
    assert rel.parse_upstream(host.files[UPSTREAM], ADDRESSES)["slot"] == "green"
    assert record(host)["active"] == "blue"
    host.calls.clear()
    result = deploy(host, "2")
    # nginx serves green: it is live, never restarted in place; a fresh blue takes over, then green stops
    assert result["slot"] == "blue" and result["stopped_slot"] == "green"
    assert not any(call[:2] == ("systemctl", "start") and "green" in call[2] for call in host.calls)
    assert record(host)["active"] == "blue" and host.units == {"blue": "active", "green": "inactive"}
    assert deploy(host, "2")["changed"] is False


def test_check_mode_steps() -> None:
    host = FakeHost()
    deploy(host, "1")
    state = host.read_state()
    plan = rel.plan(state, "/srv/hello/releases/2", "fp-2")
    lines = fl.check_mode_steps({"slot": plan["next"], "plan": plan, "release": "2", "site": "hello",
                                 "link": "/run/hello/hello.sock", "release_dir": "/srv/hello/releases/2",
                                 "proxy_check": {"url": "x"}})
    assert lines[0] == "give slot green the configuration and point it at release 2"
    assert "check through the proxy (switch back to slot blue on failure)" in lines
    assert lines[-1] == "let slot blue drain, then stop it"


# --- the activation: one call plans, repairs and flips ----------------------------------------------------------------

def test_activation_of_the_same_release_changes_nothing() -> None:
    host = FakeHost()
    first = activation(host, "1")
    assert first["changed"] is True and first["flip"]["slot"] == "blue" and first["stopped_first"] == []
    assert first["drain_pids"] == first["flip"]["drain_pids"]
    host.calls.clear()
    again = activation(host, "1")
    assert again == {"changed": False, "stopped_first": [], "switched_to": "", "drain_pids": [], "flip": {}}
    assert host.calls == []


def test_activation_puts_nginx_back_on_the_live_slot_without_a_flip() -> None:
    host = FakeHost()
    activation(host, "1")
    host.files[UPSTREAM] = "server unix:/run/hello/blue.sock;  # edited by hand\n"
    host.calls.clear()
    spec = spec_for(host, "1")
    assert fl.activation_steps(spec) == ["put nginx back on slot blue"]
    result = fl.activate(host, spec)
    assert result["flip"] == {} and result["switched_to"] == "blue" and result["changed"] is True
    assert host.calls == [("switch_upstream", ADDRESSES["blue"])]
    assert host.files[UPSTREAM] == rel.upstream_line(ADDRESSES["blue"]) + "\n"
    assert host.units == {"blue": "active", "green": "inactive"}


@pytest.mark.parametrize("kill_at", [("health", 1), ("switch_upstream", 1)])
def test_activation_killed_between_the_start_and_the_switch_is_repaired_by_the_next_call(
        kill_at: tuple[str, int]) -> None:
    host = FakeHost()
    activation(host, "1")
    host.counts.clear()
    host.kill_at = kill_at
    with pytest.raises(Killed):
        activation(host, "2")
    host.kill_at = None
    spec = spec_for(host, "2")
    assert fl.activation_steps(spec)[0] == "stop slot green first: it runs but serves nothing"
    host.calls.clear()
    result = activation(host, "2")
    assert result["stopped_first"] == ["green"] and host.calls[0] == ("systemctl", "stop", "hello@green.socket")
    # blue serves until the switch and is never restarted in place
    assert not any(call[:2] == ("systemctl", "start") and "blue" in call[2] for call in host.calls)
    assert result["flip"]["slot"] == "green" and result["flip"]["stopped_slot"] == "blue"
    assert record(host)["active"] == "green" and host.units == {"blue": "inactive", "green": "active"}


def test_activation_killed_between_the_switch_and_the_commit_is_repaired_by_the_next_call() -> None:
    host = FakeHost()
    activation(host, "1")
    host.counts.clear()
    host.kill_at = ("health", 2)  # the check through the proxy
    with pytest.raises(Killed):
        activation(host, "2")
    host.kill_at = None
    host.calls.clear()
    result = activation(host, "2")
    # nginx serves green: it is live and never stopped first; the old blue (serving nothing) is, a fresh blue takes
    # over, then green drains and stops
    assert result["stopped_first"] == ["blue"] and host.calls[0] == ("systemctl", "stop", "hello@blue.socket")
    assert result["flip"]["slot"] == "blue"
    assert result["flip"]["stopped_slot"] == "green"
    assert not any(call[:2] == ("systemctl", "start") and "green" in call[2] for call in host.calls)
    assert record(host)["active"] == "blue" and host.units == {"blue": "active", "green": "inactive"}
    assert activation(host, "2")["changed"] is False


def test_activation_failing_gate_reports_the_flip_so_far() -> None:
    host = FakeHost()
    activation(host, "1")
    host.broken_releases.add("2")
    with pytest.raises(fl.FlipFailed) as failed:
        activation(host, "2")
    assert "did not become healthy in slot green" in str(failed.value)
    assert failed.value.result["flip"]["stopped_slot"] == "green"
    assert failed.value.result["flip"]["failure"]["gate"] == "slot health"
    assert record(host)["active"] == "blue"


def test_activation_stop_failure_stops_before_the_flip() -> None:
    class Refusing(FakeHost):
        def systemctl(self, *args: str) -> None:
            if args[0] == "stop":
                raise fl.HostError("systemctl stop hello@green.socket failed (rc 1): denied")
            super().systemctl(*args)

    host = Refusing()
    activation(host, "1")
    host.units["green"] = "active"
    host.calls.clear()
    with pytest.raises(fl.FlipFailed) as failed:
        activation(host, "2")
    assert "denied" in str(failed.value) and failed.value.result["flip"] == {}
    assert not any(call[:2] == ("systemctl", "start") for call in host.calls)


def test_activation_steps_of_check_mode() -> None:
    host = FakeHost()
    activation(host, "1")
    host.units["green"] = "active"
    spec = spec_for(host, "2")
    lines = fl.activation_steps(spec)
    assert lines[0] == "stop slot green first: it runs but serves nothing"
    assert lines[1:] == fl.check_mode_steps(spec)


# --- the single service of earlier versions ------------------------------------------------------------------------

class RefusingHost(FakeHost):
    """systemd no longer knows the units (their files are left, systemctl fails)."""

    def systemctl(self, *args: str) -> None:
        self._call("systemctl", *args)
        if args[0] == "disable":
            raise fl.HostError("Unit file hello.socket does not exist.")


@pytest.mark.parametrize("host_class", [FakeHost, RefusingHost])
def test_retire_legacy_waits_for_nginx_then_stops_disables_and_removes_the_units(host_class: type) -> None:
    host = host_class()
    host.files["/etc/systemd/system/hello.socket"] = "[Socket]\n"
    host.files["/etc/systemd/system/hello.service"] = "[Service]\n"
    units = [("hello.socket", "/etc/systemd/system/hello.socket"), ("hello.service", "/etc/systemd/system/hello.service")]
    assert fl.retire_legacy(host, units, ["101"], 30) == ["hello.socket", "hello.service"]
    assert host.calls == [
        ("wait_gone", ["101"], 30),
        ("systemctl", "disable", "--now", "hello.socket"),
        ("systemctl", "disable", "--now", "hello.service"),
        ("remove_file", "/etc/systemd/system/hello.socket"),
        ("remove_file", "/etc/systemd/system/hello.service"),
        ("systemctl", "daemon-reload"),
    ]
    assert "/etc/systemd/system/hello.service" not in host.files and "/etc/systemd/system/hello.socket" not in host.files


def test_retire_legacy_without_units_or_pids_does_nothing_it_need_not() -> None:
    host = FakeHost()
    assert fl.retire_legacy(host, [], ["101"], 30) == [] and host.calls == []
    assert fl.retire_legacy(host, [("hello.service", "/etc/systemd/system/hello.service")], [], 30) == ["hello.service"]
    assert host.calls[0] == ("systemctl", "disable", "--now", "hello.service")
