# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The documentation of the modules parses, and every example uses only documented options.

``ansible-test sanity`` (validate-modules) checks the options against the argument spec one for one.
"""

from __future__ import annotations

import types
import typing as t

import pytest
import yaml

from ansible_collections.flaskops.deploy.plugins.modules import flask_config_validate, health_check

MODULES = {"health_check": health_check, "flask_config_validate": flask_config_validate}


def _tasks(examples: list[dict[str, t.Any]]) -> t.Iterator[dict[str, t.Any]]:
    for task in examples:
        yield task
        for section in ("block", "rescue", "always"):
            yield from _tasks(task.get(section, []))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_documentation_parses(name: str) -> None:
    module: types.ModuleType = MODULES[name]
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert documentation["module"] == name
    assert documentation["extends_documentation_fragment"] == [
        "flaskops.deploy.attributes",
        "flaskops.deploy.attributes.info_module",
    ]
    for option, spec in documentation["options"].items():
        assert spec["description"], option
        assert spec["type"], option
    returns = yaml.safe_load(module.RETURN)
    for key, spec in returns.items():
        assert spec["returned"], key
        assert spec["type"], key


@pytest.mark.parametrize("name", sorted(MODULES))
def test_examples_use_documented_options(name: str) -> None:
    module: types.ModuleType = MODULES[name]
    options = set(yaml.safe_load(module.DOCUMENTATION)["options"])
    fqcn = f"flaskops.deploy.{name}"
    used = 0
    for task in _tasks(yaml.safe_load(module.EXAMPLES)):
        assert task.get("name"), task
        if fqcn in task:
            used += 1
            assert set(task[fqcn]) <= options, task["name"]
    assert used >= 3
