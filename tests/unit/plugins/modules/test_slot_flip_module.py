# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of flaskops.deploy.slot_flip's arguments, check mode and host side effects on files in tmp_path (the flip
itself runs on a simulated host in tests/unit/plugins/module_utils/test_flip.py)."""

from __future__ import annotations

import grp
import os
import pwd
import typing as t

import pytest
import yaml

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flaskops.deploy.plugins.module_utils import _release as rel
from ansible_collections.flaskops.deploy.plugins.modules import slot_flip
from ansible_collections.flaskops.deploy.tests.unit.plugins.modules.utils import (
    run_module,
    run_module_failing,
    set_module_args,
)

ADDRESSES = {"blue": "unix:/run/hello/blue.sock", "green": "unix:/run/hello/green.sock"}


def args(**extra: t.Any) -> dict[str, t.Any]:
    state = rel.read_state(None, None, {}, ADDRESSES)
    plan = rel.plan(state, "/srv/hello/releases/1", "fp")
    base = {
        "app_name": "hello", "plan": plan, "state": state, "release_dir": "/srv/hello/releases/1",
        "server": "gunicorn", "exec_start": "/srv/hello/releases/1/.venv/bin/gunicorn", "group": "hello",
        "config_dir": "/etc/hello", "config_files": ["env"], "slots_dir": "/etc/hello/slots", "app_root": "/srv/hello",
        "state_file": "/etc/hello/slots/state.json", "site": "hello", "slot_addresses": ADDRESSES,
        "slot_check": {"url": "http://hello.test/health", "unix_socket": "/run/hello/blue.sock"},
        "proxy_check": {"url": "http://hello.test/health", "connect_to": "127.0.0.1"},
    }
    base.update(extra)
    return base


def test_check_mode_reports_the_flip_and_changes_nothing() -> None:
    result = run_module(slot_flip.main, args(), check_mode=True)
    assert result["changed"] is True and result["slot"] == "blue" and result["steps"] == []
    assert result["reason"] == "first deploy: no slot is live"
    assert "start slot blue and check it on its own socket" in result["would"]


@pytest.mark.parametrize("extra, message", [
    ({"proxy_check": {"url": "x", "retry": 3}}, "proxy_check: retry. Supported parameters include"),
    ({"slot_addresses": {"blue": "a"}}, "slot_addresses lacks green"),
    ({"link": "/run/hello/hello.sock"}, "link needs tmpfiles and slot_sockets of both slots"),
    ({"plan": {"next": "", "old": "", "live": "blue", "reason": "", "reset_failed": [], "previous_release_dir": "",
               "fingerprint": ""}}, "the plan does not flip"),
])
def test_bad_arguments(extra: dict[str, t.Any], message: str) -> None:
    assert message in run_module_failing(slot_flip.main, args(**extra), check_mode=True)["msg"]


def test_documentation_and_examples() -> None:
    documentation = yaml.safe_load(slot_flip.DOCUMENTATION)
    assert documentation["module"] == "slot_flip"
    options = set(documentation["options"])
    for task in yaml.safe_load(slot_flip.EXAMPLES):
        assert set(task.get("flaskops.deploy.slot_flip", {})) <= options
    returns = yaml.safe_load(slot_flip.RETURN)
    assert {"slot", "old_slot", "steps", "drain_pids", "proxy_check"} <= set(returns)


def test_host_writes_files_and_links_atomically(tmp_path: t.Any) -> None:
    with set_module_args({}):
        module = AnsibleModule(argument_spec={})
    host = slot_flip.ModuleHost(module, str(tmp_path))
    user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    path = str(tmp_path / "slots" / "blue")
    assert host.ensure_directory(path, user, group, 0o750) is True
    assert host.ensure_directory(path, user, group, 0o750) is False
    target = os.path.join(path, "env")
    assert host.write_file(target, "A=1\n", user, group, 0o640) is True
    assert host.write_file(target, "A=1\n", user, group, 0o640) is False
    assert oct(os.stat(target).st_mode & 0o777) == "0o640"
    link = str(tmp_path / "current")
    assert host.symlink(link, "/srv/hello/releases/1") is True
    assert host.symlink(link, "/srv/hello/releases/1") is False
    assert host.symlink(link, "/srv/hello/releases/2") is True and os.readlink(link) == "/srv/hello/releases/2"
    assert host.remove_file(link) is True and host.remove_file(link) is False
    assert host.wait_gone(["999999999"], 5) is True


def test_nginx_workers_are_read_from_their_title(tmp_path: t.Any) -> None:
    from ansible_collections.flaskops.deploy.plugins.module_utils import _flip_host
    for pid, title in (("10", b"nginx: master process /usr/sbin/nginx\0"), ("11", b"nginx: worker process\0\0"),
                       ("12", b"nginx: worker process"), ("13", b"/usr/bin/python3\0-m\0nginx: worker process"),
                       ("15", b"nginx: worker process is shutting down\0\0")):
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "cmdline").write_bytes(title)
    (tmp_path / "14").mkdir()  # a process gone between the listing and the read
    (tmp_path / "self").mkdir()
    assert _flip_host.nginx_workers(str(tmp_path)) == {"11", "12"}


def test_a_switch_waits_for_a_worker_of_the_new_configuration() -> None:
    from ansible_collections.flaskops.deploy.plugins.module_utils import _flip_host
    now = [0.0]
    # New workers start, then the old ones shut down (their title changes, or they are gone).
    seen = iter([{"1", "2"}, {"1", "2", "7"}, {"2", "7"}, {"7", "8"}])
    slept = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    assert _flip_host.wait_new_workers(["1", "2"], workers=lambda: next(seen), clock=lambda: now[0], sleep=sleep)
    assert slept == [0.01, 0.01, 0.01]
    # No new worker within the timeout: given up (the checks through nginx retry), after about the timeout.
    now[0], slept[:] = 0.0, []
    assert not _flip_host.wait_new_workers(["1"], timeout=0.1, workers=lambda: {"1"}, clock=lambda: now[0], sleep=sleep)
    assert 0.1 <= now[0] <= 0.12
    # No worker before the reload: nothing to wait for.
    assert not _flip_host.wait_new_workers([], workers=lambda: pytest.fail("not asked"))
