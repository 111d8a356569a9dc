# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The collection's metadata says what the content needs and what is tested.

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


def load(path: pathlib.Path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def runtime() -> dict:
    return load(ROOT / "meta" / "runtime.yml")


def _minimum(requires_ansible: str) -> str:
    match = re.fullmatch(r">=\s*(\d+\.\d+\.\d+)", requires_ansible.strip())
    assert match, f"requires_ansible {requires_ansible!r} is not >=X.Y.Z"
    return match.group(1)


def test_requires_ansible_is_what_runs_here():
    minimum = _minimum(runtime()["requires_ansible"])
    running = ".".join(ansible_core_version.split(".")[:2])
    assert minimum.rsplit(".", 1)[0] == running, f"requires_ansible {minimum}, tested with ansible-core {ansible_core_version}"
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
