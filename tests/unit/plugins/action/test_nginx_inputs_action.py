# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""flaskops.deploy.nginx_inputs through ansible-playbook: what the nginx role gets back, every problem at once naming
the variables, nothing changed in check mode (the checks themselves: module_utils/test_nginx_inputs.py)."""

from __future__ import annotations

import pytest

from ansible_collections.flaskops.deploy.tests.unit.plugins.action.playbook import task_runner


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return task_runner(tmp_path_factory, "nginx_inputs", ignore_errors=True)


def test_good_inputs_pass_in_check_mode(run):
    proc, out = run({"nginx_site_name": "hello", "nginx_server_names": ["hello.example.com"]}, check_mode=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["failed"] is False and out["changed"] is False and out["problems"] == []
    assert out["msg"] == "the inputs of the nginx role for site hello are valid"


def test_every_problem_at_once_naming_the_variables(run):
    proc, out = run({"nginx_site_name": "", "nginx_server_names": ["Bad_Name"],
                     "nginx_tls_certificate": "/etc/ssl/hello.pem", "nginx_websocket_timeout": 0})
    assert out["failed"] is True and out["changed"] is False
    assert [problem.split(" ")[0] for problem in out["problems"]] == [
        "nginx_site_name", "nginx_server_names", "nginx_tls_certificate", "nginx_websocket_timeout"]
    assert out["msg"] == " | ".join(out["problems"])
