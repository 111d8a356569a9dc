# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.flaskops.deploy.plugins.module_utils import _host_layout as host_layout

OPTIONS = {"app_name": None, "marker": ".flaskops-release", "slot_format": 1, "manifest": None}
KEYS = {"manifest": "processes_manifest"}


def test_an_option_of_the_call_wins_over_the_layout_which_wins_over_the_default():
    params = {"app_name": "other", "marker": None, "slot_format": None, "manifest": None, "action": "plan"}
    layout = {"app_name": "hello", "marker": ".done", "processes_manifest": "/etc/hello/slots/processes.json",
              "tmpfiles": "/etc/tmpfiles.d/flaskops-hello.conf"}
    merged, problems = host_layout.merge(params, layout, OPTIONS, KEYS)
    assert problems == []
    assert merged == {"app_name": "other", "marker": ".done", "slot_format": 1,
                      "manifest": "/etc/hello/slots/processes.json", "action": "plan"}


def test_without_a_layout_the_defaults_apply():
    merged, problems = host_layout.merge({"app_name": None, "marker": None, "slot_format": None, "manifest": None},
                                         None, OPTIONS, KEYS)
    assert problems == []
    assert merged == {"app_name": None, "marker": ".flaskops-release", "slot_format": 1, "manifest": None}


def test_a_key_set_to_none_counts_as_absent():
    merged, dummy = host_layout.merge({"marker": None}, {"marker": None}, {"marker": ".flaskops-release"})
    assert merged == {"marker": ".flaskops-release"}


def test_values_are_converted_to_the_option_type():
    merged, problems = host_layout.merge({"slot_format": None}, {"slot_format": "2"}, {"slot_format": 1})
    assert problems == [] and merged["slot_format"] == 2


def test_a_wrong_type_and_an_unknown_key_are_problems():
    dummy, problems = host_layout.merge({"slot_format": None}, {"slot_format": "two", "state_fil": "/x"}, {"slot_format": 1})
    assert problems[0].startswith("layout has unknown keys: state_fil (known: ")
    assert len(problems) == 2 and "slot_format" in problems[1]


def test_missing_names_the_empty_ones():
    assert host_layout.missing({"a": None, "b": "", "c": "x", "d": 0}, ["a", "b", "c", "d", "e"]) == ["a", "b", "e"]


def test_an_option_as_the_module_will_see_it():
    assert host_layout.option({"source_type": "git", "layout": {"source_type": "archive"}}, "source_type", "path") == "git"
    assert host_layout.option({"source_type": None, "layout": {"source_type": "archive"}}, "source_type", "path") == "archive"
    assert host_layout.option({"layout": {"source_type": None}}, "source_type", "path") == "path"
    assert host_layout.option({}, "source_type", "path") == "path"
