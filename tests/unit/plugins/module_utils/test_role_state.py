# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of module_utils/_role_state.py: when a role has nothing to do, and every reason it must run in full."""

from __future__ import annotations

import json

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _role_state as rs

INPUTS = {"nginx_site_name": "hello", "nginx_server_names": ["hello.example.com"], "nginx_tls_profile": "intermediate"}
FACTS = {"distribution_release": "bookworm"}
SITE = "/etc/nginx/sites-available/hello"
DEFAULT = "/etc/nginx/sites-enabled/default"


def wanted(inputs=None, content="c1", version="1.0.0", facts=None):
    return rs.fingerprint(INPUTS if inputs is None else inputs, content, version, FACTS if facts is None else facts)


def stamp_text(fp=None):
    stamp = rs.build_stamp(fp or wanted(), {SITE: "aaa"}, [DEFAULT], ["nginx.service"], ["nginx"])
    return rs.canonical(stamp) + "\n"


def healthy():
    return {
        "files": {SITE: "aaa", DEFAULT: rs.ABSENT},
        "units": {"nginx.service": {"active": True, "enabled": True}},
        "packages": {"nginx": True},
    }


def test_unchanged_has_nothing_to_do():
    assert rs.reasons(stamp_text(), wanted(), healthy()) == []


def test_input_changed_names_the_input():
    changed = dict(INPUTS, nginx_tls_profile="modern")
    assert rs.reasons(stamp_text(), wanted(inputs=changed), healthy()) == ["input changed: nginx_tls_profile"]


def test_input_added_or_removed_counts():
    more = dict(INPUTS, nginx_hsts_max_age=1)
    assert rs.reasons(stamp_text(), wanted(inputs=more), healthy()) == ["input changed: nginx_hsts_max_age"]


def test_inputs_are_hashed_not_kept():
    fp = wanted(inputs={"app_secret_key": "s3cr3t-value"})
    assert "s3cr3t-value" not in json.dumps(fp)
    assert len(fp["inputs"]["app_secret_key"]) == 16


def test_equal_values_give_equal_digests_whatever_the_key_order():
    assert rs.digest({"a": 1, "b": [1, 2]}) == rs.digest({"b": [1, 2], "a": 1})
    assert rs.digest([1, 2]) != rs.digest([2, 1])


def test_file_drifted():
    observed = healthy()
    observed["files"][SITE] = "bbb"
    assert rs.reasons(stamp_text(), wanted(), observed) == ["file changed: %s" % SITE]


def test_file_removed():
    observed = healthy()
    del observed["files"][SITE]
    assert rs.reasons(stamp_text(), wanted(), observed) == ["file missing: %s" % SITE]


def test_path_that_must_stay_absent_came_back():
    observed = healthy()
    observed["files"][DEFAULT] = "ccc"
    assert rs.reasons(stamp_text(), wanted(), observed) == ["file present: %s" % DEFAULT]


def test_unit_stopped():
    observed = healthy()
    observed["units"]["nginx.service"] = {"active": False, "enabled": True}
    assert rs.reasons(stamp_text(), wanted(), observed) == ["unit not active: nginx.service"]


def test_unit_disabled_or_unknown():
    observed = healthy()
    observed["units"] = {}
    assert rs.reasons(stamp_text(), wanted(), observed) == [
        "unit not active: nginx.service", "unit not enabled: nginx.service"]


def test_package_removed():
    observed = healthy()
    observed["packages"] = {"nginx": False}
    assert rs.reasons(stamp_text(), wanted(), observed) == ["package not installed: nginx"]


def test_missing_stamp():
    assert rs.reasons(None, wanted(), healthy()) == ["no stamp (first run, or the last full run did not finish)"]


@pytest.mark.parametrize("text", ["", "{not json", "[]", '{"format": 99}', '{"format": 1, "fingerprint": {}}',
                                  '{"format": 1, "fingerprint": {"inputs": {}, "facts": {}}, "files": []}',
                                  "unreadable: [Errno 13] Permission denied"])
def test_corrupt_stamp(text):
    found = rs.reasons(text, wanted(), healthy())
    assert len(found) == 1 and found[0].startswith("stamp unreadable")


def test_role_content_changed():
    assert rs.reasons(stamp_text(), wanted(content="c2"), healthy()) == ["role content changed"]


def test_collection_upgraded():
    assert rs.reasons(stamp_text(), wanted(version="1.1.0"), healthy()) == ["collection version 1.0.0 -> 1.1.0"]


def test_host_fact_changed():
    found = rs.reasons(stamp_text(), wanted(facts={"distribution_release": "trixie"}), healthy())
    assert found == ["host fact changed: distribution_release"]


def test_a_fact_the_play_did_not_gather_is_not_compared():
    assert rs.reasons(stamp_text(), wanted(facts={"distribution_release": None}), healthy()) == []
    recorded_without = rs.canonical(rs.build_stamp(wanted(facts={"distribution_release": None}), {SITE: "aaa"}, [DEFAULT],
                                                   ["nginx.service"], ["nginx"]))
    assert rs.reasons(recorded_without, wanted(), healthy()) == ["host fact changed: distribution_release"]


def test_force_runs_in_full_even_when_unchanged():
    assert rs.reasons(stamp_text(), wanted(), healthy(), force=True) == ["forced (flaskops_full_converge, or the role's own rule)"]


def test_every_reason_is_listed():
    observed = healthy()
    observed["files"][SITE] = "bbb"
    observed["units"]["nginx.service"]["active"] = False
    found = rs.reasons(stamp_text(), wanted(version="2.0.0", content="c9"), observed)
    assert found == ["collection version 1.0.0 -> 2.0.0", "role content changed", "file changed: %s" % SITE,
                     "unit not active: nginx.service"]


def test_stamp_round_trip_and_watched_paths():
    text = stamp_text()
    assert rs.parse_stamp(text)["fingerprint"] == wanted()
    assert rs.watched(text) == {"files": sorted([SITE, DEFAULT]), "units": ["nginx.service"], "packages": ["nginx"]}
    assert rs.watched(None) == {"files": [], "units": [], "packages": []}
    assert rs.watched("garbage") == {"files": [], "units": [], "packages": []}


def test_stamp_text_is_stable():
    assert stamp_text() == stamp_text()


@pytest.mark.parametrize("role,scope,name", [("nginx", "", "nginx.json"), ("nginx", "hello", "nginx.hello.json"),
                                             ("systemd", "hello@.service", "systemd.hello@.service.json")])
def test_stamp_name(role, scope, name):
    assert rs.stamp_name(role, scope) == name


@pytest.mark.parametrize("role,scope", [("../etc", ""), ("nginx", "a/b"), ("", ""), ("nginx", ".hidden")])
def test_stamp_name_refuses_paths(role, scope):
    with pytest.raises(ValueError):
        rs.stamp_name(role, scope)


def test_parse_systemctl_show():
    text = ("Id=nginx.service\nActiveState=active\nUnitFileState=enabled\n\n"
            "Id=hello@blue.service\nActiveState=inactive\nUnitFileState=disabled\n\n"
            "Id=certbot.timer\nActiveState=active\nUnitFileState=enabled-runtime\n")
    assert rs.parse_systemctl_show(text) == {
        "nginx.service": {"active": True, "enabled": True},
        "hello@blue.service": {"active": False, "enabled": False},
        "certbot.timer": {"active": True, "enabled": True},
    }


def test_parse_dpkg_status():
    text = "nginx installed\nopenssl:amd64 installed\ncertbot not-installed\n"
    assert rs.parse_dpkg_status(text) == {"nginx": True, "openssl": True, "certbot": False}


WANTED = {"inputs": {"nginx_site_name": "abc"}, "content": "c", "version": "1.0.0", "facts": {}}
STAMP = "/var/lib/flaskops/state/nginx.json"


def preflight(**answer):
    entry = {"role": "nginx", "stale": True, "reasons": ["no stamp"], "stamp": STAMP, "fingerprint": WANTED}
    entry.update(answer)
    return {"changed": False, "stale": True, "roles": [
        {"role": "app", "stale": True, "stamp": "/var/lib/flaskops/state/app.json", "fingerprint": WANTED}, entry]}


def test_preflight_answer_reuses_a_stale_answer_for_the_same_query():
    answer = rs.preflight_answer(preflight(), "nginx", STAMP, dict(WANTED))
    assert answer == {"changed": False, "stale": True, "stamp": STAMP, "fingerprint": WANTED, "reasons": ["no stamp"],
                      "preflight": True}


@pytest.mark.parametrize("answer, role, stamp, wanted", [
    ({"stale": False, "reasons": []}, "nginx", STAMP, WANTED),  # fresh: an earlier role may change the host
    ({}, "nginx", STAMP, dict(WANTED, content="other")),  # the role's own variables differ from the play's
    ({}, "nginx", "/var/lib/flaskops/state/nginx.tools.json", WANTED),  # another scope
    ({}, "certbot", STAMP, WANTED),  # the preflight did not ask about this role
])
def test_preflight_answer_asks_the_host_otherwise(answer, role, stamp, wanted):
    assert rs.preflight_answer(preflight(**answer), role, stamp, wanted) is None


def test_preflight_answer_reuses_a_fresh_answer_only_while_no_role_was_found_stale():
    fresh = preflight(stale=False, reasons=[])
    assert rs.preflight_answer(fresh, "nginx", STAMP, dict(WANTED), reuse_fresh=True) == {
        "changed": False, "stale": False, "stamp": STAMP, "fingerprint": WANTED, "reasons": [], "preflight": True}
    assert rs.preflight_answer(fresh, "nginx", STAMP, WANTED, reuse_fresh=False) is None
    # Never for another fingerprint or stamp, and a stale answer stays stale either way.
    assert rs.preflight_answer(fresh, "nginx", STAMP, dict(WANTED, content="other"), reuse_fresh=True) is None
    assert rs.preflight_answer(fresh, "nginx", STAMP + ".x", WANTED, reuse_fresh=True) is None
    assert rs.preflight_answer(preflight(), "nginx", STAMP, WANTED, reuse_fresh=True)["stale"] is True
    assert rs.preflight_answer(preflight(stale=None), "nginx", STAMP, WANTED, reuse_fresh=True) is None


@pytest.mark.parametrize("registered", [None, {}, {"roles": []}, {"skipped": True}, {"roles": ["x"]},
                                        dict(preflight(), failed=True), dict(preflight(), skipped=True)])
def test_preflight_answer_without_a_preflight(registered):
    assert rs.preflight_answer(registered, "nginx", STAMP, WANTED) is None


RUN = rs.run_marker(1234, "99")
RECORD = {"role": "nginx", "scope": "hello", "path": "/s", "stamp": "/s/nginx.hello.json", "fingerprint": {"content": "c"},
          "files": [SITE], "absent": [], "units": [], "packages": []}


def test_run_marker_differs_between_runs():
    assert rs.run_marker(1234, "99") == RUN != rs.run_marker(1234, "100")


def test_pending_records_wait_for_the_commit_handler_of_every_role():
    fact = rs.pending_add(None, RUN, RECORD)
    fact = rs.pending_add(fact, RUN, dict(RECORD, role="certbot", scope="", stamp="/s/certbot.json"))
    fact, ready = rs.pending_done(fact, RUN, "certbot")
    assert ready == [] and [r["done"] for r in fact["records"]] == [False, True]
    fact, ready = rs.pending_done(fact, RUN, "nginx")
    assert fact == {"run": RUN, "records": []}
    assert [r["role"] for r in ready] == ["nginx", "certbot"]
    assert set(ready[0]) == set(rs.RECORD_KEYS)
    assert rs.pending_done(fact, RUN, "nginx") == ({"run": RUN, "records": []}, [])


def test_a_record_replaces_the_pending_one_of_the_same_stamp():
    fact = rs.pending_add(None, RUN, RECORD)
    fact = rs.pending_add(fact, RUN, dict(RECORD, fingerprint={"content": "d"}))
    assert [r["fingerprint"] for r in fact["records"]] == [{"content": "d"}]


@pytest.mark.parametrize("fact", [None, "x", {"run": "other", "records": [RECORD]}, {"run": RUN, "records": "x"}])
def test_the_records_of_another_run_or_a_malformed_fact_are_ignored(fact):
    assert rs.pending_records(fact, RUN) == []
    assert rs.pending_done(fact, RUN, "nginx") == ({"run": RUN, "records": []}, [])


def test_pending_answer_for_a_role_this_run_converged():
    fact = rs.pending_add(None, RUN, RECORD)
    answer = rs.pending_answer(fact, RUN, "/s/nginx.hello.json", {"content": "c"})
    assert answer["stale"] is False and answer["pending"] is True
    assert rs.pending_answer(fact, RUN, "/s/nginx.hello.json", {"content": "d"}) is None
    assert rs.pending_answer(fact, "other", "/s/nginx.hello.json", {"content": "c"}) is None


def test_prefetched_answers_are_taken_for_the_same_run_stamp_and_fingerprint():
    answer = {"role": "nginx", "stale": False, "reasons": [], "stamp": STAMP, "fingerprint": WANTED}
    fact = rs.prefetch_add(None, "run1", [answer])
    assert rs.prefetched_answer(fact, "run1", STAMP, dict(WANTED)) == {
        "changed": False, "stale": False, "stamp": STAMP, "fingerprint": WANTED, "reasons": [], "prefetched": True}
    assert rs.prefetched_answer(fact, "run2", STAMP, WANTED) is None  # another run (a persistent fact cache)
    assert rs.prefetched_answer(fact, "run1", STAMP + ".x", WANTED) is None
    assert rs.prefetched_answer(fact, "run1", STAMP, dict(WANTED, content="other")) is None
    assert rs.prefetched_answer(None, "run1", STAMP, WANTED) is None
    # A later prefetch of the same stamp replaces the answer; other stamps stay.
    other = dict(answer, stamp=STAMP + ".other")
    stale = dict(answer, stale=True, reasons=["inputs changed"])
    fact = rs.prefetch_add(rs.prefetch_add(fact, "run1", [other]), "run1", [stale])
    assert [a["stamp"] for a in fact["answers"]] == [STAMP + ".other", STAMP]
    assert rs.prefetched_answer(fact, "run1", STAMP, WANTED)["stale"] is True
    # A fact of another run is dropped.
    assert rs.prefetch_add(fact, "run2", [])["answers"] == []


def test_absent_answer_is_stale_for_a_stamp_the_preflight_did_not_find():
    preflight = {"stamp_dir": "/var/lib/flaskops/state", "present_stamps": ["nginx.json"], "roles": []}
    answer = rs.absent_answer(preflight, "systemd", "/var/lib/flaskops/state/systemd.json", {"inputs": "x"})
    assert answer == {"role": "systemd", "stale": True, "reasons": rs.reasons(None, {"inputs": "x"}),
                      "stamp": "/var/lib/flaskops/state/systemd.json", "fingerprint": {"inputs": "x"}}
    forced = rs.absent_answer(preflight, "systemd", "/var/lib/flaskops/state/systemd.json", {}, force=True)
    assert forced["reasons"] == rs.reasons(None, {}, force=True) and len(forced["reasons"]) == 2


@pytest.mark.parametrize("preflight, stamp", [
    ({"stamp_dir": "/var/lib/flaskops/state", "present_stamps": ["nginx.json"]}, "/var/lib/flaskops/state/nginx.json"),
    ({"stamp_dir": "/var/lib/flaskops/state", "present_stamps": []}, "/srv/other/state/nginx.json"),
    ({"stamp_dir": "/var/lib/flaskops/state/", "present_stamps": ["nginx.json"]}, "/var/lib/flaskops/state/nginx.json"),
    ({"present_stamps": []}, "/var/lib/flaskops/state/nginx.json"),
    ({"stamp_dir": "/var/lib/flaskops/state"}, "/var/lib/flaskops/state/nginx.json"),
    ({"stamp_dir": "/var/lib/flaskops/state", "present_stamps": [], "failed": True}, "/var/lib/flaskops/state/x.json"),
    ({"stamp_dir": "/var/lib/flaskops/state", "present_stamps": [], "skipped": True}, "/var/lib/flaskops/state/x.json"),
    (None, "/var/lib/flaskops/state/nginx.json"),
])
def test_absent_answer_asks_the_host_otherwise(preflight, stamp):
    assert rs.absent_answer(preflight, "nginx", stamp, {}) is None
