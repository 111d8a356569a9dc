#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: gunicorn_settings
short_description: Decide gunicorn's worker count and recycling from the worker class, and refuse Socket.IO on several workers
version_added: 1.0.0
description:
  - Runs on the controller only (an action plugin); changes nothing on any host. The gunicorn role runs it in its
    input checks (the playbooks' preflight) and before it writes C(gunicorn.conf.py), whose C(workers),
    C(max_requests) and C(max_requests_jitter) are its results.
  - "Recycling: an empty O(max_requests) means no recycling (C(0)) for the async worker classes C(eventlet) and
    C(gevent), and 1000 requests for the others. A recycle of an async worker drops every connection it holds
    (WebSockets, long polling) and makes requests wait while it restarts, so a value the user sets for an async
    worker is kept with a warning. O(max_requests_jitter) is C(0) when there is no recycling."
  - "Socket.IO (O(socketio=true)): a session lives in one worker's memory and the slots have no sticky sessions, so
    an empty O(workers) gives 1 worker, and a count above 1 fails with a message naming C(gunicorn_socketio) and
    C(gunicorn_workers)."
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
  - flaskops.deploy.attributes.info_module
options:
  worker_class:
    description:
      - gunicorn's worker class (C(sync), C(gthread), C(eventlet), C(gevent)).
    type: str
    required: true
  workers:
    description:
      - The worker count the user chose; empty takes O(formula_workers) (1 with O(socketio)).
    type: raw
    default: ""
  formula_workers:
    description:
      - The worker count computed for an empty O(workers) (the gunicorn role's formula from the host's CPUs and memory).
    type: int
    required: true
  max_requests:
    description:
      - Requests before a worker is recycled as the user set it (C(0) never); empty decides by the worker class.
    type: raw
    default: ""
  max_requests_jitter:
    description:
      - Random extra requests before a recycle.
    type: int
    default: 0
  socketio:
    description:
      - The application is a Socket.IO server (Flask-SocketIO).
    type: bool
    default: false
  positive:
    description:
      - Settings that must be whole numbers of at least 1, by the name of their variable (the role passes
        C(gunicorn_threads), C(gunicorn_timeout) and C(gunicorn_graceful_timeout)); the task fails naming each one
        that is not.
    type: dict
    default: {}
  warn:
    description:
      - Show the warnings (they are always returned in RV(notes)). The role's input checks turn them off, so that a
        run shows each warning once.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Decide the workers of an eventlet server
  flaskops.deploy.gunicorn_settings:
    worker_class: eventlet
    formula_workers: 5
  register: gunicorn

- name: Refuse Socket.IO on several workers
  flaskops.deploy.gunicorn_settings:
    worker_class: eventlet
    workers: 4
    formula_workers: 5
    socketio: true

- name: Keep the user's recycling of a sync server
  flaskops.deploy.gunicorn_settings:
    worker_class: sync
    workers: ""
    formula_workers: 5
    max_requests: 500
    max_requests_jitter: 50
"""

RETURN = r"""
workers:
  description: The worker count.
  returned: success
  type: int
  sample: 1
max_requests:
  description: Requests before a worker is recycled (C(0) never).
  returned: success
  type: int
  sample: 0
max_requests_jitter:
  description: Random extra requests before a recycle (C(0) without recycling).
  returned: success
  type: int
  sample: 0
async_workers:
  description: Whether the worker class is an async one (C(eventlet) or C(gevent)).
  returned: success
  type: bool
  sample: true
notes:
  description: The warnings about the settings (shown as warnings too unless O(warn=false)).
  returned: success
  type: list
  elements: str
  sample: ["gunicorn_max_requests is 1000 with worker class eventlet: each recycle drops every open connection ..."]
msg:
  description: A summary, or why the settings were refused.
  returned: always
  type: str
  sample: "1 eventlet worker(s), never recycled"
"""
