# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The documentation of the actions (the preflight ones, app_inputs, gunicorn_settings) matches their argument specs one for one, and the examples use it."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.flaskops.deploy.plugins.action import app_inputs as app_inputs_action
from ansible_collections.flaskops.deploy.plugins.action import gunicorn_settings as gunicorn_settings_action
from ansible_collections.flaskops.deploy.plugins.action import preflight_secrets as preflight_secrets_action
from ansible_collections.flaskops.deploy.plugins.action import preflight_source as preflight_source_action
from ansible_collections.flaskops.deploy.plugins.action import preflight_vars as preflight_vars_action
from ansible_collections.flaskops.deploy.plugins.modules import app_inputs, gunicorn_settings, preflight_secrets, preflight_source, preflight_vars

ACTIONS = {
    "preflight_vars": (preflight_vars, preflight_vars_action.ActionModule),
    "preflight_source": (preflight_source, preflight_source_action.ActionModule),
    "preflight_secrets": (preflight_secrets, preflight_secrets_action.ActionModule),
    "gunicorn_settings": (gunicorn_settings, gunicorn_settings_action.ActionModule),
    "app_inputs": (app_inputs, app_inputs_action.ActionModule),
}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_documentation_matches_the_argument_spec(name: str) -> None:
    module, action = ACTIONS[name]
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert documentation["module"] == name
    options = documentation["options"]
    assert set(options) == set(action.ARGUMENT_SPEC)
    for option, spec in action.ARGUMENT_SPEC.items():
        assert options[option]["type"] == spec["type"], option
        assert options[option].get("required", False) == spec.get("required", False), option
        assert options[option].get("default") == spec.get("default"), option
        assert options[option].get("choices") == spec.get("choices"), option
        assert options[option].get("elements") == spec.get("elements"), option
        assert options[option]["description"], option
    for key, spec in yaml.safe_load(module.RETURN).items():
        assert spec["returned"] and spec["type"] and spec["description"], key


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_examples_use_documented_options(name: str) -> None:
    module, action = ACTIONS[name]
    examples = yaml.safe_load(module.EXAMPLES)
    assert len(examples) >= 3
    for task in examples:
        assert task["name"]
        args = task["flaskops.deploy." + name]
        assert set(args) <= set(action.ARGUMENT_SPEC), task["name"]
        # app_inputs takes each app_* option the task does not pass from the variable of the same name.
        from_vars = getattr(action, "_from_vars", None)
        required = {option for option, spec in action.ARGUMENT_SPEC.items() if spec.get("required")}
        assert {option for option in required if not (from_vars and option.startswith("app_"))} <= set(args)
