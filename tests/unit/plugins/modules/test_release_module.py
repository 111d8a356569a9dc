# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of flaskops.deploy.release on a host laid out in tmp_path, with a stand-in systemctl on PATH."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import shutil
import sys
import typing as t

import pytest
import yaml

from ansible_collections.flaskops.deploy.plugins.module_utils import _release as rel
from ansible_collections.flaskops.deploy.plugins.modules import release
from ansible_collections.flaskops.deploy.tests.unit.plugins.modules.utils import run_module, run_module_failing
from ansible_collections.flaskops.deploy.tests.unit.plugins.support import AppState, serve_tcp

FAKE_SYSTEMCTL = """#!{python}
import json, sys
with open({states!r}) as handle:
    config = json.load(handle)
if config.get("rc"):
    sys.stderr.write("Failed to connect to bus\\n")
    sys.exit(config["rc"])
units = [arg for arg in sys.argv[1:] if not arg.startswith("-") and arg != "show"]
with open({calls!r}, "a") as handle:
    handle.write(json.dumps(sys.argv[1:]) + "\\n")
print("\\n\\n".join("ActiveState=%s\\nId=%s" % (config.get(unit, "inactive"), unit) for unit in units))
"""


class Layout:
    """Files of a host: /etc/hello/slots/state.json, nginx's upstream file, /srv/hello/releases, systemctl."""

    def __init__(self, root: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = str(root)
        self.state_file = os.path.join(self.root, "etc/hello/slots/state.json")
        self.upstream_file = os.path.join(self.root, "etc/nginx/flaskops/hello.upstream.conf")
        self.releases_dir = os.path.join(self.root, "srv/hello/releases")
        self.env_file = os.path.join(self.root, "etc/hello/env")
        self.addresses = {"blue": f"unix:{self.root}/run/hello/blue.sock",
                          "green": f"unix:{self.root}/run/hello/green.sock"}
        for path in (self.state_file, self.upstream_file, self.env_file):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        os.makedirs(self.releases_dir)
        self.units_file = os.path.join(self.root, "units.json")
        self.calls_file = os.path.join(self.root, "systemctl-calls")
        bin_dir = os.path.join(self.root, "bin")
        os.makedirs(bin_dir)
        systemctl = os.path.join(bin_dir, "systemctl")
        with open(systemctl, "w", encoding="utf-8") as handle:
            handle.write(FAKE_SYSTEMCTL.format(python=sys.executable, states=self.units_file, calls=self.calls_file))
        os.chmod(systemctl, 0o755)
        monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ.get("PATH", ""))
        self.set_units()
        self.write(self.upstream_file, "server unix:/run/hello/gunicorn.sock max_fails=0;\n")
        self.write(self.env_file, "FLASK_ENV=production\n")

    @staticmethod
    def write(path: str, text: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)

    def set_units(self, rc: int = 0, **slots: str) -> None:
        """``blue="active"`` sets both units of a slot."""
        config: dict[str, t.Any] = {"rc": rc}
        for slot, state in slots.items():
            config[f"hello@{slot}.service"] = state
            config[f"hello@{slot}.socket"] = state
        self.write(self.units_file, json.dumps(config))

    def serve(self, slot: str) -> None:
        self.write(self.upstream_file, rel.upstream_line(self.addresses[slot]) + "\n")

    def add_release(self, name: str, mtime: float, complete: bool = True, failed: bool = False) -> str:
        path = os.path.join(self.releases_dir, name)
        os.makedirs(os.path.join(path, "app"))
        self.write(os.path.join(path, "app", "wsgi.py"), "app = None\n")
        if complete:
            self.write(os.path.join(path, ".flaskops-release"), "")
            os.utime(os.path.join(path, ".flaskops-release"), (mtime, mtime))
        os.utime(path, (mtime, mtime))
        if failed:
            self.write(f"{path}.failed", json.dumps({"release": name, "gate": "slot health"}))
        return path

    def record(self, active: str, previous: str = "", **slots: str) -> None:
        """``blue="r1"`` records slot blue running release r1."""
        entries = {slot: {"release": name, "release_dir": os.path.join(self.releases_dir, name),
                          "server": "gunicorn", "fingerprint": f"fp-{name}"} for slot, name in slots.items()}
        self.write(self.state_file, json.dumps({"active": active, "previous": previous, "slots": entries}))

    def read_record(self) -> dict[str, t.Any]:
        with open(self.state_file, encoding="utf-8") as handle:
            return json.load(handle)

    def args(self, **extra: t.Any) -> dict[str, t.Any]:
        args = {"app_name": "hello", "state_file": self.state_file, "upstream_file": self.upstream_file,
                "slot_addresses": self.addresses, "releases_dir": self.releases_dir}
        args.update(extra)
        return args

    def systemctl_calls(self) -> list[list[str]]:
        if not os.path.exists(self.calls_file):
            return []
        with open(self.calls_file, encoding="utf-8") as handle:
            return [json.loads(entry) for entry in handle]


@pytest.fixture
def host(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> Layout:
    return Layout(tmp_path, monkeypatch)


def run(args: dict[str, t.Any], check_mode: bool = False) -> dict[str, t.Any]:
    return run_module(release.main, args, check_mode=check_mode)


def run_failing(args: dict[str, t.Any], check_mode: bool = False) -> dict[str, t.Any]:
    return run_module_failing(release.main, args, check_mode=check_mode)


def on_disk(path: str) -> bytes | None:
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


# --- status ---------------------------------------------------------------------------------------

def test_status_of_a_fresh_host_plans_the_first_deploy(host: Layout) -> None:
    r1 = host.add_release("r1", 100)
    result = run(host.args(release_dir=r1, fingerprint="fp-r1"))
    assert result["changed"] is False and result["would"] == []
    assert result["state"]["state_file"] == "missing"
    assert result["state"]["upstream_file"] == host.upstream_file
    assert result["state"]["problems"] == []
    plan = result["plan"]
    assert (plan["flip"], plan["next"], plan["old"], plan["first_deploy"]) == (True, "blue", "", True)
    assert result["releases"] == [{"id": "r1", "path": r1, "mtime": 100.0, "complete": True, "failed": False}]
    assert result["rollback"]["error"].startswith("No previous release")
    assert result["prune"] == []
    assert host.systemctl_calls() == [["show", "--property=Id,ActiveState", "hello@blue.service",
                                       "hello@blue.socket", "hello@green.service", "hello@green.socket"]]


def test_status_with_a_proxy_check_checks_the_site_in_the_same_call(host: Layout) -> None:
    """The summary's one call to the host: what is live, then the site through the proxy (read-only, check mode too)."""
    host.serve("blue")
    host.set_units(blue="active")
    with serve_tcp(AppState()) as base:
        healthy = run(host.args(proxy_check={"url": base + "/healthz", "retries": 0}), check_mode=True)
        down = run(host.args(proxy_check={"url": base + "/down", "retries": 1, "delay": 0}))
    assert healthy["state"]["live"] == "blue" and healthy["changed"] is False
    assert healthy["health"]["healthy"] is True and healthy["health"]["status"] == 200
    # An unhealthy site is reported, not a failure of the read: the summary decides.
    assert down["health"]["healthy"] is False and down["health"]["attempts"] == 2 and "/down" in down["health"]["msg"]
    # Without a check, nothing is checked.
    assert "health" not in run(host.args())
    assert "health" not in run(host.args(proxy_check={}))


def test_status_takes_the_host_layout_and_the_call_options_win(host: Layout) -> None:
    r1 = host.add_release("r1", 100)
    given = run(host.args(release_dir=r1, fingerprint="fp-r1"))
    layout = dict(host.args(), site="hello", tmpfiles="/etc/tmpfiles.d/flaskops-hello.conf", user="hello",
                  built_marker=".flaskops-built")
    # The call's upstream file wins over the layout's site (which names another file).
    del layout["upstream_file"]
    from_layout = run({"layout": layout, "upstream_file": host.upstream_file, "release_dir": r1, "fingerprint": "fp-r1"})
    assert from_layout == given
    # The call's app_name wins: the units read are another application's.
    run({"layout": layout, "app_name": "other", "upstream_file": host.upstream_file})
    assert "other@blue.service" in host.systemctl_calls()[-1]


def test_a_bad_layout_or_a_required_option_missing_from_both_fails_naming_it(host: Layout) -> None:
    missing = run_failing({"layout": {"app_name": "hello"}})
    assert missing["msg"] == "missing required arguments (here or in layout): state_file"
    layout = dict(host.args(), site="hello")
    del layout["upstream_file"]
    unknown = run_failing({"layout": dict(layout, state_fil="/x", upstream_file=host.upstream_file)})
    assert unknown["msg"].startswith("layout has unknown keys: state_fil, upstream_file (known: app_name, app_root, ")
    typed = run_failing({"layout": dict(layout, slot_format="two")})
    assert "slot_format" in typed["msg"]
    prune = run_failing({"action": "prune", "app_name": "hello", "state_file": host.state_file})
    assert prune["msg"] == "action is prune but all of the following are missing: releases_dir"
    both = run_failing(host.args(site="hello"))
    assert both["msg"] == "parameters are mutually exclusive: upstream_file|site"


def test_status_same_release_does_not_flip(host: Layout) -> None:
    r1 = host.add_release("r1", 100)
    host.record("blue", blue="r1")
    host.serve("blue")
    host.set_units(blue="active")
    result = run(host.args(release_dir=r1, fingerprint="fp-r1"))
    assert result["plan"]["flip"] is False
    assert result["state"]["disagree"] is False
    assert result["state"]["units"]["blue"]["running"] is True
    result = run(host.args(release_dir=r1, fingerprint="fp-r1", restart=True))
    assert result["plan"]["flip"] is True and result["plan"]["next"] == "green"


def test_status_killed_between_start_and_switch(host: Layout) -> None:
    host.add_release("r1", 100)
    r2 = host.add_release("r2", 200)
    host.record("blue", blue="r1")
    host.serve("blue")
    host.set_units(blue="active", green="active")
    result = run(host.args(release_dir=r2, fingerprint="fp-r2"))
    assert result["state"]["interrupted"] is True
    plan = result["plan"]
    assert (plan["next"], plan["old"], plan["stop_first"], plan["keep_serving"]) == ("green", "blue", ["green"], "blue")


def test_status_killed_between_switch_and_commit(host: Layout) -> None:
    host.add_release("r1", 100)
    r2 = host.add_release("r2", 200)
    host.record("blue", blue="r1")
    host.serve("green")
    host.set_units(blue="active", green="active")
    result = run(host.args(release_dir=r2, fingerprint="fp-r2"), check_mode=True)
    assert result["changed"] is False
    plan = result["plan"]
    assert plan["live"] == "green" and plan["keep_serving"] == "green"
    assert (plan["next"], plan["old"], plan["stop_first"]) == ("blue", "green", ["blue"])
    assert "green" not in plan["stop_first"]
    assert plan["previous_release_dir"] == os.path.join(host.releases_dir, "r1")


def test_status_without_nginx_follows_the_link(host: Layout) -> None:
    os.unlink(host.upstream_file)
    link = os.path.join(host.root, "run/hello/hello.sock")
    os.makedirs(os.path.dirname(link))
    os.symlink(host.addresses["green"][len("unix:"):], link)
    host.record("blue", blue="r1")
    host.set_units(blue="active", green="active")
    result = run(host.args(link=link))
    assert result["state"]["nginx"] is False
    assert (result["state"]["served"], result["state"]["served_by"], result["state"]["live"]) == ("green", "link",
                                                                                                  "green")
    assert "plan" not in result


def test_status_names_the_upstream_file_of_the_site(host: Layout) -> None:
    # The app role records this path in its stamp: the one place the path comes from is upstream_path().
    args = host.args(site="hello")
    del args["upstream_file"]
    result = run(args)
    assert result["state"]["upstream_file"] == "/etc/nginx/flaskops/hello.upstream.conf"
    args = host.args()
    del args["upstream_file"]
    assert run(args)["state"]["upstream_file"] == ""


def test_status_computes_the_roles_fingerprint(host: Layout) -> None:
    r1 = host.add_release("r1", 100)
    missing = os.path.join(host.root, "etc/hello/gunicorn.conf.py")
    result = run(host.args(release_dir=r1, server="gunicorn", runtime_files=[host.env_file, missing]))
    digest = hashlib.sha1(b"FLASK_ENV=production\n").hexdigest()
    expected = rel.fingerprint(1, "gunicorn", r1, [f"{digest}  {host.env_file}"])
    assert result["plan"]["fingerprint"] == expected
    assert "FLASK_ENV" not in json.dumps(result)
    host.write(host.env_file, "FLASK_ENV=production\nX=1\n")
    changed = run(host.args(release_dir=r1, server="gunicorn", runtime_files=[host.env_file]))
    assert changed["plan"]["fingerprint"] != expected


def test_status_needs_a_server_or_a_fingerprint_to_plan(host: Layout) -> None:
    result = run_failing(host.args(release_dir=host.add_release("r1", 100)))
    assert "server is required" in result["msg"]


def test_status_lists_releases_rollback_and_prune(host: Layout) -> None:
    for index, name in enumerate(["r1", "r2", "r3", "r4", "r5", "r6", "r7"]):
        host.add_release(name, 100 + index)
    host.add_release("bad", 50, failed=True)
    host.add_release("half", 60, complete=False)
    host.write(os.path.join(host.releases_dir, "gone.failed"), "{}")
    host.record("green", previous=os.path.join(host.releases_dir, "r6"), blue="r6", green="r1")
    host.serve("green")
    host.set_units(green="active")
    result = run(host.args(keep=3))
    assert [item["id"] for item in result["releases"]] == ["r7", "r6", "r5", "r4", "r3", "r2", "r1", "half", "bad"]
    assert result["releases"][-1]["failed"] is True and result["releases"][-2]["complete"] is False
    assert result["prune"] == ["bad", "half", "r2", "r3", "r4"]
    assert result["rollback"]["release"] == "r6"
    named = run(host.args(rollback_to="r9"))
    assert named["rollback"]["release"] == "" and "No release r9" in named["rollback"]["error"]
    assert named["changed"] is False


def test_status_plans_a_restart_of_the_live_release(host: Layout) -> None:
    """release_from=live: one call reads the state and plans a fresh slot for what the live slot runs."""
    host.add_release("r1", 100)
    host.add_release("r2", 200)
    host.record("green", previous=os.path.join(host.releases_dir, "r1"), blue="r1", green="r2")
    host.serve("green")
    host.set_units(green="active")
    result = run(host.args(release_from="live", restart=True, server="gunicorn", releases_dir=None))
    assert result["plan"]["release_dir"] == os.path.join(host.releases_dir, "r2")
    assert result["plan"]["release"] == "r2"
    assert result["plan"]["flip"] is True and result["plan"]["next"] == "blue" and result["plan"]["old"] == "green"
    assert "restart" in result["plan"]["reason"]


def test_status_refuses_a_restart_when_nothing_is_live(host: Layout) -> None:
    result = run_failing(host.args(release_from="live", restart=True, server="gunicorn"))
    assert result["msg"].startswith("hello has no live slot on this host (")
    assert "deploy a release first" in result["msg"]
    assert "plan" not in result


def test_status_plans_the_rollback_release(host: Layout) -> None:
    """release_from=rollback: the release RV(rollback) chooses is the one planned for, in the same call."""
    host.add_release("r1", 100)
    host.add_release("r2", 200)
    host.record("green", previous=os.path.join(host.releases_dir, "r1"), blue="r1", green="r2")
    host.serve("green")
    host.set_units(green="active", blue="inactive")
    result = run(host.args(release_from="rollback", server="gunicorn"))
    assert result["rollback"]["release"] == "r1"
    assert result["plan"]["release_dir"] == os.path.join(host.releases_dir, "r1")
    assert result["plan"]["release"] == "r1" and result["plan"]["flip"] is True and result["plan"]["next"] == "blue"
    named = run(host.args(release_from="rollback", rollback_to="r2", server="gunicorn"))
    assert named["rollback"]["already_live"] is True and named["plan"]["release"] == "r2"


def test_status_refuses_a_rollback_with_nothing_to_go_back_to(host: Layout) -> None:
    host.add_release("r1", 100)
    host.record("blue", blue="r1")
    host.serve("blue")
    host.set_units(blue="active")
    result = run_failing(host.args(release_from="rollback", server="gunicorn"))
    assert result["msg"] == "No previous release to roll back to; complete releases: none"
    assert "plan" not in result
    failed = run_failing(host.args(release_from="rollback", rollback_to="r7", server="gunicorn"))
    assert failed["msg"].startswith("No release r7 on this host")
    assert "releases_dir" in run_failing(host.args(release_from="rollback", releases_dir=None))["msg"]


def test_status_says_whether_the_processes_manifest_exists(host: Layout) -> None:
    manifest = os.path.join(host.root, "etc/hello/slots/processes.json")
    assert run(host.args(processes_manifest=manifest))["state"]["processes_manifest"] is False
    assert run(host.args())["state"]["processes_manifest"] is False
    host.write(manifest, "{}")
    assert run(host.args(processes_manifest=manifest))["state"]["processes_manifest"] is True


def test_status_fails_when_systemctl_fails(host: Layout) -> None:
    host.set_units(rc=1)
    result = run_failing(host.args())
    assert "systemctl show failed (rc 1): Failed to connect to bus" == result["msg"]


def test_bad_slot_addresses(host: Layout) -> None:
    result = run_failing(host.args(slot_addresses={"blue": "x", "red": "y"}))
    assert "red" in result["msg"]


# --- commit ---------------------------------------------------------------------------------------

def test_commit_writes_the_state_file(host: Layout) -> None:
    host.add_release("r1", 100)
    r2 = host.add_release("r2", 200)
    host.record("blue", blue="r1")
    host.serve("green")
    args = host.args(action="commit", slot="green", release_dir=r2, fingerprint="fp-r2", server="gunicorn",
                     mode="0640")

    checked = run(args, check_mode=True)
    assert checked["changed"] is True
    assert checked["would"] == [f"write {host.state_file}: slot green serves release r2"]
    assert host.read_record()["active"] == "blue"

    result = run(args)
    assert result["changed"] is True and result["would"] == checked["would"]
    assert result["committed"] == checked["committed"] == host.read_record()
    record = host.read_record()
    assert record["active"] == "green"
    assert record["previous"] == os.path.join(host.releases_dir, "r1")
    assert record["slots"]["green"] == {"release": "r2", "release_dir": r2, "server": "gunicorn",
                                        "fingerprint": "fp-r2"}
    assert record["slots"]["blue"]["release"] == "r1"
    assert stat.S_IMODE(os.stat(host.state_file).st_mode) == 0o640
    assert [name for name in os.listdir(os.path.dirname(host.state_file)) if name != "state.json"] == []
    assert host.systemctl_calls() == []

    again = run(args)
    assert again["changed"] is False and again["would"] == []
    assert run(args, check_mode=True)["changed"] is False


def test_commit_of_a_first_deploy_with_diff(host: Layout) -> None:
    r1 = host.add_release("r1", 100)
    host.serve("blue")
    args = host.args(action="commit", slot="blue", release_dir=r1, server="waitress", runtime_files=[host.env_file],
                     _ansible_diff=True)
    checked = run(args, check_mode=True)
    assert checked["changed"] is True
    assert checked["diff"]["before"] == ""
    assert json.loads(checked["diff"]["after"]) == checked["committed"]
    assert not os.path.exists(host.state_file)
    result = run(args)
    assert host.read_record() == result["committed"]
    assert result["committed"]["previous"] == ""
    assert result["committed"]["slots"]["blue"]["server"] == "waitress"


def test_commit_forgets_the_failure_report(host: Layout) -> None:
    r2 = host.add_release("r2", 200, failed=True)
    host.record("blue", blue="r1")
    host.serve("green")
    args = host.args(action="commit", slot="green", release_dir=r2, fingerprint="fp-r2", server="gunicorn")
    checked = run(args, check_mode=True)
    assert checked["would"][1] == f"remove {r2}.failed: release r2 serves now"
    assert os.path.exists(f"{r2}.failed")
    run(args)
    assert not os.path.exists(f"{r2}.failed")


def test_commit_refuses_a_slot_nginx_does_not_serve(host: Layout) -> None:
    r2 = host.add_release("r2", 200)
    host.record("blue", blue="r1")
    host.serve("blue")
    before = on_disk(host.state_file)
    result = run_failing(host.args(action="commit", slot="green", release_dir=r2, fingerprint="f", server="gunicorn"))
    assert result["msg"] == "nginx serves slot blue, not slot green: switch the upstream before the record"
    assert on_disk(host.state_file) == before
    host.write(host.upstream_file, "server 10.0.0.1:80;\n")
    result = run_failing(host.args(action="commit", slot="green", release_dir=r2, fingerprint="f", server="gunicorn"))
    assert result["msg"].startswith("nginx serves ['10.0.0.1:80'], not slot green")


def test_commit_without_nginx(host: Layout) -> None:
    os.unlink(host.upstream_file)
    r1 = host.add_release("r1", 100)
    result = run(host.args(action="commit", slot="green", release_dir=r1, fingerprint="f", server="gunicorn"))
    assert result["changed"] is True and host.read_record()["active"] == "green"


def test_commit_needs_its_inputs(host: Layout) -> None:
    result = run_failing(host.args(action="commit", slot="blue"))
    assert "release_dir" in result["msg"] and "server" in result["msg"]


def test_commit_into_a_missing_directory_fails_cleanly(host: Layout) -> None:
    host.serve("blue")
    state_file = os.path.join(host.root, "nowhere", "state.json")
    result = run_failing(host.args(action="commit", state_file=state_file, slot="blue",
                                   release_dir=host.add_release("r1", 100), fingerprint="f", server="gunicorn"))
    assert result["msg"].startswith(f"cannot write {state_file}")


# --- prune ----------------------------------------------------------------------------------------

def test_prune(host: Layout) -> None:
    for index, name in enumerate(["r1", "r2", "r3", "r4"]):
        host.add_release(name, 100 + index)
    host.add_release("bad", 500, failed=True)
    host.write(os.path.join(host.releases_dir, "gone.failed"), "{}")
    host.record("blue", previous=os.path.join(host.releases_dir, "r1"), blue="r4", green="r1")
    args = host.args(action="prune", keep=2, protect=["r3"])
    expected = [f"remove release {host.releases_dir}/bad", f"remove release {host.releases_dir}/r2",
                f"remove failure report {host.releases_dir}/bad.failed",
                f"remove failure report {host.releases_dir}/gone.failed"]

    checked = run(args, check_mode=True)
    assert checked["changed"] is True and checked["would"] == expected and checked["prune"] == ["bad", "r2"]
    assert len(os.listdir(host.releases_dir)) == 7

    result = run(args)
    assert result["would"] == expected
    assert sorted(os.listdir(host.releases_dir)) == ["r1", "r3", "r4"]
    assert run(args)["changed"] is False
    assert host.systemctl_calls() == []


def test_prune_needs_the_releases_dir(host: Layout) -> None:
    args = host.args(action="prune")
    del args["releases_dir"]
    assert "releases_dir" in run_failing(args)["msg"]


def test_prune_of_a_missing_releases_dir(host: Layout) -> None:
    result = run(host.args(action="prune", releases_dir=os.path.join(host.root, "none")))
    assert result["changed"] is False and result["releases"] == []


def test_negative_keep(host: Layout) -> None:
    assert "keep must be at least 0" in run_failing(host.args(action="prune", keep=-1))["msg"]


# --- activate -----------------------------------------------------------------------------------------

def activate_args(host: Layout, **extra: t.Any) -> dict[str, t.Any]:
    args = host.args(
        action="activate", site="hello", upstream_dir=os.path.dirname(host.upstream_file), server="gunicorn",
        exec_start="{release_dir}/.venv/bin/gunicorn --config /etc/hello/slots/{slot}/gunicorn.conf.py",
        group="hello", config_dir=os.path.dirname(host.env_file), config_files=["env"],
        slots_dir=os.path.join(host.root, "etc/hello/slots"), unit_dir=os.path.join(host.root, "units"),
        app_root=os.path.join(host.root, "srv/hello"),
        slot_check={slot: {"url": "http://hello.test/health", "unix_socket": f"/run/hello/{slot}.sock"}
                    for slot in rel.SLOTS},
        proxy_check={"url": "http://hello.test/health", "connect_to": "127.0.0.1"})
    del args["upstream_file"]
    args.update(extra)
    return args


def fake_nginx(host: Layout) -> None:
    """An nginx on PATH whose configuration test passes."""
    path = os.path.join(host.root, "bin", "nginx")
    host.write(path, "#!/bin/sh\nexit 0\n")
    os.chmod(path, 0o755)


def test_activate_in_check_mode_reports_the_flip_the_legacy_service_and_the_prune(host: Layout) -> None:
    host.add_release("r1", 100)
    host.add_release("bad", 200, failed=True)
    os.makedirs(os.path.join(host.root, "units"))
    host.write(os.path.join(host.root, "units", "hello.service"), "[Service]\n")
    args = activate_args(host, release_dir=os.path.join(host.releases_dir, "r2"), prune="always", keep=0)
    before = sorted(os.listdir(host.releases_dir))
    result = run(args, check_mode=True)
    assert result["changed"] is True and result["plan"]["flip"] is True and result["plan"]["next"] == "blue"
    assert result["flip"]["slot"] == "blue" and result["flip"]["committed"] == {} and result["flip"]["steps"] == []
    assert "start slot blue and check it on its own socket" in result["would"]
    assert f"remove release {host.releases_dir}/bad" in result["would"]
    # r1 is in no slot and not previous once r2 is live: a real run would remove it too (keep 0)
    assert result["prune"] == ["bad", "r1"]
    assert result["legacy_service"] == os.path.join(host.root, "units", "hello.service")
    assert "retire hello.service, the single service of earlier versions" in result["would"]
    assert os.path.exists(result["legacy_service"])
    assert sorted(os.listdir(host.releases_dir)) == before and not os.path.exists(host.state_file)
    assert not any(call[0] != "show" for call in host.systemctl_calls())


def test_activate_without_a_flip_stops_the_stray_slot_puts_nginx_back_and_prunes(host: Layout) -> None:
    fake_nginx(host)
    r1 = host.add_release("r1", 100)
    host.add_release("bad", 200, failed=True)
    host.record("blue", blue="r1")
    host.set_units(blue="active", green="active")
    host.write(host.upstream_file, "server " + host.addresses["blue"] + ";  # edited by hand\n")
    args = activate_args(host, release_dir=r1, fingerprint="fp-r1", prune="always")
    checked = run(args, check_mode=True)
    assert checked["would"][:2] == ["stop slot green first: it runs but serves nothing", "put nginx back on slot blue"]
    assert checked["stopped_first"] == [] and checked["switched_to"] == "" and checked["flip"] == {}

    result = run(args)
    assert result["changed"] is True and result["plan"]["flip"] is False and result["flip"] == {}
    assert result["stopped_first"] == ["green"] and result["switched_to"] == "blue"
    assert ["stop", "hello@green.socket"] in host.systemctl_calls()
    assert ["reload", "nginx"] in host.systemctl_calls()
    assert not any(call[0] in ("stop", "restart") and "blue" in call[-1] for call in host.systemctl_calls())
    assert on_disk(host.upstream_file) == (rel.upstream_line(host.addresses["blue"]) + "\n").encode()
    assert result["prune"] == ["bad"] and sorted(os.listdir(host.releases_dir)) == ["r1"]
    assert result["legacy_service"] == ""


def test_activate_with_prune_flip_keeps_the_releases_without_a_flip(host: Layout) -> None:
    r1 = host.add_release("r1", 100)
    host.add_release("bad", 200, failed=True)
    host.record("blue", blue="r1")
    host.set_units(blue="active")
    host.serve("blue")
    result = run(activate_args(host, release_dir=r1, fingerprint="fp-r1", prune="flip"))
    assert result["changed"] is False and result["prune"] == [] and "bad" in os.listdir(host.releases_dir)


@pytest.mark.parametrize("extra, message", [
    ({"exec_start": None}, "action=activate needs exec_start"),
    ({"slot_check": {"blue": {"url": "x"}, "green": {}}}, "slot_check needs a url"),
    ({"link": "/run/hello/hello.sock"}, "link needs tmpfiles and slot_sockets of both slots"),
    ({"release_dir": None}, "action=activate needs release_dir"),
])
def test_activate_bad_arguments(host: Layout, extra: dict[str, t.Any], message: str) -> None:
    args = activate_args(host, release_dir=os.path.join(host.releases_dir, "r1"))
    args.update(extra)
    args = {key: value for key, value in args.items() if value is not None}
    assert message in run_failing(args, check_mode=True)["msg"]


def test_activate_names_the_upstream_by_site(host: Layout) -> None:
    args = activate_args(host, release_dir=os.path.join(host.releases_dir, "r1"), upstream_file=host.upstream_file)
    del args["site"]
    assert "by site, not upstream_file" in run_failing(args, check_mode=True)["msg"]


# --- documentation ----------------------------------------------------------------------------------

def test_documentation_matches_the_argument_spec() -> None:
    from ansible_collections.flaskops.deploy.plugins.doc_fragments.layout import ModuleDocFragment as layout_fragment

    documentation = yaml.safe_load(release.DOCUMENTATION)
    assert documentation["module"] == "release"
    for option, spec in documentation["options"].items():
        assert spec["description"], option
        assert spec["type"], option
    for key, spec in yaml.safe_load(release.RETURN).items():
        assert spec["returned"], key
        assert spec["type"], key
    # The options of the fragments it extends: ansible.builtin.files, and the layout (plugins/doc_fragments/layout.py).
    options = set(documentation["options"]) | set(yaml.safe_load(layout_fragment.DOCUMENTATION)["options"]) | {
        "mode", "owner", "group", "seuser", "serole", "setype", "selevel", "unsafe_writes", "attributes"}
    assert "flaskops.deploy.layout" in documentation["extends_documentation_fragment"]
    used = 0
    for task in yaml.safe_load(release.EXAMPLES):
        assert task.get("name")
        if "flaskops.deploy.release" in task:
            used += 1
            assert set(task["flaskops.deploy.release"]) <= options, task["name"]
    assert used >= 3


def test_pending_changes_make_check_mode_report_the_flip_a_real_run_would_do(host: Layout) -> None:
    """A check-mode run does not write the environment or the units: pending_changes stands for their new sums."""
    r1 = host.add_release("r1", 100)
    host.record("blue", blue="r1")
    host.set_units(blue="active")
    host.serve("blue")
    args = host.args(release_dir=r1, server="gunicorn", runtime_files=[host.env_file])
    record = host.read_record()
    record["slots"]["blue"]["fingerprint"] = run(args)["plan"]["fingerprint"]
    host.write(host.state_file, json.dumps(record))

    assert run(args, check_mode=True)["plan"]["flip"] is False
    pending = run(dict(args, pending_changes=True), check_mode=True)["plan"]
    assert pending["flip"] is True and pending["next"] == "green"
    assert pending["reason"] == "what slot blue runs differs (release, server, configuration or units)"
    # Outside check mode the files on the host are read: nothing changed, nothing flips.
    assert run(dict(args, pending_changes=True))["plan"]["flip"] is False


ROLLBACK_APP = '''
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

app = Flask(__name__)
app.config.update(SESSION_COOKIE_SAMESITE="Lax", MAX_CONTENT_LENGTH=1024, PREFERRED_URL_SCHEME="https")
app.config.from_prefixed_env("FLASK")
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
'''
ROLLBACK_SECRET = "9c2b7a4e0f3d6c9b2a5e8f1d4c7b0a3e6f9d6f1d8c3b9a2e4f7d0c5b8a1e3f6d"
ROLLBACK_ENV = 'FLASK_SECRET_KEY="%s"\nFLASK_SESSION_COOKIE_SECURE=true\n' % ROLLBACK_SECRET


@pytest.mark.skipif(os.getuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_a_rollback_checks_the_configuration_of_its_release_before_any_slot_starts(host: Layout) -> None:
    """config_check: the release to go back to is imported with the slots' environment as the app user; a refusal
    fails before anything changes, and without a flip there is nothing to check."""
    pytest.importorskip("flask")
    import grp
    import pwd
    r1 = host.add_release("r1", 100)
    host.add_release("r2", 200)
    os.makedirs(os.path.join(r1, ".venv", "bin"))
    host.write(os.path.join(r1, ".venv", "bin", "python"), '#!/bin/sh\nexec %s "$@"\n' % sys.executable)
    os.chmod(os.path.join(r1, ".venv", "bin", "python"), 0o755)
    host.write(os.path.join(r1, "wsgi.py"), ROLLBACK_APP)
    host.record("green", previous=r1, blue="r1", green="r2")
    host.serve("green")
    host.set_units(green="active", blue="inactive")
    host.write(host.env_file, ROLLBACK_ENV)
    check = {"env_file": host.env_file, "user": pwd.getpwuid(os.getuid()).pw_name,
             "group": grp.getgrgid(os.getgid()).gr_name,
             "config": {"app": "wsgi:app", "hints": {"debug-enabled": "Remove FLASK_DEBUG from app_env."}}}
    args = activate_args(host, release_from="rollback", config_check=check)
    state_before = on_disk(host.state_file)

    planned = run(args, check_mode=True)
    assert planned["plan"]["release"] == "r1" and planned["plan"]["flip"] is True
    assert planned["config"]["valid"] is True and planned["config"]["facts"]["secret_key_length"] == 64
    assert planned["config"]["duration"] >= 0 and planned["finding_lines"] == []
    assert ROLLBACK_SECRET not in json.dumps(planned)

    host.write(host.env_file, ROLLBACK_ENV + "FLASK_DEBUG=true\n")
    for check_mode in (True, False):
        refused = run_failing(args, check_mode=check_mode)
        assert refused["msg"].startswith("Release r1 was not activated: refused by the Flask configuration check.")
        assert "the live release keeps serving." in refused["msg"] and "Remove FLASK_DEBUG" in refused["msg"]
        assert [finding["id"] for finding in refused["config"]["findings"]] == ["debug-enabled"]
        assert ROLLBACK_SECRET not in json.dumps(refused)
    assert not any(call[0] != "show" for call in host.systemctl_calls())
    assert on_disk(host.state_file) == state_before

    # Going back to the release that is live already: no flip, so no check (the debug setting would refuse it).
    same = run(dict(args, rollback_to="r2", fingerprint="fp-r2"), check_mode=True)
    assert same["plan"]["flip"] is False and same["config"] == {}

    unknown = run_failing(dict(args, config_check=dict(check, config={"app": "wsgi:app", "skip_rules": ["nope"]})),
                          check_mode=True)
    assert "unknown rules: nope" in unknown["msg"]
