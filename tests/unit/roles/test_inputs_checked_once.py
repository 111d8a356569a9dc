# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A role the play's preflight checked with the same inputs does not run its input checks again in its full run.

The role's query (flaskops.deploy.role_state) returns ``preflight: true`` only when it reused the preflight's answer
for the same fingerprint (the digests of every declared input): the preflight then ran the role's checks
(tasks/validate.yml) with these very inputs. Otherwise (no preflight, or an input that changed since, such as the
certificate paths certbot publishes for nginx) the checks run.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLES = pathlib.Path(__file__).resolve().parents[3] / "roles"


def validate_task(role):
    tasks = yaml.safe_load((ROLES / role / "tasks" / "converge.yml").read_text(encoding="utf-8"))
    [task] = [t for t in tasks if "validate.yml" in str(t.get("ansible.builtin.include_tasks") or t.get("ansible.builtin.import_tasks"))]
    return task


@pytest.mark.parametrize("role", ["certbot", "nginx", "gunicorn"])
@pytest.mark.parametrize("state, runs", [
    (None, True),  # the role's query did not run (a play that runs converge.yml alone)
    ({"stale": True, "reasons": ["no stamp"]}, True),  # asked the host itself: no preflight, or other inputs
    ({"stale": True, "reasons": ["no stamp"], "preflight": True}, False),  # the preflight checked these inputs
])
def test_the_checks_run_unless_the_preflight_ran_them_with_the_same_inputs(role, state, runs):
    task = validate_task(role)
    # an include, so that skipped checks are one skipped task, not one per assertion
    assert "ansible.builtin.include_tasks" in task
    assert set(task["tags"]) == {role, "validate"} and set(task["ansible.builtin.include_tasks"]["apply"]["tags"]) == {role, "validate"}
    variables = {} if state is None else {"__%s_state" % role: state}
    templar = Templar(loader=DataLoader(), variables=variables)
    assert templar.evaluate_conditional(trust_as_template(task["when"])) is runs
