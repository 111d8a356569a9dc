# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The release: one version everywhere, plugins added in a real release, and a changelog check that catches a stale
CHANGELOG.rst, a fragment left out of the release and an invalid fragment.

The changelog tests run scripts/changelog.sh on a copy of the files it reads, with antsibull-changelog from
.cache/antsibull-changelog-venv (`make unit` creates it).
"""

from __future__ import annotations

import ast
import configparser
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHANGELOG_VENV = pathlib.Path(os.environ.get("CHANGELOG_VENV", ROOT / ".cache" / "antsibull-changelog-venv"))
SEMVER = r"(\d+\.\d+\.\d+)"


def load(path: pathlib.Path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def version() -> str:
    return str(load(ROOT / "galaxy.yml")["version"])


def released() -> dict:
    return load(ROOT / "changelogs" / "changelog.yaml").get("releases") or {}


def as_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_version_is_at_least_1_0_0():
    # Automation Hub's import (require_v1_or_greater) refuses anything below.
    assert as_tuple(version()) >= (1, 0, 0)


# Where the files name the collection's version: a tarball's name, the execution environment's tag, a git tag.
MENTIONS = [
    re.compile(r"flaskops-deploy-" + SEMVER + r"\.tar\.gz"),
    re.compile(r"flaskops-ee:" + SEMVER),
    re.compile(r"^#\s+version: v" + SEMVER, re.MULTILINE),  # collections/requirements.yml's git example
]


def mention_files() -> list[pathlib.Path]:
    files = [ROOT / "README.md", ROOT / "collections" / "requirements.yml", ROOT / "meta" / "execution-environment.yml"]
    files += sorted((ROOT / "docs").glob("*.md")) + sorted(p for p in (ROOT / "awx").rglob("*") if p.is_file())
    files += sorted((ROOT / "roles").glob("*/README.md"))
    return [p for p in files if p.is_file()]


def test_every_mention_of_the_version_is_galaxy_yml_s():
    found = {}
    for path in mention_files():
        text = path.read_text(encoding="utf-8")
        for pattern in MENTIONS:
            for mentioned in pattern.findall(text):
                found.setdefault(str(path.relative_to(ROOT)), set()).add(mentioned)
    assert found.get("README.md"), "the README's install command names no tarball"
    wrong = {path: sorted(versions) for path, versions in found.items() if versions != {version()}}
    assert not wrong, f"galaxy.yml says {version()}: {wrong}"


def plugin_docs():
    for path in sorted((ROOT / "plugins").glob("*/*.py")):
        if path.parent.name in ("module_utils", "doc_fragments"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
                yield str(path.relative_to(ROOT)), yaml.safe_load(node.value.value)


def test_every_plugin_was_added_in_a_release_that_exists():
    # version_added names a release in changelog.yaml or the one being prepared, never a version that was not released
    # (0.1.0 never was) nor a future one: antsibull-changelog lists a plugin as new in the release of its version_added.
    valid = set(released()) | {version()}
    docs = dict(plugin_docs())
    assert "plugins/modules/health_check.py" in docs and "plugins/lookup/tree_hash.py" in docs
    wrong = {path: doc.get("version_added") for path, doc in docs.items() if str(doc.get("version_added")) not in valid}
    assert not wrong, f"version_added must be one of {sorted(valid)}: {wrong}"


def test_every_plugin_is_in_the_changelog_of_its_release():
    listed = {}
    for number, release in released().items():
        for kind, plugins in (release.get("plugins") or {}).items():
            for plugin in plugins:
                listed[f"{kind}/{plugin['name']}"] = number
        for plugin in release.get("modules") or []:
            listed[f"module/{plugin['name']}"] = number
    for path, doc in plugin_docs():
        kind = "module" if "/modules/" in path else path.split("/")[1]
        name = doc.get("module") or doc.get("name")
        if str(doc["version_added"]) in released():
            assert listed.get(f"{kind}/{name}") == str(doc["version_added"]), f"{path}: run make changelog"


def test_importer_configuration_is_automation_hub_s():
    config = configparser.ConfigParser()
    config.read(ROOT / ".config" / "galaxy-importer.cfg")
    section = config["galaxy-importer"]
    assert section.getboolean("require_v1_or_greater")
    assert section.getboolean("check_required_tags")
    assert section.getboolean("run_ansible_lint") and section.getboolean("run_ansible_doc")
    # Off with its reason: it pulls a container image; make sanity runs ansible-test on the same tarball.
    assert not section.getboolean("run_ansible_test")


def test_no_sanity_ignore_file():
    # galaxy-importer warns about every entry of an ignore file.
    assert not list(ROOT.glob("tests/sanity/ignore-*.txt"))


def test_the_backup_program_gets_its_shebang_on_the_host():
    program = ROOT / "roles" / "backup" / "files" / "flaskops-backup.py"
    assert not program.read_text(encoding="utf-8").startswith("#!"), "ansible-test's shebang test refuses #!/usr/bin/python3"
    tasks = load(ROOT / "roles" / "backup" / "tasks" / "configure.yml")
    install = next(task for task in tasks if task.get("name") == "Install the backup program")
    copy = install["ansible.builtin.copy"]
    assert copy["mode"] == "0755"
    assert copy["content"].startswith("#!/usr/bin/python3\n{{ lookup('ansible.builtin.file', 'flaskops-backup.py') }}")


# --- the changelog check ---------------------------------------------------------------------------------------------

needs_antsibull = pytest.mark.skipif(
    not (CHANGELOG_VENV / "bin" / "antsibull-changelog").is_file(), reason="make changelog-venv installs antsibull-changelog"
)


@pytest.fixture
def checkout(tmp_path):
    """The files scripts/changelog.sh reads, in a directory of their own."""
    copy = tmp_path / "checkout"
    copy.mkdir()
    for name in ("galaxy.yml", "CHANGELOG.rst"):
        shutil.copy2(ROOT / name, copy / name)
    for name in ("meta", "plugins", "changelogs", "scripts"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", ".plugin-cache.yaml"))
    return copy


def changelog(checkout: pathlib.Path, action: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, VENV=str(pathlib.Path(sys.executable).parent.parent), CHANGELOG_VENV=str(CHANGELOG_VENV))
    return subprocess.run(["bash", str(checkout / "scripts" / "changelog.sh"), action], cwd=checkout, env=env,
                          capture_output=True, text=True, check=False, timeout=300)


@needs_antsibull
def test_changelog_check_fails_on_a_stale_changelog_rst(checkout):
    rst = checkout / "CHANGELOG.rst"
    rst.write_text(rst.read_text(encoding="utf-8").replace("Release Summary", "Summary"), encoding="utf-8")
    result = changelog(checkout, "check")
    assert result.returncode == 1, result.stderr
    assert "CHANGELOG.rst is not what the fragments give" in result.stderr


@needs_antsibull
def test_changelog_check_fails_on_an_invalid_fragment(checkout):
    (checkout / "changelogs" / "fragments" / "broken.yml").write_text("---\nnew_stuff:\n  - not a section\n", encoding="utf-8")
    result = changelog(checkout, "check")
    assert result.returncode != 0
    assert "broken.yml" in result.stdout + result.stderr


@needs_antsibull
def test_a_fragment_left_out_of_the_release_fails_until_make_changelog_takes_it(checkout):
    if version() not in released():
        pytest.skip(f"{version()} is in development: fragments wait for its release")
    fragment = checkout / "changelogs" / "fragments" / "late-fix.yml"
    fragment.write_text("---\nbugfixes:\n  - app - a late fix that reaches the release.\n", encoding="utf-8")
    result = changelog(checkout, "check")
    assert result.returncode == 1, result.stderr
    assert "run 'make changelog'" in result.stderr

    result = changelog(checkout, "release")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not fragment.exists() and (checkout / "changelogs" / "archive" / version() / "late-fix.yml").is_file()
    assert "a late fix that reaches the release" in (checkout / "CHANGELOG.rst").read_text(encoding="utf-8")
    result = changelog(checkout, "check")
    assert result.returncode == 0, result.stdout + result.stderr


def pin(path: pathlib.Path, package: str) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        name, separator, pinned = line.partition("==")
        if separator and name.strip().lower().replace("_", "-") == package:
            return pinned.strip()
    raise AssertionError(f"{package} is not pinned in {path}")


def test_the_importer_lints_with_the_ansible_lint_of_make_lint():
    # make test leaves out the importer's ansible-lint step because make lint runs this very version.
    assert pin(ROOT / "scripts" / "tools" / "galaxy-importer.txt", "ansible-lint") == pin(ROOT / "requirements.txt", "ansible-lint")
