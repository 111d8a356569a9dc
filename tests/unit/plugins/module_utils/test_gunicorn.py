# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""gunicorn's worker settings (module_utils/_gunicorn.py): recycling by worker class, Socket.IO on one worker."""

from __future__ import annotations

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _gunicorn as gu


def settings(worker_class="sync", workers="", formula=5, max_requests="", jitter=100, socketio=False):
    return gu.worker_settings(worker_class, workers, formula, max_requests, jitter, socketio)


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_sync_workers_are_recycled_by_default(worker_class):
    result = settings(worker_class)
    assert result == {"workers": 5, "max_requests": 1000, "max_requests_jitter": 100, "async_workers": False, "warnings": []}


@pytest.mark.parametrize("worker_class", ["eventlet", "gevent"])
@pytest.mark.parametrize("empty", ["", None, "  "])
def test_async_workers_are_never_recycled_unless_asked(worker_class, empty):
    result = settings(worker_class, max_requests=empty)
    assert (result["max_requests"], result["max_requests_jitter"]) == (0, 0)
    assert result["async_workers"] is True
    assert result["warnings"] == []


def test_recycling_set_for_async_workers_is_kept_with_a_warning():
    result = settings("eventlet", max_requests=1000)
    assert (result["max_requests"], result["max_requests_jitter"]) == (1000, 100)
    (warning,) = result["warnings"]
    assert "gunicorn_max_requests is 1000 with worker class eventlet" in warning
    assert "drops every open connection" in warning


def test_no_recycling_set_explicitly_is_quiet():
    assert settings("gevent", max_requests=0)["warnings"] == []
    assert settings("sync", max_requests="0") == {
        "workers": 5, "max_requests": 0, "max_requests_jitter": 0, "async_workers": False, "warnings": []
    }


def test_the_users_recycling_of_sync_workers_is_kept():
    assert settings("sync", max_requests=500, jitter=50)["max_requests"] == 500
    assert settings("sync", max_requests="500", jitter=50)["max_requests_jitter"] == 50


def test_workers_set_or_from_the_formula():
    assert settings(workers=3)["workers"] == 3
    assert settings(workers="3")["workers"] == 3
    assert settings(formula=9)["workers"] == 9


def test_socketio_takes_one_worker_when_none_is_set():
    assert settings("eventlet", socketio=True)["workers"] == 1
    assert settings("eventlet", workers=1, socketio=True)["workers"] == 1


def test_socketio_on_several_workers_is_refused_naming_the_variables():
    with pytest.raises(gu.SettingsError) as error:
        settings("eventlet", workers=4, socketio=True)
    message = str(error.value)
    assert "gunicorn_socketio" in message and "gunicorn_workers is 4" in message
    assert "sticky sessions" in message
    assert "Set gunicorn_workers to 1" in message


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"workers": 0}, "gunicorn_workers must be empty (computed) or at least 1"),
        ({"workers": "four"}, "gunicorn_workers must be empty or a whole number"),
        ({"max_requests": -1}, "gunicorn_max_requests must not be negative"),
        ({"max_requests": True}, "gunicorn_max_requests must be empty or a whole number"),
    ],
)
def test_bad_values_name_their_variable(kwargs, text):
    with pytest.raises(gu.SettingsError, match=text.replace("(", r"\(").replace(")", r"\)")):
        settings(**kwargs)


def test_threads_and_timeouts_must_be_at_least_one_naming_each_variable():
    gu.check_positive({"gunicorn_threads": 1, "gunicorn_timeout": "30", "gunicorn_graceful_timeout": 30})
    with pytest.raises(gu.SettingsError) as error:
        gu.check_positive({"gunicorn_threads": 0, "gunicorn_timeout": "soon", "gunicorn_graceful_timeout": True})
    assert str(error.value) == ("must be whole numbers of at least 1: gunicorn_threads (0), gunicorn_timeout ('soon'), "
                                "gunicorn_graceful_timeout (True)")
