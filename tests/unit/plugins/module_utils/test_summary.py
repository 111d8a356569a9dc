# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the run summary (module_utils/_summary.py) on the results the modules return, in the shapes their RETURN
documents: a deploy that built and flipped, a run that changed nothing, check mode, a switch back, secrets."""

from __future__ import annotations

import json

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _summary as su

SKIPPED = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}


def status(live="green", release="2.0.0"):
    """flaskops.deploy.release's status result, read after the run."""
    slots = {live: {"release": release, "release_dir": f"/srv/hello/releases/{release}", "server": "gunicorn",
                    "fingerprint": "0c1d"}} if live else {}
    return {"changed": False, "would": [], "state": {"live": live, "recorded": {"active": live, "slots": slots}}}


def plan(flip=True, live="blue", nxt="green"):
    return {"flip": flip, "reason": "what slot blue runs differs (release, server, configuration or units)",
            "live": live, "next": nxt if flip else "", "old": live}


FLIP = {
    "changed": True, "slot": "green", "old_slot": "blue", "stopped_slot": "blue", "release": "2.0.0",
    "steps": [
        {"step": "prepare", "slot": "green", "seconds": 0.05},
        {"step": "start", "slot": "green", "seconds": 0.2},
        {"step": "slot check", "slot": "green", "seconds": 0.61},
        {"step": "switch", "slot": "green", "seconds": 0.25},
        {"step": "links", "seconds": 0.01},
        {"step": "proxy check", "slot": "green", "seconds": 0.5},
        {"step": "commit", "slot": "green", "seconds": 0.01},
        {"step": "enable", "slot": "green", "seconds": 0.1},
        {"step": "drain and stop", "slot": "blue", "seconds": 1.1},
    ],
}
HEALTH = {"changed": False, "healthy": True, "status": 200, "attempts": 2, "elapsed_ms": [4, 3],
          "json": {"status": "ok", "version": "2.0.0", "checks": {"db": "ok"}, "secret": "hunter2-not-shown"},
          "body": '{"secret": "hunter2-not-shown"}', "headers": {"set-cookie": "session=hunter2-not-shown"}}
VENV = {"changed": True, "action": "create", "duration": 3.2, "installer": "uv"}
COMPILE = {"changed": True, "rc": 0, "delta": "0:00:00.310000", "start": "2026-01-01 10:00:00.000000"}
CONFIG = {"changed": False, "valid": True, "findings": [], "duration": 0.8}


def summarise(**kwargs):
    args = dict(host="web1", operation="deploy", app_name="hello", status=status(), plan=plan(), flip=FLIP,
                builds=[VENV, COMPILE], config=CONFIG, health=HEALTH, url="https://hello.example.org/")
    args.update(kwargs)
    return su.summarise(**args)


def test_a_deploy_that_built_and_flipped():
    summary = summarise()
    assert summary["outcome"] == "went live"
    assert (summary["release"], summary["slot"], summary["previous_slot"]) == ("2.0.0", "green", "blue")
    assert summary["built"] is True
    assert summary["durations"] == {"build": 3.51, "gates": 1.91, "switch": 0.26, "drain": 1.1}
    assert summary["gates"] == {"config": 0.8, "slot": 0.61, "proxy": 0.5}
    assert (summary["health"], summary["status"], summary["attempts"], summary["version"]) == ("healthy", 200, 2, "2.0.0")
    text = su.lines(summary)
    assert text[0] == ("hello on web1 (deploy): release 2.0.0 went live in slot green "
                       "(what slot blue runs differs (release, server, configuration or units))")
    assert "release:  2.0.0, built in this run" in text
    assert "slot:     green (before: blue)" in text
    assert "health:   healthy (HTTP 200 through nginx, 2 attempts)" in text
    assert text[-1] == ("took:     build 3.51 s, gates 1.91 s (config 0.80, slot 0.61, proxy 0.50), switch 0.26 s, "
                        "drain 1.10 s")


def test_a_run_that_changed_nothing_reports_the_live_release_and_no_durations():
    summary = summarise(plan=plan(flip=False), flip=SKIPPED, builds=[SKIPPED], config=SKIPPED)
    assert summary["outcome"] == "live"
    assert (summary["release"], summary["slot"], summary["previous_slot"], summary["built"]) == ("2.0.0", "green", "", False)
    assert summary["durations"] == {"build": None, "gates": None, "switch": None, "drain": None}
    text = su.lines(summary)
    assert text[0] == "hello on web1 (deploy): release 2.0.0 is live in slot green, unchanged by this run"
    assert text[-1] == "took:     build -, gates -, switch -, drain -"


def test_restart_flips_without_a_build():
    summary = summarise(operation="restart", builds=[], config={})
    assert summary["built"] is False
    assert summary["durations"]["build"] is None
    assert summary["gates"] == {"slot": 0.61, "proxy": 0.5}
    assert summary["durations"]["gates"] == 1.11


def test_check_mode_says_what_would_go_live_and_reports_no_durations():
    check_flip = {"changed": True, "slot": "green", "old_slot": "blue", "release": "3.0.0", "steps": [],
                  "would": ["start slot green and check it on its own socket"]}
    summary = summarise(status=status("blue", "2.0.0"), plan=plan(live="blue", nxt="green"), flip=check_flip,
                        builds=[{"changed": True, "duration": 0.01}], config=SKIPPED, check_mode=True)
    assert summary["outcome"] == "would go live"
    assert (summary["release"], summary["slot"], summary["previous_slot"]) == ("3.0.0", "green", "blue")
    assert summary["built"] is False
    assert summary["durations"] == {"build": None, "gates": None, "switch": None, "drain": None}
    text = su.lines(summary)
    assert text[0].startswith("hello on web1 (deploy): check mode: release 3.0.0 would go live in slot green (")
    assert text[-1] == "took:     none in check mode"


def test_a_switch_back_counts_its_recheck_among_the_gates_and_its_move_in_the_switch():
    steps = [{"step": "slot check", "seconds": 0.5}, {"step": "switch", "seconds": 0.2}, {"step": "links", "seconds": 0.1},
             {"step": "proxy check", "seconds": 2.0}, {"step": "switch back", "seconds": 0.2},
             {"step": "links back", "seconds": 0.1}, {"step": "recheck", "seconds": 0.4},
             {"step": "drain and stop", "seconds": 0.7}]
    times = su.flip_seconds({"changed": True, "steps": steps})
    assert times == {"gates": {"slot": 0.5, "proxy": 2.0, "recheck": 0.4}, "switch": 0.6, "drain": 0.7}


def test_no_release_live_and_no_health_check():
    summary = summarise(status=status(live=""), plan={}, flip={}, builds=[], config={}, health={})
    assert (summary["outcome"], summary["release"], summary["health"], summary["status"]) == ("nothing live", "", "not checked", None)
    text = su.lines(summary)
    assert text[0] == "hello on web1 (deploy): no release is live"
    assert "health:   not checked" in text
    assert "version:  not reported" in text


def test_an_unhealthy_end():
    health = {"healthy": False, "status": 503, "attempts": 1, "json": None, "msg": "not healthy"}
    summary = summarise(health=health)
    assert summary["health"] == "unhealthy"
    assert "health:   unhealthy (HTTP 503 through nginx, 1 attempt)" in su.lines(summary)


def test_nothing_secret_goes_into_the_summary():
    summary = summarise(url="https://deploy:hunter2-not-shown@hello.example.org:8443/x?y=1")
    dumped = json.dumps(summary) + "\n".join(su.lines(summary))
    assert "hunter2" not in dumped
    assert summary["url"] == "https://hello.example.org:8443/x?y=1"
    assert set(summary) == {"host", "app", "operation", "check_mode", "outcome", "reason", "release", "slot",
                            "previous_slot", "built", "url", "version", "durations", "gates", "health", "status",
                            "attempts"}


@pytest.mark.parametrize("url, expected", [
    ("", ""),
    ("http://hello.example.org/", "http://hello.example.org/"),
    ("https://user@hello.example.org/", "https://hello.example.org/"),
    ("https://u:p@[2001:db8::1]:443/", "https://[2001:db8::1]:443/"),
])
def test_public_url(url, expected):
    assert su.public_url(url) == expected


@pytest.mark.parametrize("body, field, expected", [
    ({"version": "1.2.3"}, "version", "1.2.3"),
    ({"build": {"version": 7}}, "build.version", "7"),
    ({"version": "a\nb   c"}, "version", "a b c"),
    ({"version": "x" * 100}, "version", "x" * 61 + "..."),
    ({"version": {"nested": 1}}, "version", ""),
    ({"status": "ok"}, "version", ""),
    (None, "version", ""),
    (["version"], "version", ""),
])
def test_app_version(body, field, expected):
    assert su.app_version({"healthy": True, "json": body}, field) == expected


@pytest.mark.parametrize("result, expected", [
    ({"duration": 1.5}, 1.5),
    ({"delta": "0:00:02.500000"}, 2.5),
    ({"delta": "1:02:03.000000"}, 3723.0),
    ({"delta": "1 day, 0:00:01"}, 86401.0),
    ({"duration": True}, None),
    ({"delta": "soon"}, None),
    (SKIPPED, None),
    ({}, None),
    ("not a result", None),
])
def test_seconds(result, expected):
    assert su.seconds(result) == expected
