# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Access to the Flask configuration fixtures in tests/fixtures/flask_configs/."""

from __future__ import annotations

import os
import typing as t

import yaml

from ansible_collections.flaskops.deploy.plugins.module_utils._flask_facts import config_facts

FIXTURE_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "flask_configs"
)
FIXTURE_NAMES = sorted(name[:-4] for name in os.listdir(FIXTURE_DIR) if name.endswith(".yml"))

# The module's defaults for the check options.
DEFAULT_OPTIONS = {"https": True, "behind_proxy": True, "server_name": None, "proxy_body_limit": None}


def load_fixture(name: str) -> dict[str, t.Any]:
    with open(os.path.join(FIXTURE_DIR, f"{name}.yml"), encoding="utf-8") as handle:
        fixture = yaml.safe_load(handle)
    assert set(fixture) == {"description", "expect", "options", "config"}, name
    return fixture


def fixture_facts(fixture: dict[str, t.Any]) -> dict[str, t.Any]:
    return config_facts(fixture["config"], proxy_fix=fixture["options"].get("proxy_fix"))


def fixture_rule_options(fixture: dict[str, t.Any]) -> dict[str, t.Any]:
    options = dict(DEFAULT_OPTIONS)
    options.update({key: value for key, value in fixture["options"].items() if key in DEFAULT_OPTIONS})
    return options


def fixture_module_args(fixture: dict[str, t.Any]) -> dict[str, t.Any]:
    args = dict(fixture["options"])
    args["config"] = fixture["config"]
    return args
