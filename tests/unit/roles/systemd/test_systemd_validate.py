# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The systemd role's input checks (tasks/validate.yml), evaluated by ansible-core's template engine as the assert
tasks do."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "systemd"


def holds(task_name: str, units: list[dict]) -> bool:
    tasks = yaml.safe_load((ROLE / "tasks" / "validate.yml").read_text(encoding="utf-8"))
    task = next(t for t in tasks if t["name"] == task_name)
    loader = DataLoader()
    variables = dict(loader.load_from_file(str(ROLE / "vars" / "main.yml"), trusted_as_template=True))
    variables["systemd_units"] = units
    templar = Templar(loader=loader, variables=variables)
    return all(templar.template(trust_as_template("{{ (%s) | bool }}" % expr)) for expr in task["ansible.builtin.assert"]["that"])


TEMPLATE_CHECK = "Check that template units are not enabled or started themselves"


@pytest.mark.parametrize("unit", [
    {"name": "hello-queue@.service"},
    {"name": "hello-queue@.service", "state": "absent"},  # app_processes removes a process type's template this way
    {"name": "hello-queue@.service", "state": "present"},
    {"name": "hello-tick.timer", "state": "started", "enabled": True},
])
def test_template_units_may_be_written_or_removed(unit: dict) -> None:
    assert holds(TEMPLATE_CHECK, [unit])


@pytest.mark.parametrize("unit", [
    {"name": "hello-queue@.service", "state": "started"},
    {"name": "hello-queue@.service", "state": "stopped"},
    {"name": "hello-queue@.service", "enabled": True},
])
def test_template_units_cannot_be_started_stopped_or_enabled(unit: dict) -> None:
    assert not holds(TEMPLATE_CHECK, [unit])
