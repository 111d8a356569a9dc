# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""flaskops.deploy.gunicorn_settings through ansible-playbook: what the gunicorn role gets back, the warning a user
sees, and the refusal that names the variables (the decisions themselves: module_utils/test_gunicorn.py)."""

from __future__ import annotations


import pytest

from ansible_collections.flaskops.deploy.tests.unit.plugins.action.playbook import task_runner


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return task_runner(tmp_path_factory, "gunicorn_settings")


def test_async_workers_set_to_recycle_are_kept_and_warned(run):
    proc, out = run({"worker_class": "eventlet", "formula_workers": 5, "max_requests": 500})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["max_requests"] == 500 and out["changed"] is False
    assert "gunicorn_max_requests" in proc.stdout + proc.stderr  # the warning the user sees names the variable


def test_sync_workers_get_the_default_recycling_quietly(run):
    proc, out = run({"worker_class": "sync", "formula_workers": 5, "max_requests": ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["workers"] == 5 and out["max_requests"] == 1000
    assert "[WARNING]" not in proc.stdout + proc.stderr


def test_socketio_on_several_workers_fails_naming_the_variables(run):
    proc, out = run({"worker_class": "eventlet", "formula_workers": 5, "workers": 3, "socketio": True})
    assert proc.returncode != 0 and out is None
    assert "gunicorn_socketio" in proc.stdout and "gunicorn_workers" in proc.stdout


def test_threads_and_timeouts_below_one_fail_naming_the_variables(run):
    proc, out = run({"worker_class": "gthread", "formula_workers": 2,
                     "positive": {"gunicorn_threads": 0, "gunicorn_timeout": 30, "gunicorn_graceful_timeout": -1}})
    assert proc.returncode != 0 and out is None
    assert "gunicorn_threads (0)" in proc.stdout and "gunicorn_graceful_timeout (-1)" in proc.stdout
    assert "gunicorn_timeout" not in proc.stdout
