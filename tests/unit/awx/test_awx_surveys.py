"""The AWX surveys (awx/surveys/<playbook>.json) against the rules AWX applies to a survey_spec.

AWX refuses a survey whose spec is not a list of questions each with a known type, a question_name, a unique
variable and a required flag, whose integer/float limits are not numbers, whose multiple-choice default is not one of
its choices; at launch it refuses an answer outside min/max (a text's length, a number's value), so a default out of
range makes a survey that cannot be launched unchanged. These tests hold every survey to those rules offline, and
to the roles: a question for a role option asks for a variable the playbook's roles read, with the argument spec's
type and default, and the limits the role enforces (app_keep_releases at least 2).
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
SURVEYS = ROOT / "awx" / "surveys"
# summary.yml is imported at the end of the other playbooks (their run summary), never run on its own: no job template.
PLAYBOOKS = sorted(p.stem for p in (ROOT / "playbooks").glob("*.yml") if p.stem != "summary")
TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _survey(playbook: str) -> dict:
    return json.loads((SURVEYS / ("%s.json" % playbook)).read_text(encoding="utf-8"))


def _role_options() -> dict[str, dict]:
    """Every role's options (main entry point), by role."""
    options = {}
    for spec in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        options[spec.parts[-3]] = yaml.safe_load(spec.read_text(encoding="utf-8"))["argument_specs"]["main"]["options"]
    return options


def _roles_of(playbook: str) -> set[str]:
    """The roles a playbook runs: the role names its lines (not its comments) mention, in flaskops.deploy.<role> or
    its preflight list; a rolling operation runs the app role with its server."""
    lines = (ROOT / "playbooks" / ("%s.yml" % playbook)).read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    roles = set(re.findall(r"\b[a-z0-9_]+\b", text)) & set(_role_options())
    if "rolling_tasks_from" in text:
        roles |= {"app", "gunicorn", "waitress"}
    return roles


def test_a_survey_for_every_playbook():
    assert sorted(p.stem for p in SURVEYS.glob("*.json")) == PLAYBOOKS
    play = yaml.safe_load((ROOT / "awx" / "configure.yml").read_text(encoding="utf-8"))[0]
    assert sorted(play["vars"]["flaskops_awx_playbooks"]) == PLAYBOOKS


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_survey_follows_awx_survey_spec_rules(playbook):
    survey = _survey(playbook)
    assert isinstance(survey["name"], str) and survey["name"]
    assert isinstance(survey["description"], str)
    assert isinstance(survey["spec"], list) and survey["spec"], "AWX refuses a spec with no question"
    seen = set()
    for q in survey["spec"]:
        where = "%s: %s" % (playbook, q.get("variable"))
        assert q["type"] in TYPES, where
        assert isinstance(q["question_name"], str) and q["question_name"], where
        assert VARIABLE.match(q["variable"]), where
        assert q["variable"] not in seen, "duplicate variable " + where
        seen.add(q["variable"])
        assert isinstance(q["required"], bool), where
        default = q.get("default", "")
        if q["type"] in ("text", "textarea", "password"):
            assert isinstance(q["min"], int) and isinstance(q["max"], int) and 0 <= q["min"] <= q["max"], where
            assert isinstance(default, str), where
            assert default == "" or q["min"] <= len(default) <= q["max"], where
        elif q["type"] in ("integer", "float"):
            number = int if q["type"] == "integer" else (int, float)
            assert isinstance(q["min"], number) and isinstance(q["max"], number) and q["min"] <= q["max"], where
            assert not isinstance(default, bool) and isinstance(default, number), where
            assert q["min"] <= default <= q["max"], "default out of range " + where
        else:
            choices = q["choices"]
            assert isinstance(choices, list) and choices and len(set(choices)) == len(choices), where
            assert all(isinstance(c, str) and c for c in choices), where
            assert default in choices or (default == "" and not q["required"]), where
        if q["required"] and q["type"] != "password":
            assert default != "" or q["type"] in ("text", "textarea"), where


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_survey_asks_only_for_what_the_playbook_reads(playbook):
    """A role option belongs to a role the playbook runs, with the spec's default; a play variable is in the playbook."""
    options = _role_options()
    roles = _roles_of(playbook)
    played = (ROOT / "playbooks" / ("%s.yml" % playbook)).read_text(encoding="utf-8") + "".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "playbooks" / "tasks").glob("*.yml"))
    for q in _survey(playbook)["spec"]:
        owners = [role for role in roles if q["variable"] in options[role]]
        if owners:
            spec = options[owners[0]][q["variable"]]
            default = spec.get("default")
            if q["type"] == "multiplechoice":
                default = str(default).lower() if isinstance(default, bool) else str(default)
            assert q["default"] == ("" if default is None else default), (playbook, q["variable"])
        else:
            assert q["variable"].startswith("flaskops_") and q["variable"] in played, (playbook, q["variable"], roles)


def test_keep_releases_cannot_go_below_two():
    """The roles refuse fewer than 2 releases (the live one and one to roll back to); the surveys must not offer it."""
    asked = 0
    for playbook in PLAYBOOKS:
        for q in _survey(playbook)["spec"]:
            if q["variable"] == "app_keep_releases":
                asked += 1
                assert q["type"] == "integer" and q["min"] == 2 and q["min"] <= q["default"] <= q["max"], playbook
    assert asked == 3  # site, deploy, windows


def test_the_restart_backup_restore_and_validate_surveys_exist():
    for playbook in ("restart", "backup", "restore", "validate"):
        assert _survey(playbook)["spec"], playbook
    restore = {q["variable"]: q for q in _survey("restore")["spec"]}
    assert restore["backup_restore_snapshot"]["required"] is True
    assert restore["backup_restore_snapshot"]["default"] == "latest"
