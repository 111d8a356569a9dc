# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of flaskops.deploy.role_state (the host side) in tmp_path: query, record, commit, and check mode."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _role_state as rs
from ansible_collections.flaskops.deploy.plugins.modules import role_state
from ansible_collections.flaskops.deploy.tests.unit.plugins.modules.utils import run_module, run_module_failing

FINGERPRINT = rs.fingerprint({"nginx_site_name": "hello"}, "c1", "1.0.0", {})


@pytest.fixture()
def host(tmp_path):
    owned = tmp_path / "site.conf"
    owned.write_text("server {}\n")
    return {"dir": str(tmp_path / "state"), "owned": str(owned), "gone": str(tmp_path / "default")}


def args(host, **extra):
    base = {"role": "nginx", "scope": "hello", "path": host["dir"], "fingerprint": FINGERPRINT}
    base.update(extra)
    return base


def record(host, check_mode=False, **extra):
    return run_module(role_state.main, args(host, state="record", files=[host["owned"]], absent=[host["gone"]], **extra),
                      check_mode=check_mode)


def commit(host, check_mode=False):
    return run_module(role_state.main, {"state": "commit", "role": "nginx", "path": host["dir"]}, check_mode=check_mode)


def query(host, check_mode=False, **extra):
    return run_module(role_state.main, args(host, **extra), check_mode=check_mode)


def test_first_run_is_stale_and_a_committed_record_makes_the_next_one_fresh(host):
    assert query(host)["stale"] is True
    recorded = record(host)
    assert recorded["changed"] is True
    assert query(host)["reasons"] == ["no stamp (first run, or the last full run did not finish)"]  # not committed
    assert commit(host)["committed"] == [os.path.join(host["dir"], "nginx.hello.json")]
    result = query(host)
    assert result == {**result, "changed": False, "stale": False, "reasons": []}


def test_the_stamp_is_readable_by_root_only(host):
    record(host)
    commit(host)
    mode = stat.S_IMODE(os.stat(os.path.join(host["dir"], "nginx.hello.json")).st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(host["dir"]).st_mode) == 0o700


def test_record_without_defer_writes_in_place(host):
    assert record(host, defer=False)["changed"] is True
    assert query(host)["stale"] is False


def test_recording_the_same_state_changes_nothing(host):
    record(host, defer=False)
    assert record(host, defer=False)["changed"] is False
    assert record(host)["changed"] is False
    assert commit(host)["committed"] == []


def test_a_drifted_file_and_a_path_back_make_it_stale(host):
    record(host, defer=False)
    with open(host["owned"], "a") as handle:
        handle.write("# by hand\n")
    with open(host["gone"], "w") as handle:
        handle.write("x")
    assert query(host)["reasons"] == ["file changed: %s" % host["owned"], "file present: %s" % host["gone"]]


def test_a_changed_input_and_force(host):
    record(host, defer=False)
    other = rs.fingerprint({"nginx_site_name": "other"}, "c1", "1.0.0", {})
    assert query(host, fingerprint=other)["reasons"] == ["input changed: nginx_site_name"]
    assert query(host, force=True)["stale"] is True


def test_a_corrupt_stamp(host):
    record(host, defer=False)
    with open(os.path.join(host["dir"], "nginx.hello.json"), "w") as handle:
        handle.write("{")
    assert query(host)["reasons"][0].startswith("stamp unreadable")


def test_check_mode_writes_nothing(host):
    assert record(host, check_mode=True)["changed"] is True
    assert not os.path.exists(host["dir"])
    record(host)
    assert commit(host, check_mode=True)["changed"] is True
    assert query(host)["stale"] is True
    assert query(host, check_mode=True)["stale"] is True


def test_a_bad_scope_is_named(host):
    result = run_module_failing(role_state.main, args(host, scope="../etc"))
    assert "../etc" in result["msg"]


def test_queries_answer_each_role_in_one_call(host):
    record(host)
    commit(host)
    other = rs.fingerprint({"app_name": "hello"}, "c2", "1.0.0", {})
    result = run_module(role_state.main, {"state": "query", "path": host["dir"], "queries": [
        {"role": "nginx", "scope": "hello", "fingerprint": FINGERPRINT, "force": False},
        {"role": "app", "scope": "", "fingerprint": other, "force": False},
        {"role": "nginx", "scope": "hello", "fingerprint": FINGERPRINT, "force": True}]})
    assert result["stale"] is True and result["changed"] is False
    assert [(a["role"], a["stale"], a["stamp"]) for a in result["roles"]] == [
        ("nginx", False, os.path.join(host["dir"], "nginx.hello.json")),
        ("app", True, os.path.join(host["dir"], "app.json")),
        ("nginx", True, os.path.join(host["dir"], "nginx.hello.json"))]
    assert result["roles"][0]["reasons"] == [] and result["roles"][1]["fingerprint"] == other
    # The files of the state directory come with the answers (the roles' later queries take a missing one as stale).
    assert result["stamp_dir"] == host["dir"] and result["present_stamps"] == ["nginx.hello.json"]
    missing = run_module(role_state.main, {"state": "query", "path": os.path.join(host["dir"], "none"), "queries": [
        {"role": "app", "scope": "", "fingerprint": other, "force": False}]})
    assert missing["present_stamps"] == [] and missing["roles"][0]["stale"] is True


def test_a_query_needs_a_role_and_a_fingerprint(host):
    assert "needs role and fingerprint" in run_module_failing(role_state.main, {"state": "query", "path": host["dir"]})["msg"]


def commit_records(host, check_mode=False, **extra):
    one = {"role": "nginx", "scope": "hello", "path": host["dir"], "fingerprint": FINGERPRINT,
           "files": [host["owned"]], "absent": [host["gone"]], "units": [], "packages": []}
    one.update(extra)
    return run_module(role_state.main, {"state": "commit", "records": [one]}, check_mode=check_mode)


def test_a_commit_of_records_writes_each_stamp_in_place(host):
    assert commit_records(host)["committed"] == [os.path.join(host["dir"], "nginx.hello.json")]
    assert query(host)["stale"] is False
    result = commit_records(host)
    assert result["changed"] is False and result["committed"] == []


def test_a_commit_of_records_drops_an_older_pending_stamp(host):
    record(host, fingerprint=rs.fingerprint({"nginx_site_name": "old"}, "c1", "1.0.0", {}))
    commit_records(host)
    assert not os.path.exists(os.path.join(host["dir"], "nginx.hello.json.pending"))
    assert commit(host)["committed"] == []
    assert query(host)["stale"] is False


def test_a_commit_of_records_in_check_mode_writes_nothing(host):
    assert commit_records(host, check_mode=True)["changed"] is True
    assert not os.path.exists(host["dir"])
