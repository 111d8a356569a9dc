# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the blue/green release state machine behind flaskops.deploy.release.

``Host`` plays the flip (as the slot_flip module and activate.yml run it) on plain data, step by step as the plan
says, and can be killed after any step. Every stop and start checks that it never touches the slot nginx serves.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import typing as t

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _release as rel

ADDRESSES = {"blue": "unix:/run/hello/blue.sock", "green": "unix:/run/hello/green.sock"}
TCP_ADDRESSES = {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002"}
LEGACY_UPSTREAM = "server unix:/run/hello/gunicorn.sock max_fails=0;\n"
R1 = "/srv/hello/releases/r1"
R2 = "/srv/hello/releases/r2"
R3 = "/srv/hello/releases/r3"


def fp(release_dir: str, env: str = "env-1", server: str = "gunicorn") -> str:
    return rel.fingerprint(1, server, release_dir, [rel.runtime_sum_line("/etc/hello/env", env)])


def line(slot: str) -> str:
    return rel.upstream_line(ADDRESSES[slot]) + "\n"


class Killed(Exception):
    """The run was killed after a step."""


class Host:
    """The state of one host as the role leaves it, and the role's flip played on it."""

    def __init__(self, nginx: bool = True) -> None:
        self.state_text: str | None = None
        self.upstream: str | None = LEGACY_UPSTREAM if nginx else None
        self.link: str | None = None
        self.units = {slot: {"service": "inactive", "socket": "inactive"} for slot in rel.SLOTS}
        self.runs: dict[str, str] = {}
        self.reports: dict[str, dict[str, t.Any]] = {}
        self.events: list[tuple[str, str]] = []

    # --- what the module reads -------------------------------------------------------------------
    def read(self) -> dict[str, t.Any]:
        return rel.read_state(self.state_text, self.upstream, self.units, ADDRESSES, self.link)

    def served(self) -> str:
        if self.upstream is not None:
            return rel.parse_upstream(self.upstream, ADDRESSES)["slot"]
        return rel._link_slot(self.link, ADDRESSES)  # pylint: disable=protected-access

    @property
    def record(self) -> dict[str, t.Any]:
        return json.loads(self.state_text) if self.state_text else {}

    # --- the steps of a run ----------------------------------------------------------------------
    def stop(self, slot: str, failed: bool = False) -> None:
        assert slot != self.served(), f"stopped slot {slot}, which nginx serves"
        state = "failed" if failed else "inactive"
        self.units[slot] = {"service": state, "socket": "inactive"}
        self.events.append(("stop", slot))

    def start(self, slot: str, release_dir: str) -> None:
        assert slot != self.served(), f"(re)started slot {slot}, which nginx serves"
        assert self.units[slot]["service"] in ("inactive", "failed"), f"started slot {slot} while it runs"
        self.units[slot] = {"service": "active", "socket": "active"}
        self.runs[slot] = release_dir
        self.events.append(("start", slot))

    def switch(self, slot: str) -> None:
        if self.upstream is not None:
            self.upstream = line(slot)
        self.link = ADDRESSES[slot][len("unix:"):]
        self.events.append(("switch", slot))

    def deploy(
        self,
        release_dir: str,
        fingerprint: str | None = None,
        restart: bool = False,
        slot_healthy: bool = True,
        proxy_healthy: bool = True,
        kill_after: str = "",
    ) -> dict[str, t.Any]:
        """Play one run as the role does; return the plan. Raise Killed after the step ``kill_after``."""
        fingerprint = fingerprint or fp(release_dir)
        state = self.read()
        plan = rel.plan(state, release_dir, fingerprint, restart)
        check_plan_invariants(state, plan)
        self.events.clear()

        for slot in plan["stop_first"]:
            self.stop(slot)
        for slot in plan["reset_failed"]:
            self.units[slot] = {"service": "inactive", "socket": "inactive"}
        if not plan["flip"]:
            if plan["switch_to"]:
                self.switch(plan["switch_to"])
            return plan

        nxt, old = plan["next"], plan["old"]
        self.start(nxt, release_dir)
        if kill_after == "start":
            raise Killed(plan)
        if not slot_healthy:
            self.stop(nxt, failed=True)
            self._mark_failed(state, release_dir, "slot health", nxt)
            return plan
        self.switch(nxt)
        if kill_after == "switch":
            raise Killed(plan)
        if not proxy_healthy:
            if not old:
                return plan
            self.switch(old)
            self.stop(nxt)
            self._mark_failed(state, release_dir, "proxy health", nxt)
            return plan
        new = rel.commit(state, nxt, rel.release_id(release_dir), release_dir, fingerprint, "gunicorn")
        assert new["previous"] == plan["previous_release_dir"]
        self.state_text = json.dumps(new)
        self.reports.pop(rel.release_id(release_dir), None)
        if kill_after == "commit":
            raise Killed(plan)
        if old:
            self.stop(old)
        return plan

    def _mark_failed(self, state: dict[str, t.Any], release_dir: str, gate: str, slot: str) -> None:
        report = rel.record_failure(state, rel.release_id(release_dir), release_dir, gate, slot, "status 500")
        if report is not None:
            self.reports[report["release"]] = report

    def agrees(self) -> bool:
        state = self.read()
        return not state["disagree"] and state["live_trusted"] and state["running"] == [state["live"]]


def check_plan_invariants(state: dict[str, t.Any], plan: dict[str, t.Any]) -> None:
    """What every plan must hold, whatever the state."""
    served = state["served"]
    assert served not in plan["stop_first"]
    assert plan["live"] not in plan["stop_first"] or not plan["live"]
    if served:
        assert plan["live"] == served
        assert plan["next"] != served
        assert plan["keep_serving"] == served
    assert bool(plan["next"]) == plan["flip"]
    if plan["flip"]:
        assert plan["next"] != plan["live"]
        assert plan["old"] in ("", plan["live"])
        assert plan["previous_release_dir"] != plan["release_dir"]
    else:
        assert plan["old"] == ""
    assert set(plan["reset_failed"]) <= {plan["next"]}


def deployed(release_dir: str = R1) -> Host:
    host = Host()
    host.deploy(release_dir)
    return host


# --- small helpers ------------------------------------------------------------------------------

def test_slots_and_lines() -> None:
    assert rel.other_slot("blue") == "green"
    assert rel.other_slot("green") == "blue"
    assert rel.other_slot("") == "blue"
    assert rel.slot_units("hello") == ["hello@blue.service", "hello@blue.socket", "hello@green.service",
                                       "hello@green.socket"]
    assert rel.upstream_line("127.0.0.1:8001") == "server 127.0.0.1:8001 max_fails=0;"
    assert rel.release_id("/srv/hello/releases/r1/") == "r1"
    assert rel.release_id("") == ""


def test_parse_systemctl_show() -> None:
    out = ("ActiveState=active\nId=hello@blue.service\n\nId=hello@blue.socket\nActiveState=active\n\n"
           "Id=hello@green.service\nActiveState=failed\n\nId=hello@green.socket\nActiveState=inactive\n")
    assert rel.parse_systemctl_show(out) == {
        "hello@blue.service": "active",
        "hello@blue.socket": "active",
        "hello@green.service": "failed",
        "hello@green.socket": "inactive",
    }
    assert rel.parse_systemctl_show("") == {}


@pytest.mark.parametrize(
    "text, slot, canonical",
    [
        (line("blue"), "blue", True),
        ("server unix:/run/hello/green.sock max_fails=0;", "green", True),
        ("# switched by flaskops\nserver unix:/run/hello/green.sock max_fails=0;\n", "green", False),
        ("server unix:/run/hello/green.sock;\n", "green", False),
        ("server unix:/run/hello/blue.sock max_fails=0;\nserver unix:/run/hello/green.sock;\n", "", False),
        ("# server unix:/run/hello/blue.sock;\n", "", False),
        (LEGACY_UPSTREAM, "", False),
        ("", "", False),
    ],
)
def test_parse_upstream(text: str, slot: str, canonical: bool) -> None:
    parsed = rel.parse_upstream(text, ADDRESSES)
    assert parsed["present"] is True
    assert parsed["slot"] == slot
    assert parsed["canonical"] is canonical


def test_parse_upstream_tcp_and_missing() -> None:
    assert rel.parse_upstream("server 127.0.0.1:8002 max_fails=0;\n", TCP_ADDRESSES)["slot"] == "green"
    assert rel.parse_upstream(None, ADDRESSES) == {"present": False, "servers": [], "slot": "", "canonical": False}


@pytest.mark.parametrize(
    "text, status, active",
    [
        (None, "missing", ""),
        ("not json", "invalid", ""),
        ("[1, 2]", "invalid", ""),
        ('{"active": "purple", "slots": {"purple": {}}}', "present", ""),
        ('{"active": "blue", "previous": 3, "slots": {"blue": {"release": "r1", "fingerprint": null}}}', "present",
         "blue"),
    ],
)
def test_parse_record(text: str | None, status: str, active: str) -> None:
    record, got = rel.parse_record(text)
    assert got == status
    assert record["active"] == active
    assert isinstance(record["previous"], str)
    assert set(record["slots"]) <= set(rel.SLOTS)
    for entry in record["slots"].values():
        assert set(entry) == set(rel.STATE_KEYS)
        assert all(isinstance(value, str) for value in entry.values())


def test_normalise_units_by_unit_name_and_by_slot() -> None:
    by_name = rel.normalise_units({"hello@blue.service": "active", "hello@blue.socket": "active",
                                   "hello@green.service": "inactive", "hello@green.socket": "activating",
                                   "other.service": "active"})
    by_slot = rel.normalise_units({"blue": {"service": "active", "socket": "active"},
                                   "green": {"service": "inactive", "socket": "activating"}})
    assert by_name == by_slot
    assert by_name["blue"]["running"] and by_name["green"]["running"]
    failed = rel.normalise_units({"hello@green.service": "failed"})
    assert failed["green"] == {"service": "failed", "socket": "", "running": False, "failed": True}
    assert rel.normalise_units({})["blue"]["running"] is False


def test_fingerprint_is_the_roles() -> None:
    sums = ["da39a3ee5e6b4b0d3255bfef95601890afd80709  /etc/hello/env"]
    expected = hashlib.sha1("|".join(["1", "gunicorn", R1] + sums).encode()).hexdigest()
    assert rel.fingerprint(1, "gunicorn", R1, sums) == expected
    assert rel.fingerprint("1", "gunicorn", R1, sums) == expected
    others = {
        rel.fingerprint(2, "gunicorn", R1, sums),
        rel.fingerprint(1, "waitress", R1, sums),
        rel.fingerprint(1, "gunicorn", R2, sums),
        rel.fingerprint(1, "gunicorn", R1, []),
        rel.fingerprint(1, "gunicorn", R1, ["0" * 40 + "  /etc/hello/env"]),
    }
    assert expected not in others and len(others) == 5


def test_runtime_sum_line_escapes_like_sha1sum() -> None:
    assert rel.runtime_sum_line("/etc/hello/env", "ab") == "ab  /etc/hello/env"
    assert rel.runtime_sum_line("/etc/a\\b", "ab") == "\\ab  /etc/a\\\\b"
    assert rel.runtime_sum_line("/etc/a\nb", "ab") == "\\ab  /etc/a\\nb"


# --- read_state -----------------------------------------------------------------------------------

def test_read_state_of_a_fresh_host() -> None:
    state = Host().read()
    assert state["state_file"] == "missing"
    assert state["nginx"] is True
    assert state["served"] == ""
    assert state["live"] == ""
    assert state["problems"] == []
    assert state["disagree"] is False


def test_read_state_after_a_deploy_agrees() -> None:
    host = deployed()
    state = host.read()
    assert state["live"] == state["served"] == state["recorded"]["active"] == "blue"
    assert state["served_by"] == "nginx"
    assert state["upstream_canonical"] is True
    assert state["live_trusted"] is True
    assert state["live_record"]["release_dir"] == R1
    assert state["running"] == ["blue"]
    assert state["problems"] == []
    assert host.agrees()


def test_read_state_served_not_recorded() -> None:
    state = rel.read_state(None, line("green"), {"green": {"service": "active", "socket": "active"}}, ADDRESSES)
    assert state["live"] == "green"
    assert state["live_trusted"] is False
    assert state["live_record"] == {}
    assert [problem["code"] for problem in state["problems"]] == ["served-not-recorded"]
    assert state["disagree"] and state["interrupted"]


def test_read_state_idle_running() -> None:
    host = deployed()
    host.units["green"] = {"service": "active", "socket": "active"}
    state = host.read()
    assert [problem["code"] for problem in state["problems"]] == ["idle-running"]
    assert state["live"] == "blue"
    assert state["interrupted"] is True


def test_read_state_upstream_changed_by_hand() -> None:
    host = deployed()
    host.upstream = "server 10.0.0.9:80;\n"
    state = host.read()
    assert [problem["code"] for problem in state["problems"]] == ["upstream-unknown"]
    assert state["live"] == "blue" and state["live_trusted"]
    assert state["disagree"] is True and state["interrupted"] is False


def test_read_state_invalid_file_and_live_not_running() -> None:
    host = deployed()
    host.units["blue"] = {"service": "failed", "socket": "active"}
    codes = [problem["code"] for problem in host.read()["problems"]]
    assert codes == ["live-not-running"]
    host.state_text = "{broken"
    state = host.read()
    assert state["state_file"] == "invalid"
    assert "state-invalid" in [problem["code"] for problem in state["problems"]]
    assert state["live"] == "blue" and not state["live_trusted"]


def test_read_state_follows_the_link_without_nginx() -> None:
    host = Host(nginx=False)
    host.deploy(R1)
    state = host.read()
    assert state["nginx"] is False
    assert state["served"] == "blue" and state["served_by"] == "link"
    host.link = "/run/hello/elsewhere.sock"
    assert host.read()["served"] == ""
    assert host.read()["live"] == "blue"


# --- plan: the transitions -------------------------------------------------------------------------

def test_first_deploy() -> None:
    host = Host()
    plan = host.deploy(R1)
    assert plan["flip"] and plan["first_deploy"]
    assert (plan["live"], plan["next"], plan["old"]) == ("", "blue", "")
    assert plan["reason"].startswith("first deploy")
    assert plan["stop_first"] == [] and plan["repairs"] == []
    assert host.events == [("start", "blue"), ("switch", "blue")]
    assert host.record == {"active": "blue", "previous": "",
                           "slots": {"blue": {"release": "r1", "release_dir": R1, "server": "gunicorn",
                                              "fingerprint": fp(R1)}}}
    assert host.agrees()


def test_same_release_does_not_flip() -> None:
    host = deployed()
    before = host.state_text
    plan = host.deploy(R1)
    assert plan["flip"] is False
    assert (plan["next"], plan["old"], plan["switch_to"]) == ("", "", "")
    assert "already runs" in plan["reason"]
    assert host.events == []
    assert host.state_text == before


def test_new_release_flips_to_the_idle_slot() -> None:
    host = deployed()
    plan = host.deploy(R2)
    assert plan["flip"] and not plan["first_deploy"]
    assert (plan["live"], plan["next"], plan["old"]) == ("blue", "green", "blue")
    assert plan["previous_release_dir"] == R1
    assert host.events == [("start", "green"), ("switch", "green"), ("stop", "blue")]
    assert host.record["active"] == "green" and host.record["previous"] == R1
    assert host.record["slots"]["blue"]["release_dir"] == R1
    assert host.agrees()
    plan = host.deploy(R3)
    assert (plan["next"], plan["old"], plan["previous_release_dir"]) == ("blue", "green", R2)


def test_configuration_change_flips_with_the_same_release() -> None:
    host = deployed()
    plan = host.deploy(R1, fingerprint=fp(R1, env="env-2"))
    assert plan["flip"] and "differs" in plan["reason"]
    assert plan["previous_release_dir"] == ""
    assert host.record["slots"]["green"]["fingerprint"] == fp(R1, env="env-2")


def test_restart_flips_to_a_fresh_slot_and_keeps_previous() -> None:
    host = deployed()
    host.deploy(R2)
    plan = host.deploy(R2, restart=True)
    assert plan["flip"] and plan["reason"].startswith("restart")
    assert (plan["next"], plan["old"]) == ("blue", "green")
    assert host.events == [("start", "blue"), ("switch", "blue"), ("stop", "green")]
    assert host.record["previous"] == R1
    assert host.record["slots"]["blue"]["release_dir"] == R2


def test_live_release_is_what_the_live_slot_runs() -> None:
    """What a restart starts again: the state file's record of the live slot (nginx's slot when they disagree)."""
    assert rel.live_release(Host().read()) == ("", "")
    host = deployed()
    assert rel.live_release(host.read()) == (R1, "r1")
    host.deploy(R2)
    assert rel.live_release(host.read()) == (R2, "r2")
    plan = rel.plan(host.read(), R2, fp(R2), restart=True, release="named")
    assert plan["release"] == "named" and plan["release_dir"] == R2
    assert rel.plan(host.read(), R2, fp(R2))["release"] == "r2"


def test_live_slot_not_running_flips() -> None:
    host = deployed()
    host.units["blue"] = {"service": "failed", "socket": "failed"}
    plan = host.deploy(R1)
    assert plan["flip"] and "not running" in plan["reason"]
    assert (plan["next"], plan["old"]) == ("green", "")
    assert host.events == [("start", "green"), ("switch", "green")]
    assert host.units["blue"]["service"] == "failed"  # the next flip into blue resets it
    plan = host.deploy(R2)
    assert plan["reset_failed"] == ["blue"]
    assert host.agrees()


def test_failed_slot_health_keeps_the_live_slot() -> None:
    host = deployed()
    before = host.state_text
    plan = host.deploy(R2, slot_healthy=False)
    assert plan["next"] == "green"
    assert host.events == [("start", "green"), ("stop", "green")]
    assert host.state_text == before
    assert host.upstream == line("blue")
    assert host.reports == {"r2": {"release": "r2", "gate": "slot health", "slot": "green", "result": "status 500"}}
    retry = host.deploy(R2)
    assert (retry["next"], retry["old"], retry["reset_failed"]) == ("green", "blue", ["green"])
    assert host.reports == {}
    assert host.agrees()


def test_failed_proxy_check_switches_back() -> None:
    host = deployed()
    before = host.state_text
    host.deploy(R2, proxy_healthy=False)
    assert host.events == [("start", "green"), ("switch", "green"), ("switch", "blue"), ("stop", "green")]
    assert host.state_text == before
    assert host.upstream == line("blue")
    assert host.reports["r2"]["gate"] == "proxy health"
    assert host.agrees()
    assert host.deploy(R2)["next"] == "green"


def test_failed_proxy_check_of_a_first_deploy_is_repaired_by_the_next_run() -> None:
    host = Host()
    plan = host.deploy(R1, proxy_healthy=False)
    assert plan["old"] == ""
    assert host.state_text is None and host.upstream == line("blue")
    state = host.read()
    assert state["interrupted"] and state["live"] == "blue" and not state["live_trusted"]
    plan = host.deploy(R1)
    assert plan["flip"] and "does not record" in plan["reason"]
    assert (plan["live"], plan["next"], plan["old"], plan["stop_first"]) == ("blue", "green", "blue", [])
    assert plan["first_deploy"] is True
    assert host.events == [("start", "green"), ("switch", "green"), ("stop", "blue")]
    assert host.agrees()


def test_the_live_release_is_never_marked_failed() -> None:
    host = deployed()
    host.deploy(R1, fingerprint=fp(R1, env="broken"), slot_healthy=False)
    assert host.reports == {}
    assert rel.record_failure(host.read(), "r1", R1, "slot health", "green", "x") is None
    report = rel.record_failure(host.read(), "r2", R2, "proxy health", "green", "y" * 2000)
    assert report is not None and len(report["result"]) == rel.FAILURE_RESULT_CHARS + 3


# --- plan: interrupted runs -----------------------------------------------------------------------

def test_killed_between_starting_the_idle_slot_and_the_switch() -> None:
    host = deployed()
    with pytest.raises(Killed):
        host.deploy(R2, kill_after="start")
    state = host.read()
    assert state["live"] == "blue" and state["running"] == ["blue", "green"]
    assert state["interrupted"] and [p["code"] for p in state["problems"]] == ["idle-running"]
    plan = host.deploy(R2)
    assert plan["stop_first"] == ["green"] and plan["keep_serving"] == "blue"
    assert (plan["next"], plan["old"]) == ("green", "blue")
    assert any("stop slot green first" in repair for repair in plan["repairs"])
    assert host.events == [("stop", "green"), ("start", "green"), ("switch", "green"), ("stop", "blue")]
    assert host.agrees() and host.record["previous"] == R1


def test_killed_between_start_and_switch_then_the_old_release_again() -> None:
    host = deployed()
    with pytest.raises(Killed):
        host.deploy(R2, kill_after="start")
    plan = host.deploy(R1)
    assert plan["flip"] is False and plan["stop_first"] == ["green"]
    assert host.events == [("stop", "green")]
    assert host.agrees()


def test_killed_between_the_switch_and_the_commit() -> None:
    host = deployed()
    with pytest.raises(Killed):
        host.deploy(R2, kill_after="switch")
    state = host.read()
    assert state["served"] == "green" and state["recorded"]["active"] == "blue"
    assert state["live"] == "green" and state["interrupted"]
    assert [p["code"] for p in state["problems"]] == ["served-not-recorded", "idle-running"]
    plan = host.deploy(R2)
    assert plan["flip"] and plan["keep_serving"] == "green"
    assert (plan["live"], plan["next"], plan["old"], plan["stop_first"]) == ("green", "blue", "green", ["blue"])
    assert plan["previous_release_dir"] == R1
    assert host.events == [("stop", "blue"), ("start", "blue"), ("switch", "blue"), ("stop", "green")]
    assert host.record["active"] == "blue" and host.record["slots"]["blue"]["release_dir"] == R2
    assert host.record["previous"] == R1
    assert host.agrees()


def test_killed_between_the_switch_and_the_commit_of_a_first_deploy() -> None:
    host = Host()
    with pytest.raises(Killed):
        host.deploy(R1, kill_after="switch")
    plan = host.deploy(R1)
    assert (plan["live"], plan["next"], plan["old"], plan["stop_first"]) == ("blue", "green", "blue", [])
    assert host.events == [("start", "green"), ("switch", "green"), ("stop", "blue")]
    assert host.agrees()


def test_killed_between_the_commit_and_the_stop_of_the_old_slot() -> None:
    host = deployed()
    with pytest.raises(Killed):
        host.deploy(R2, kill_after="commit")
    plan = host.deploy(R2)
    assert plan["flip"] is False and plan["stop_first"] == ["blue"]
    assert host.events == [("stop", "blue")]
    assert host.agrees()


def test_killed_on_a_host_without_nginx_follows_the_link() -> None:
    host = Host(nginx=False)
    host.deploy(R1)
    with pytest.raises(Killed):
        host.deploy(R2, kill_after="switch")
    plan = host.deploy(R2)
    assert (plan["live"], plan["next"], plan["stop_first"]) == ("green", "blue", ["blue"])
    assert host.agrees()


def test_upstream_changed_by_hand_is_put_back() -> None:
    host = deployed()
    host.upstream = "server 10.0.0.9:80;\n"
    plan = host.deploy(R1)
    assert plan["flip"] is False and plan["switch_to"] == "blue"
    assert plan["repairs"] == ["put nginx back on slot blue"]
    assert host.upstream == line("blue")
    host.upstream = "# by hand\nserver unix:/run/hello/blue.sock max_fails=0;\n"
    assert host.deploy(R1)["switch_to"] == "blue"


SLOT_STATES = [("active", "active"), ("inactive", "inactive"), ("failed", "inactive"), ("inactive", "active")]


@pytest.mark.parametrize("active, served", list(itertools.product(["", "blue", "green"], repeat=2)))
def test_no_plan_ever_touches_the_served_slot(active: str, served: str) -> None:
    slots = {slot: {"release": "r1", "release_dir": R1, "server": "gunicorn", "fingerprint": fp(R1)}
             for slot in rel.SLOTS}
    state_text = json.dumps({"active": active, "previous": "", "slots": slots}) if active else None
    upstream = line(served) if served else LEGACY_UPSTREAM
    for blue, green in itertools.product(SLOT_STATES, repeat=2):
        units = {"blue": {"service": blue[0], "socket": blue[1]}, "green": {"service": green[0], "socket": green[1]}}
        state = rel.read_state(state_text, upstream, units, ADDRESSES)
        for release_dir, restart in itertools.product([R1, R2], [False, True]):
            plan = rel.plan(state, release_dir, fp(release_dir), restart)
            check_plan_invariants(state, plan)
            if served and served != active:
                assert plan["flip"]


# --- commit ---------------------------------------------------------------------------------------

def test_commit_previous_is_never_the_new_live_release() -> None:
    record = {"active": "blue", "previous": R2,
              "slots": {"blue": {"release": "r1", "release_dir": R1, "server": "gunicorn", "fingerprint": "a"},
                        "green": {"release": "r2", "release_dir": R2, "server": "waitress", "fingerprint": "b"}}}
    state = rel.read_state(json.dumps(record), line("blue"), {}, ADDRESSES)
    rollback = rel.commit(state, "green", "r2", R2, "c", "waitress")
    assert rollback["previous"] == R1
    same = rel.commit(state, "blue", "r1", R1, "d", "gunicorn")
    assert same["previous"] == R2
    record["previous"] = R1
    again = rel.commit(record, "blue", "r1", R1, "d", "gunicorn")
    assert again["previous"] == ""
    assert again["slots"]["green"] == record["slots"]["green"]


def test_commit_is_idempotent_and_plain() -> None:
    state = rel.read_state(None, None, {}, ADDRESSES)
    first = rel.commit(state, "blue", "r1", R1, "f", "gunicorn")
    second = rel.commit(rel.read_state(json.dumps(first), None, {}, ADDRESSES), "blue", "r1", R1, "f", "gunicorn")
    assert first == second == {"active": "blue", "previous": "", "slots": {
        "blue": {"release": "r1", "release_dir": R1, "server": "gunicorn", "fingerprint": "f"}}}


@pytest.mark.parametrize(
    "args, message",
    [
        (("purple", "r1", R1, "f", "gunicorn"), "slot must be one of blue, green"),
        (("blue", "", R1, "f", "gunicorn"), "release must not be empty"),
        (("blue", "r1", "", "f", "gunicorn"), "release_dir must not be empty"),
        (("blue", "r1", R1, "", "gunicorn"), "fingerprint must not be empty"),
    ],
)
def test_commit_refuses_bad_input(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rel.commit(rel.read_state(None, None, {}, ADDRESSES), *args)


# --- retention ------------------------------------------------------------------------------------

def releases(*specs: tuple[str, float, bool] | tuple[str, float, bool, bool]) -> list[dict[str, t.Any]]:
    result = []
    for spec in specs:
        item = {"id": spec[0], "mtime": spec[1], "failed": spec[2]}
        if len(spec) > 3:
            item["complete"] = spec[3]
        result.append(item)
    return result


def test_retention_removes_failed_first_then_the_oldest() -> None:
    listed = releases(("a", 1, False), ("b", 2, False), ("c", 3, True), ("d", 4, False), ("e", 5, False),
                      ("f", 6, False, False))
    assert rel.retention(listed, 2, set()) == ["c", "f", "a", "b"]
    assert rel.retention(listed, 4, set()) == ["c", "f"]
    assert rel.retention(listed, 10, set()) == ["c", "f"]


def test_retention_never_removes_protected_releases() -> None:
    listed = releases(("a", 1, False), ("b", 2, True), ("c", 3, False), ("d", 4, False))
    assert rel.retention(listed, 1, {"a", "b"}) == ["c"]
    assert rel.retention(listed, 0, {"d"}) == ["b", "a", "c"]
    assert rel.retention(listed, 0, {"a", "b", "c", "d"}) == []


def test_retention_keeps_at_least_keep_and_protected_ones_count() -> None:
    listed = releases(("a", 1, False), ("b", 2, False), ("c", 3, False))
    assert rel.retention(listed, 2, {"c"}) == ["a"]
    assert rel.retention(listed, 2, {"a"}) == []
    assert rel.retention([], 2, set()) == []


def test_retention_orders_equal_times_by_id_and_refuses_negative_keep() -> None:
    listed = releases(("b", 1, False), ("a", 1, False), ("c", 1, False))
    assert rel.retention(listed, 1, set()) == ["a", "b"]
    with pytest.raises(ValueError):
        rel.retention(listed, -1, set())


def test_protected_releases_of_a_state() -> None:
    host = deployed()
    host.deploy(R2)
    assert rel.protected_releases(host.read()) == {"r1", "r2"}
    assert rel.protected_releases(host.read(), [R3, "r4"]) == {"r1", "r2", "r3", "r4"}
    assert rel.protected_releases(host.record) == {"r1", "r2"}
    assert rel.protected_releases(rel.read_state(None, None, {}, ADDRESSES)) == set()


def test_retention_after_deploys() -> None:
    host = deployed()
    host.deploy(R2)
    host.deploy(R3, slot_healthy=False)
    listed = releases(("r1", 1, False), ("r2", 2, False), ("r3", 3, True), ("r0", 0, False))
    assert rel.retention(listed, 1, rel.protected_releases(host.read())) == ["r3", "r0"]


def test_prune_after_an_activation_follows_when_and_the_state_the_run_leaves() -> None:
    host = deployed()
    host.deploy(R2)  # blue runs r1, green r2 (live), previous r1
    state = host.read()
    listed = releases(("r0", 0, False), ("r1", 1, False), ("r2", 2, False), ("bad", 3, True), ("r3", 4, False))
    assert rel.prune_after(state, None, listed, 0, [R3], "never", True) == []
    assert rel.prune_after(state, None, listed, 0, [R3], "flip", False) == []
    # a run that built a release but did not flip: the state file as it is protects the live, previous and slots'
    assert rel.prune_after(state, None, listed, 0, [R3], "always", False) == ["bad", "r0"]
    # after the flip of r3 into blue: blue's r1 is replaced, so r1 goes unless it is the previous release
    committed = rel.commit(state, "blue", "r3", R3, "fp-r3", "gunicorn")
    assert committed["previous"] == R2
    assert rel.prune_after(state, committed, listed, 0, [R3], "flip", True) == ["bad", "r0", "r1"]
    assert rel.prune_after(state, committed, listed, 3, [R3], "always", True) == ["bad", "r0"]
    with pytest.raises(ValueError):
        rel.prune_after(state, None, listed, 0, [], "sometimes", True)


# --- rollback -------------------------------------------------------------------------------------

ON_DISK = releases(("r1", 1, False), ("r2", 2, False), ("r3", 3, False), ("bad", 4, True), ("half", 5, False, False))


def rolled_host() -> Host:
    host = deployed(R1)
    host.deploy(R2)
    host.deploy(R3)
    return host


def test_rollback_to_previous() -> None:
    choice = rel.rollback_candidates(rolled_host().read(), ON_DISK)
    assert choice == {"release": "r2", "already_live": False, "candidates": ["r2", "r1"], "error": ""}
    host = rolled_host()
    plan = host.deploy(R2)
    assert plan["flip"] and plan["previous_release_dir"] == R3
    assert rel.rollback_candidates(host.read(), ON_DISK)["release"] == "r3"


def test_rollback_to_a_named_release() -> None:
    choice = rel.rollback_candidates(rolled_host().read(), ON_DISK, target="r1")
    assert choice["release"] == "r1" and choice["error"] == ""
    assert rel.rollback_candidates(rolled_host().read(), ON_DISK, target=R1)["release"] == "r1"
    live = rel.rollback_candidates(rolled_host().read(), ON_DISK, target="r3")
    assert live["release"] == "r3" and live["already_live"] is True


@pytest.mark.parametrize(
    "target, error",
    [
        ("r9", "No release r9 on this host; complete releases: r2, r1"),
        ("bad", "Cannot roll back to release bad: it failed a health gate"),
        ("half", "Cannot roll back to release half: it is not complete"),
    ],
)
def test_rollback_to_a_missing_or_unfit_release(target: str, error: str) -> None:
    choice = rel.rollback_candidates(rolled_host().read(), ON_DISK, target=target)
    assert choice["release"] == ""
    assert choice["error"].startswith(error)


def test_rollback_without_a_previous_release() -> None:
    choice = rel.rollback_candidates(deployed().read(), releases(("r1", 1, False)))
    assert choice["error"] == "No previous release to roll back to; complete releases: none"
    assert rel.rollback_candidates(rel.read_state(None, None, {}, ADDRESSES), [])["error"].startswith("No previous")
    gone = rel.rollback_candidates(rolled_host().read(), releases(("r3", 3, False), ("r1", 1, False)))
    assert gone["error"] == "The previous release r2 is no longer on this host; complete releases: r1"
