"""Every role documents its inputs: argument specs exist, defaults match them, and the README table is current."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_cover_every_public_default(role):
    spec = load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults_file = ROOT / "roles" / role / "defaults" / "main.yml"
    defaults = load(defaults_file) if defaults_file.exists() else {}
    missing = sorted(set(defaults) - set(spec))
    assert not missing, "%s: defaults without an argument spec: %s" % (role, missing)
    for name in spec:
        assert name.startswith(role + "_") or name.startswith("app_"), "%s: %s lacks the role prefix" % (role, name)


@pytest.mark.parametrize("role", ROLES)
def test_readme_table_is_generated_from_the_specs(role):
    readme = ROOT / "roles" / role / "README.md"
    assert readme.exists(), "%s has no README.md" % role
    if not (ROOT / "scripts" / "argspec-table.py").exists():
        pytest.skip("scripts/ is not part of the built collection (ansible-test units); make unit checks the tables")
    table = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "argspec-table.py"), role], capture_output=True, text=True, check=True
    ).stdout.strip()
    text = readme.read_text(encoding="utf-8")
    assert table in text, "%s/README.md: variable table out of date; run scripts/argspec-table.py %s --write" % (role, role)
