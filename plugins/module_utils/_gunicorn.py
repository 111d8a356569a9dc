# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The worker settings of gunicorn that depend on each other, decided once from the gunicorn role's variables.

- Async workers (``eventlet``, ``gevent``) hold long-lived connections (WebSockets, long polling). Recycling such a
  worker after ``max_requests`` requests drops every connection it holds, and the requests that reach it while it
  restarts wait: with one eventlet worker, a recycle stalled every request for 20 s and dropped every Socket.IO
  session. So an empty ``gunicorn_max_requests`` (the default) means no recycling for async workers and 1000
  requests for the others; a value the user sets is kept, with a warning for async workers.
- A Socket.IO server keeps each session in the memory of one worker: with more than one worker, a client's long-poll
  requests and its WebSocket upgrade may reach different workers, and its session is lost ("Invalid session"). The
  slots have no sticky sessions, so ``gunicorn_socketio`` takes one worker when ``gunicorn_workers`` is empty and
  refuses a larger count.

:func:`worker_settings` is a pure function on plain values; the action ``flaskops.deploy.gunicorn_settings`` runs it.
"""

from __future__ import annotations

import typing as t

ASYNC_WORKER_CLASSES = ("eventlet", "gevent")
# Requests before a worker of a sync or gthread server is recycled, when gunicorn_max_requests is empty.
DEFAULT_MAX_REQUESTS = 1000


class SettingsError(ValueError):
    """Settings that cannot work together; the message names the variables to change."""


def _count(value: t.Any, name: str) -> int | None:
    """An empty value (None or "") as None, else a non-negative integer; names the variable when it is not one."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise SettingsError(f"{name} must be empty or a whole number, got {value!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SettingsError(f"{name} must be empty or a whole number, got {value!r}") from None
    if number < 0:
        raise SettingsError(f"{name} must not be negative, got {number}")
    return number


def check_positive(values: dict[str, t.Any]) -> None:
    """Raise :class:`SettingsError` naming every variable of ``values`` (name: value) that is not a whole number >= 1."""
    bad = []
    for name, value in values.items():
        try:
            ok = not isinstance(value, bool) and int(str(value).strip()) >= 1
        except ValueError:
            ok = False
        if not ok:
            bad.append(f"{name} ({value!r})")
    if bad:
        raise SettingsError("must be whole numbers of at least 1: " + ", ".join(bad))


def worker_settings(
    worker_class: str,
    workers: t.Any,
    formula_workers: int,
    max_requests: t.Any,
    max_requests_jitter: int,
    socketio: bool = False,
) -> dict[str, t.Any]:
    """The effective ``workers``, ``max_requests`` and ``max_requests_jitter``, and the warnings to show.

    ``workers`` and ``max_requests`` are the user's values, empty when not set; ``formula_workers`` is the worker count
    the role computes for an empty ``workers``. Raises :class:`SettingsError` for Socket.IO with several workers.
    """
    is_async = worker_class in ASYNC_WORKER_CLASSES
    warnings: list[str] = []

    chosen_workers = _count(workers, "gunicorn_workers")
    if chosen_workers == 0:
        raise SettingsError("gunicorn_workers must be empty (computed) or at least 1, got 0")
    if socketio and chosen_workers is not None and chosen_workers > 1:
        raise SettingsError(
            f"gunicorn_socketio is true and gunicorn_workers is {chosen_workers}: a Socket.IO session lives in one "
            "worker's memory and the slots have no sticky sessions, so a client whose requests reach another worker "
            "loses its session. Set gunicorn_workers to 1 (or leave it empty: Socket.IO then gets 1 worker); an "
            f"async worker ({' or '.join(ASYNC_WORKER_CLASSES)}) serves many connections on its own."
        )
    if chosen_workers is None:
        chosen_workers = 1 if socketio else max(1, int(formula_workers))

    chosen_max_requests = _count(max_requests, "gunicorn_max_requests")
    if chosen_max_requests is None:
        chosen_max_requests = 0 if is_async else DEFAULT_MAX_REQUESTS
    elif is_async and chosen_max_requests > 0:
        warnings.append(
            f"gunicorn_max_requests is {chosen_max_requests} with worker class {worker_class}: each recycle drops every "
            "open connection of the worker (WebSockets, long polling) and requests wait while it restarts. Leave "
            "gunicorn_max_requests empty (no recycling for async workers) or set it to 0."
        )
    jitter = _count(max_requests_jitter, "gunicorn_max_requests_jitter") or 0
    if chosen_max_requests == 0:
        jitter = 0

    return {
        "workers": chosen_workers,
        "max_requests": chosen_max_requests,
        "max_requests_jitter": jitter,
        "async_workers": is_async,
        "warnings": warnings,
    }
