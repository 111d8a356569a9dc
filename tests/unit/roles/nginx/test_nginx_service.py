"""The check before nginx (re)starts (tasks/service.yml) runs when the configuration task did not check the files.

That task's result is missing when the run selects the role's `service` tag alone (`--tags service`); the condition
must then run the check instead of failing on an undefined variable.
"""

from __future__ import annotations

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.flaskops.deploy.tests.unit.roles.nginx.conftest import ROLE


def check_condition():
    tasks = yaml.safe_load((ROLE / "tasks" / "service.yml").read_text(encoding="utf-8"))
    task = next(t for t in tasks if t["name"].startswith("Check the configuration before nginx"))
    return task["when"]


@pytest.mark.parametrize("variables, runs", [
    ({}, True),  # --tags service: the configuration task did not run
    ({"__nginx_config": {"changed": False}}, True),  # nothing written: nginx -t has not run in this run
    ({"__nginx_config": {"changed": True}}, False),  # config_files ran nginx -t on the files it wrote
])
def test_the_check_before_a_start(variables, runs):
    templar = Templar(loader=DataLoader(), variables=variables)
    assert templar.evaluate_conditional(trust_as_template(check_condition())) is runs
