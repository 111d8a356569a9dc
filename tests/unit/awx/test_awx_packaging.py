"""AWX packaging: surveys are generated from the argument specs, and the EE definition builds a context."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_surveys_match_the_argument_specs():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "awx-survey.py"), "--check"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("template", ["deploy", "rollback"])
def test_survey_is_valid_awx_survey_spec(template):
    spec = json.loads((ROOT / "awx" / "surveys" / ("%s.json" % template)).read_text())
    assert spec["name"] and spec["description"]
    assert spec["spec"], "a survey with no question"
    for q in spec["spec"]:
        assert q["type"] in {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
        assert q["variable"] and q["question_name"]
        if q["type"] == "multiplechoice":
            assert q["choices"] and str(q["default"]) in q["choices"] + [""]


def test_app_server_question_offers_the_roles_choices():
    spec = json.loads((ROOT / "awx" / "surveys" / "deploy.json").read_text())
    server = next(q for q in spec["spec"] if q["variable"] == "app_server")
    assert server["choices"] == ["gunicorn", "waitress"]
    assert server["default"] == "gunicorn"


def test_collection_ee_dependencies_point_at_files():
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    for path in meta["dependencies"].values():
        assert (ROOT / path).is_file(), path


@pytest.mark.skipif(shutil.which("ansible-builder") is None and not (pathlib.Path(sys.prefix) / "bin" / "ansible-builder").exists(),
                    reason="ansible-builder is installed by make venv")
def test_execution_environment_definition_creates_a_build_context(tmp_path):
    builder = shutil.which("ansible-builder") or str(pathlib.Path(sys.prefix) / "bin" / "ansible-builder")
    r = subprocess.run(
        [builder, "create", "-f", str(ROOT / "awx" / "execution-environment.yml"), "--context", str(tmp_path / "ctx")],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    containerfile = next((tmp_path / "ctx").glob("*file"))
    text = containerfile.read_text()
    assert "ansible-galaxy" in text and "requirements.yml" in text
    assert (tmp_path / "ctx" / "_build" / "requirements.yml").exists()
