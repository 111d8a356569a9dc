# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The collection's metadata says what the content needs and what is tested.

- galaxy.yml's ``dependencies`` are exactly the collections that roles, playbooks and plugins use;
  collections/requirements.yml and the README name the same collections with the same ranges.
- meta/runtime.yml's ``requires_ansible`` and every role's ``min_ansible_version`` agree, and the
  ansible-core that runs these tests meets them.
- an action group only groups modules that share options (a group default for an option that a member
  does not accept fails that member).
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest
import yaml

from ansible.module_utils.compat.version import LooseVersion
from ansible.release import __version__ as ansible_core_version

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "main.yml").is_file())

FQCN = r"([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*"
# Where content names another collection's module, action, filter, test or lookup.
USES = [
    re.compile(r"^\s*(?:-\s+)?" + FQCN + r":", re.MULTILINE),  # a task's action
    re.compile(r"^\s*(?:-\s+)?(?:name|role|module):\s+" + FQCN + r"\s*$", re.MULTILINE),  # include_role, roles:, module_defaults
    re.compile(r"\|\s*" + FQCN + r"\b"),  # a filter
    re.compile(r"\bis\s+(?:not\s+)?" + FQCN + r"\b"),  # a test
    re.compile(r"\b(?:lookup|query|q)\(\s*['\"]" + FQCN),  # a lookup
    re.compile(r"\b(?:map|select|reject|selectattr|rejectattr)\([^)]*?['\"]" + FQCN + r"['\"]"),  # a filter or test by name
    re.compile(r"\bansible_collections\.([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.plugins\b"),  # a Python import
]
OURSELVES = {"ansible.builtin", "ansible.legacy", "flaskops.deploy"}


def load(path: pathlib.Path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def galaxy() -> dict:
    return load(ROOT / "galaxy.yml")


def runtime() -> dict:
    return load(ROOT / "meta" / "runtime.yml")


def used_collections() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    files = [p for top in ("roles", "playbooks") for p in (ROOT / top).rglob("*") if p.suffix in (".yml", ".yaml", ".j2")]
    files += list((ROOT / "plugins").rglob("*.py"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern in USES:
            for namespace, name in pattern.findall(text):
                collection = f"{namespace}.{name}"
                if collection not in OURSELVES:
                    used.setdefault(collection, set()).add(str(path.relative_to(ROOT)))
    return used


def test_the_scan_finds_the_known_uses():
    used = used_collections()
    assert "roles/ufw/tasks/rules.yml" in used["community.general"]
    assert "roles/iis/vars/main.yml" in used["community.general"]  # the dict_kv filter
    assert "roles/certbot/tasks/selfsigned.yml" in used["community.crypto"]


def test_dependencies_are_the_collections_the_content_uses():
    declared = set(galaxy()["dependencies"])
    used = used_collections()
    missing = {name: sorted(files)[:3] for name, files in used.items() if name not in declared}
    assert not missing, f"used but not declared in galaxy.yml dependencies: {missing}"
    assert not declared - set(used), f"declared in galaxy.yml but used nowhere: {sorted(declared - set(used))}"


@pytest.mark.parametrize("name", sorted(load(ROOT / "galaxy.yml")["dependencies"]))
def test_dependency_range_is_bounded_by_a_next_major(name):
    """From the version the minimum controller's `ansible` package bundles, to below the major release after the one
    the newest `ansible` bundles (scripts/matrix.sh: community.general 11 and 13 are both tested): never open-ended."""
    spec = galaxy()["dependencies"][name]
    match = re.fullmatch(r">=(\d+)\.(\d+)\.0,<(\d+)\.0\.0", spec)
    assert match, f"{name}: {spec!r} is not >=X.Y.0,<Z.0.0"
    assert int(match.group(3)) > int(match.group(1)), f"{name}: {spec!r}"


def test_collections_requirements_list_the_dependencies_not_the_collection_itself():
    requirements = load(ROOT / "collections" / "requirements.yml")["collections"]
    listed = {entry["name"]: entry.get("version") for entry in requirements}
    assert "flaskops.deploy" not in listed
    assert listed == galaxy()["dependencies"]


def test_readme_names_every_dependency_and_its_range():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Requirements", 1)[1].split("\n## ", 1)[0]
    for name, spec in galaxy()["dependencies"].items():
        assert f"`{name}` `{spec}`" in section, name


def _minimum(requires_ansible: str) -> str:
    match = re.fullmatch(r">=\s*(\d+\.\d+\.\d+)", requires_ansible.strip())
    assert match, f"requires_ansible {requires_ansible!r} is not >=X.Y.Z"
    return match.group(1)


def _tested_controllers() -> dict[str, str]:
    """The README's table of tested controllers: its first column (minimum, default, newest) to its ansible-core."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Requirements", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (minimum|default|newest) [^|]*\| (\d+\.\d+(?:\.\d+)?)\b", section, re.MULTILINE)
    return dict(rows)


def test_readme_documents_the_tested_range_from_requires_ansible():
    minimum = _minimum(runtime()["requires_ansible"])
    tested = _tested_controllers()
    assert set(tested) == {"minimum", "default", "newest"}, tested
    assert tested["minimum"] == minimum, f"requires_ansible {minimum}, the README's minimum controller {tested['minimum']}"
    assert LooseVersion(tested["newest"]) > LooseVersion(tested["default"]) >= LooseVersion(minimum)


def test_requires_ansible_is_what_runs_here():
    """The ansible-core running these tests meets requires_ansible and is one the README lists as tested (the
    minimum, the default controller's or the newest): a new ansible-core release fails here until it is documented."""
    minimum = _minimum(runtime()["requires_ansible"])
    running = ".".join(ansible_core_version.split(".")[:2])
    tested = {".".join(version.split(".")[:2]) for version in _tested_controllers().values()}
    assert running in tested, f"ansible-core {ansible_core_version} runs, the README's tested controllers: {sorted(tested)}"
    assert LooseVersion(ansible_core_version) >= LooseVersion(minimum)


@pytest.mark.parametrize("role", ROLES)
def test_role_min_ansible_version_agrees_with_requires_ansible(role):
    meta = load(ROOT / "roles" / role / "meta" / "main.yml")
    assert str(meta["galaxy_info"]["min_ansible_version"]) == _minimum(runtime()["requires_ansible"])


def _module_options(name: str) -> set[str]:
    tree = ast.parse((ROOT / "plugins" / "modules" / f"{name}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return set(yaml.safe_load(node.value.value).get("options") or {})
    raise AssertionError(f"{name} has no DOCUMENTATION")


def _short(member: str) -> str:
    return member.removeprefix("flaskops.deploy.")


def test_action_groups_group_modules_that_share_options():
    for group, members in (runtime().get("action_groups") or {}).items():
        names = [_short(m) for m in members if isinstance(m, str)]
        assert len(names) >= 2, f"group {group}: module_defaults can name a single module itself"
        for name in names:
            assert (ROOT / "plugins" / "modules" / f"{name}.py").is_file(), f"group {group}: no module {name}"
        shared = set.intersection(*(_module_options(name) for name in names))
        assert shared, f"group {group}: {names} share no option, so any group default breaks one of them"


def test_documented_action_group_membership_matches_runtime():
    groups = runtime().get("action_groups") or {}
    for path in sorted((ROOT / "plugins" / "modules").glob("*.py")):
        name = path.stem
        in_groups = sorted(g for g, members in groups.items() if name in {_short(m) for m in members if isinstance(m, str)})
        text = path.read_text(encoding="utf-8")
        documented = "actiongroup_" in text or "action_group:" in text
        assert documented == bool(in_groups), f"{name}: documented as a group member: {documented}, groups: {in_groups}"
