"""AWX packaging: surveys are generated from the argument specs, and the EE definition builds a context."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_surveys_match_the_argument_specs():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "awx-survey.py"), "--check"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_app_server_question_offers_the_roles_choices():
    spec = json.loads((ROOT / "awx" / "surveys" / "deploy.json").read_text())
    server = next(q for q in spec["spec"] if q["variable"] == "app_server")
    assert server["choices"] == ["gunicorn", "waitress", "uwsgi"]
    assert server["default"] == "gunicorn"


def test_collection_ee_dependencies_point_at_files():
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    for path in meta["dependencies"].values():
        assert (ROOT / path).is_file(), path


def _builder():
    for candidate in (ROOT / ".cache" / "ansible-builder-venv" / "bin" / "ansible-builder",
                      pathlib.Path(sys.prefix) / "bin" / "ansible-builder"):
        if candidate.exists():
            return str(candidate)
    return shutil.which("ansible-builder")


@pytest.mark.skipif(_builder() is None, reason="ansible-builder comes with make venv or scripts/ee-check.sh")
def test_execution_environment_definition_creates_a_build_context(tmp_path):
    """ansible-builder accepts the definition; the build installs the staged tarballs offline, pins pip, no --pre."""
    definition = tmp_path / "awx"
    definition.mkdir()
    for name in ("execution-environment.yml", "requirements.yml", "ee-constraints.txt"):
        shutil.copy(ROOT / "awx" / name, definition / name)
    staged = tmp_path / ".cache" / "ee" / "collections"
    staged.mkdir(parents=True)
    for item in yaml.safe_load((ROOT / "awx" / "requirements.yml").read_text())["collections"]:
        (staged / pathlib.Path(item["name"]).name).write_bytes(b"")
    r = subprocess.run(
        [_builder(), "create", "-f", str(definition / "execution-environment.yml"), "--context", str(tmp_path / "ctx")],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    containerfile = next((tmp_path / "ctx").glob("*file")).read_text()
    assert 'ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--offline"' in containerfile
    assert "--pre" not in containerfile
    assert 'ARG EE_BASE_IMAGE="flaskops/ee-base-debian12:latest"' in containerfile
    assert "ENV PIP_CONSTRAINT=/etc/flaskops-ee-constraints.txt" in containerfile
    assert 'ansible-core==' in containerfile and 'ansible-runner==' in containerfile
    assert (tmp_path / "ctx" / "_build" / "requirements.yml").exists()
    assert sorted(p.name for p in (tmp_path / "ctx" / "_build" / "collections").iterdir()) == sorted(
        p.name for p in staged.iterdir())


def _bundled_versions() -> dict[str, str]:
    import ansible_collections

    versions = {}
    for base in ansible_collections.__path__:
        for manifest in pathlib.Path(base).glob("*/*/MANIFEST.json"):
            info = json.loads(manifest.read_text())["collection_info"]
            versions["%s.%s" % (info["namespace"], info["name"])] = info["version"]
    return versions


def test_ee_collections_are_pinned_tarballs_of_the_declared_dependencies():
    """awx/requirements.yml: this collection at galaxy.yml's version and exactly its dependencies, each a local
    tarball at the version the ansible package bundles (the one every test here runs with), inside galaxy.yml's range."""
    from ansible.utils.version import SemanticVersion

    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    items = yaml.safe_load((ROOT / "awx" / "requirements.yml").read_text())["collections"]
    pinned = {}
    for item in items:
        assert item["type"] == "file", item
        match = re.match(r"^/build/collections/([a-z0-9_]+)-([a-z0-9_]+)-(\d[^/]*)\.tar\.gz$", item["name"])
        assert match, item["name"]
        assert match.group(3) == str(item["version"]), item
        pinned["%s.%s" % match.group(1, 2)] = str(item["version"])
    assert pinned.pop("flaskops.deploy") == str(galaxy["version"])
    assert sorted(pinned) == sorted(galaxy["dependencies"])
    bundled = _bundled_versions()
    for name, version in pinned.items():
        assert version == bundled[name], name
        for clause in galaxy["dependencies"][name].split(","):
            op, bound = re.match(r"^(>=|<=|==|!=|>|<)?(.+)$", clause.strip()).groups()
            v, b = SemanticVersion(version), SemanticVersion(bound)
            assert {">=": v >= b, "<=": v <= b, ">": v > b, "<": v < b, "!=": v != b}.get(op or "==", v == b), (name, clause)


def test_ee_pins_ansible_core_and_runner_to_the_constraints():
    definition = yaml.safe_load((ROOT / "awx" / "execution-environment.yml").read_text())
    pins = {}
    for line in (ROOT / "awx" / "ee-constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            assert "==" in line, "not pinned: " + line
            name, version = line.split("==", 1)
            pins[name.lower()] = version
    deps = definition["dependencies"]
    assert deps["ansible_core"]["package_pip"] == "ansible-core==" + pins["ansible-core"]
    assert deps["ansible_runner"]["package_pip"] == "ansible-runner==" + pins["ansible-runner"]
    assert "pywinrm" in pins
    assert "--pre" not in json.dumps(definition)
    assert definition["build_arg_defaults"]["ANSIBLE_GALAXY_CLI_COLLECTION_OPTS"] == "--offline"


def test_root_requirements_do_not_ask_for_the_collection_itself():
    items = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())["collections"]
    names = [item["name"] if isinstance(item, dict) else item for item in items]
    assert "flaskops.deploy" not in names
    assert not any("flaskops" in name for name in names)
