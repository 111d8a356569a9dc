# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the rule table and the pure helpers behind flaskops.deploy.flask_config_validate."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _flask_config as rules
from ansible_collections.flaskops.deploy.plugins.module_utils._flask_facts import config_facts
from ansible_collections.flaskops.deploy.tests.unit.plugins.fixtures import (
    FIXTURE_NAMES,
    fixture_facts,
    fixture_rule_options,
    load_fixture,
)


# --- the fixture corpus ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_triggers_exactly_its_rules(name: str) -> None:
    fixture = load_fixture(name)
    findings = rules.evaluate(fixture_facts(fixture), fixture_rule_options(fixture))
    assert [finding["id"] for finding in findings] == [rule_id for rule_id in rules.RULE_IDS if rule_id in fixture["expect"]]
    assert sorted(finding["id"] for finding in findings) == sorted(fixture["expect"])


def test_every_rule_has_a_bad_fixture() -> None:
    covered = {rule_id for name in FIXTURE_NAMES for rule_id in load_fixture(name)["expect"]}
    # app-import needs an application to import: see the module tests.
    assert set(rules.RULE_IDS) - covered == {"app-import"}


def test_every_bad_fixture_is_named_after_its_rule() -> None:
    for name in FIXTURE_NAMES:
        expect = load_fixture(name)["expect"]
        if name.startswith("production-ok"):
            assert expect == [], name
        elif len(expect) == 1:
            assert name.startswith(expect[0]), name


def test_production_fixture_is_clean_with_every_rule_and_fail_on_warning() -> None:
    fixture = load_fixture("production-ok")
    findings = rules.evaluate(fixture_facts(fixture), fixture_rule_options(fixture))
    assert findings == []
    assert rules.failing(findings, rules.WARNING) == []


# --- the rule table -------------------------------------------------------------------------------

def test_rule_table_is_well_formed() -> None:
    assert len(set(rules.RULE_IDS)) == len(rules.RULE_IDS)
    for rule in rules.RULES:
        assert rule.severity in (rules.ERROR, rules.WARNING)
        assert rule.remediation.endswith(".")
        assert rule.id == rule.id.lower() and " " not in rule.id


def test_finding_shape() -> None:
    facts = config_facts({"DEBUG": True, "SECRET_KEY": "x" * 64})
    finding = rules.evaluate(facts, {"https": False, "behind_proxy": False}, rules=["debug-enabled"])[0]
    assert finding == {
        "id": "debug-enabled",
        "severity": "error",
        "message": "DEBUG is on: the interactive debugger lets anyone who can trigger an error run code on the server",
        "remediation": rules.RULES_BY_ID["debug-enabled"].remediation,
    }


def test_rule_selection() -> None:
    assert [rule.id for rule in rules.selected_rules()] == list(rules.RULE_IDS)
    assert [rule.id for rule in rules.selected_rules(["csrf-disabled", "debug-enabled"])] == ["debug-enabled", "csrf-disabled"]
    assert "sqlite-database" not in [rule.id for rule in rules.selected_rules(skip_rules=["sqlite-database"])]
    assert rules.selected_rules(["debug-enabled"], ["debug-enabled"]) == []
    with pytest.raises(ValueError, match="unknown rule ids: bogus, nope"):
        rules.selected_rules(["nope"], ["bogus"])


def test_import_failure_only_reports_app_import() -> None:
    findings = rules.evaluate({"app_import_error": "ModuleNotFoundError: No module named 'wsgi'"}, {"app": "wsgi:app", "https": True})
    assert findings == [{
        "id": "app-import",
        "severity": "error",
        "message": "the application 'wsgi:app' could not be imported: ModuleNotFoundError: No module named 'wsgi'",
        "remediation": rules.RULES_BY_ID["app-import"].remediation,
    }]
    assert rules.evaluate({"app_import_error": "boom"}, {}, skip_rules=["app-import"]) == []


def test_secret_rules_messages() -> None:
    short = rules.evaluate(config_facts({"SECRET_KEY": "k3J9xqZ7wLm2"}), {}, rules=["secret-key-short"])
    assert short[0]["message"] == "SECRET_KEY is 12 bytes long, shorter than 32 bytes"
    low = rules.evaluate(config_facts({"SECRET_KEY": "a" * 40}), {}, rules=["secret-key-low-entropy"])
    assert low[0]["message"].startswith("SECRET_KEY has 0.00 bits of entropy per character, less than 3.0")


def test_placeholder_hides_short_and_low_entropy() -> None:
    findings = rules.evaluate(config_facts({"SECRET_KEY": "dev"}), {}, rules=["secret-key-placeholder", "secret-key-short", "secret-key-low-entropy"])
    assert [finding["id"] for finding in findings] == ["secret-key-placeholder"]


def test_short_and_low_entropy_together() -> None:
    findings = rules.evaluate(config_facts({"SECRET_KEY": "aaaabbbb"}), {}, rules=["secret-key-short", "secret-key-low-entropy"])
    assert [finding["id"] for finding in findings] == ["secret-key-short", "secret-key-low-entropy"]


def test_proxy_fix_rule() -> None:
    def fired(facts: dict[str, t.Any], behind_proxy: bool = True) -> bool:
        return bool(rules.evaluate(facts, {"behind_proxy": behind_proxy}, rules=["proxy-fix-missing"]))

    assert fired({"proxy_fix": False})
    assert not fired({"proxy_fix": False}, behind_proxy=False)
    assert not fired({"proxy_fix": None})
    assert not fired({"proxy_fix": True, "proxy_fix_x_proto": 1})
    assert not fired({"proxy_fix": True, "proxy_fix_x_proto": None})
    assert fired({"proxy_fix": True, "proxy_fix_x_proto": 0})


def test_max_content_length_rules() -> None:
    def ids(value: int | None, limit: int | None) -> list[str]:
        facts = {"max_content_length": value}
        found = rules.evaluate(facts, {"proxy_body_limit": limit}, rules=["max-content-length-unset", "max-content-length-exceeds-proxy"])
        return [finding["id"] for finding in found]

    assert ids(None, None) == ["max-content-length-unset"]
    assert ids(None, 1024) == ["max-content-length-unset"]
    assert ids(1024, None) == []
    assert ids(1024, 1024) == []
    assert ids(1025, 1024) == ["max-content-length-exceeds-proxy"]


@pytest.mark.parametrize(
    "value, host",
    [
        ("app.example.com", "app.example.com"),
        ("APP.Example.com.", "app.example.com"),
        ("app.example.com:8443", "app.example.com"),
        ("https://app.example.com/", "app.example.com"),
        ("[::1]:443", "[::1]"),
        ("localhost", "localhost"),
    ],
)
def test_host_of(value: str, host: str) -> None:
    assert rules.host_of(value) == host


def test_server_name_rule() -> None:
    def fired(actual: str | None, expected: str | None) -> bool:
        return bool(rules.evaluate({"server_name": actual}, {"server_name": expected}, rules=["server-name-mismatch"]))

    assert fired("www.example.org", "app.example.com")
    assert not fired("app.example.com:443", "APP.example.com")
    assert not fired(None, "app.example.com")
    assert not fired("www.example.org", None)


def test_counts_and_failing() -> None:
    findings = [
        {"id": "a", "severity": "error", "message": "m", "remediation": "r"},
        {"id": "b", "severity": "warning", "message": "m", "remediation": "r"},
    ]
    assert rules.count(findings, rules.ERROR) == 1
    assert rules.count(findings, rules.WARNING) == 1
    assert [finding["id"] for finding in rules.failing(findings, "error")] == ["a"]
    assert [finding["id"] for finding in rules.failing(findings, "warning")] == ["a", "b"]
    assert rules.summary(findings[:1]) == "a (error): m"


# --- environment helpers --------------------------------------------------------------------------

def test_parse_env_file() -> None:
    text = "\n".join([
        "# the service environment",
        "",
        "FLASK_SECRET_KEY=abc123",
        "export FLASK_DEBUG=0",
        "  SPACED = value with spaces   ",
        "SINGLE='literal \\n $HOME # not a comment'",
        'DOUBLE="line\\nbreak \\"quoted\\""',
        "INLINE=value # comment",
        "HASH=value#kept",
        "EMPTY=",
        "EMPTY_QUOTED=''",
        "FLASK_DEBUG=1",
    ])
    assert rules.parse_env_file(text) == {
        "FLASK_SECRET_KEY": "abc123",
        "FLASK_DEBUG": "1",
        "SPACED": "value with spaces",
        "SINGLE": "literal \\n $HOME # not a comment",
        "DOUBLE": 'line\nbreak "quoted"',
        "INLINE": "value",
        "HASH": "value#kept",
        "EMPTY": "",
        "EMPTY_QUOTED": "",
    }


@pytest.mark.parametrize(
    "text, message",
    [
        ("GOOD=1\nthis is not an assignment", "line 2 is not KEY=VALUE"),
        ("1BAD=x", "line 1 is not KEY=VALUE"),
        ("KEY='unterminated", "line 1 has an unterminated ' quote"),
        ('KEY="a" trailing', "line 1 has text after the closing quote"),
    ],
)
def test_parse_env_file_errors_name_the_line_not_the_value(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        rules.parse_env_file(text)
    assert str(error.value) == message


def test_environment_strings_and_names() -> None:
    assert rules.environment_strings({"A": True, "B": False, "C": 3, "D": None, "E": "x"}) == {
        "A": "true", "B": "false", "C": "3", "D": "", "E": "x",
    }
    assert rules.environment_strings(None) == {}
    assert rules.is_env_name("FLASK_SECRET_KEY")
    assert not rules.is_env_name("1ABC")
    assert not rules.is_env_name("A-B")


def test_maskable() -> None:
    assert rules.maskable(["Lax", "/", "0", "12345678", "a-long-secret-value"], 8) == {"12345678", "a-long-secret-value"}


def test_parse_probe_output() -> None:
    marker = "@@m@@"
    assert rules.parse_probe_output("noise\n@@m@@{\"ok\": true}\n", marker) == {"ok": True}
    assert rules.parse_probe_output("@@m@@{\"ok\": false}\nmore\n@@m@@{\"ok\": true}", marker) == {"ok": True}
    assert rules.parse_probe_output("no report", marker) is None
    assert rules.parse_probe_output("@@m@@not json", marker) is None
    assert rules.parse_probe_output("@@m@@[1]", marker) is None


def test_probe_facts_reads_the_report_or_names_why_there_is_none() -> None:
    from ansible_collections.flaskops.deploy.plugins.module_utils._flask_config import probe_facts
    marker = "@@m@@"
    assert probe_facts(marker + '{"ok": true, "facts": {"debug": true}}\n', "", 0, "py", marker) == {"debug": True}
    assert probe_facts(marker + '{"ok": false, "error": "boom"}', "", 1, "py", marker) == {"app_import_error": "boom"}
    assert probe_facts("", "Traceback\nRuntimeError: no db\n\n", 1, "py", marker) == {
        "app_import_error": "RuntimeError: no db"}
    assert probe_facts("", "", 7, "py", marker) == {"app_import_error": "py exited with code 7 and no report"}


def test_check_report_refuses_at_or_above_fail_on() -> None:
    from ansible_collections.flaskops.deploy.plugins.module_utils._flask_config import check_report
    facts = {"debug": True, "secret_key_set": True, "secret_key_length": 64, "secret_key_entropy": 4.0,
             "proxy_fix": True}
    options = {"app": "a:app", "https": False, "behind_proxy": False, "server_name": None, "proxy_body_limit": None}
    report, refusal = check_report(facts, options, ["debug-enabled"], [], "error")
    assert not report["valid"] and report["error_count"] == 1 and report["facts"]["debug"] is True
    assert refusal is not None and refusal.startswith("1 finding at or above error: debug-enabled (error)")
    report, refusal = check_report(facts, options, ["debug-enabled"], ["debug-enabled"], "error")
    assert report["valid"] and refusal is None and report["findings"] == []
    report, refusal = check_report({"app_import_error": "x"}, options, None, [], "error")
    assert report["facts"] == {} and report["proxy_fix"] is None and "app-import" in refusal
