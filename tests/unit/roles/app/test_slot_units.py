# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The slot units, drop-ins and server configurations, rendered by ansible-core's template engine as the roles do."""

from __future__ import annotations

import json
import pathlib

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.flaskops.deploy.plugins.module_utils import _gunicorn as gunicorn

REPO = pathlib.Path(__file__).resolve().parents[4]
ROLES = REPO / "roles"
BASE = {
    "app_name": "hello",
    "app_domains": ["hello.test"],
    "ansible_managed": "Ansible managed",
    "ansible_facts": {"processor_vcpus": 2, "memtotal_mb": 1985},
}


def templar(overrides=None, roles=("app", "systemd")):
    """Role defaults < inventory (BASE, overrides) < role vars, as in a play."""
    loader = DataLoader()
    variables = {}
    for role in roles:
        variables.update(loader.load_from_file(str(ROLES / role / "defaults" / "main.yml"), trusted_as_template=True))
    variables.update(BASE)
    variables.update(overrides or {})
    for role in roles:
        path = ROLES / role / "vars" / "main.yml"
        if path.exists():
            variables.update(loader.load_from_file(str(path), trusted_as_template=True))
    return Templar(loader=loader, variables=variables)


def expr(t, expression):
    return t.evaluate_expression(trust_as_template(expression))


def render_unit(t, item):
    source = (ROLES / "systemd" / "templates" / "unit.j2").read_text(encoding="utf-8")
    return t.copy_with_new_env(available_variables={**t.available_variables, "__systemd_item": item}).template(
        trust_as_template(source), escape_backslashes=False)


def units(overrides=None):
    t = templar(overrides)
    return t, {item["name"]: render_unit(t, item) for item in expr(t, "__app_units")}


def lines(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_socket_template_is_held_by_systemd_for_nginx():
    dummy, rendered = units()
    socket = lines(rendered["hello@.socket"])
    assert "ListenStream=/run/hello/%i.sock" in socket
    assert {"SocketUser=root", "SocketGroup=www-data", "SocketMode=0660", "RemoveOnStop=yes"} <= set(socket)
    assert "Also=hello@%i.service" in socket


def test_service_template_is_hardened_and_never_names_current():
    dummy, rendered = units()
    service = rendered["hello@.service"]
    body = lines(service)
    for setting in ("Type=notify", "User=hello", "Group=hello", "ProtectSystem=strict", "ReadWritePaths=/srv/hello/shared",
                    "NoNewPrivileges=yes", "CapabilityBoundingSet=", "PrivateTmp=yes", "ProtectHome=yes",
                    "MemoryDenyWriteExecute=yes", "SystemCallFilter=@system-service", "SystemCallFilter=~@privileged @resources",
                    "EnvironmentFile=/etc/hello/slots/%i/env", "Requires=hello@%i.socket", "SyslogIdentifier=hello-%i"):
        assert setting in body, setting
    assert "PrivateUsers=yes" not in body  # 217/USER in unprivileged containers
    assert not any("current" in line for line in body)  # the comment may say so, no setting does
    assert any(line.startswith("ExecStart=/bin/sh -c ") for line in body)  # a slot without a release refuses to start


def test_memory_deny_write_execute_can_be_turned_off():
    dummy, rendered = units({"app_memory_deny_write_execute": False})
    assert "MemoryDenyWriteExecute=no" in lines(rendered["hello@.service"])


def test_tcp_slots_get_their_addresses_from_dropins():
    t, rendered = units({"app_slot_listen": "tcp"})
    assert "ListenStream=" in lines(rendered["hello@.socket"])
    dropins = {d["unit"] + "/" + d["name"]: d for d in expr(t, "__app_unit_dropins")}
    assert dropins["hello@blue.socket/50-listen"]["state"] == "present"
    assert "ListenStream=127.0.0.1:8002" in lines(render_unit(t, dropins["hello@green.socket/50-listen"]))
    assert expr(t, "__app_slot_upstream") == {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002"}


def test_unix_slots_remove_stale_listen_dropins_and_write_local_overrides():
    t = templar({"app_service_overrides": {"MemoryMax": "512M"}})
    dropins = {d["unit"] + "/" + d["name"]: d for d in expr(t, "__app_unit_dropins")}
    assert dropins["hello@blue.socket/50-listen"]["state"] == "absent"
    assert dropins["hello@.service/50-local"]["state"] == "present"
    assert "MemoryMax=512M" in lines(render_unit(t, dropins["hello@.service/50-local"]))
    assert expr(t, "__app_slot_upstream") == {"blue": "unix:/run/hello/blue.sock", "green": "unix:/run/hello/green.sock"}


@pytest.mark.parametrize("server, command", [
    ("gunicorn", "/srv/hello/releases/abc/.venv/bin/gunicorn --config /etc/hello/slots/green/gunicorn.conf.py"),
    ("waitress", "/srv/hello/releases/abc/.venv/bin/python /usr/local/lib/flaskops/waitress_systemd.py "
                 "/etc/hello/slots/green/waitress.json"),
    ("uwsgi", "/usr/bin/uwsgi-core --ini /etc/hello/slots/green/uwsgi.ini --virtualenv /srv/hello/releases/abc/.venv"),
])
def test_a_slot_runs_its_release_directory(server, command):
    t = templar({"app_server": server, "__app_release_id": "abc", "__app_next": "green"})
    assert expr(t, "__app_exec[app_server]") == command
    files = expr(t, "__app_runtime_files")
    assert files[0] == "/etc/hello/env"
    assert "/etc/systemd/system/hello@.service" in files and "/etc/systemd/system/hello@green.socket.d/50-listen.conf" in files


def test_waitress_launcher_path_matches_the_app_role():
    app = templar({"app_server": "waitress"})
    waitress = templar(roles=("app", "waitress"))
    assert expr(app, "__app_waitress_wrapper") == expr(waitress, "__waitress_wrapper")


def test_uwsgi_binary_matches_the_app_role_and_its_config_renews_the_slot():
    app = templar({"app_server": "uwsgi", "__app_release_id": "abc"})
    uwsgi = templar(roles=("app", "uwsgi"))
    assert expr(app, "__app_uwsgi_binary") == expr(uwsgi, "__uwsgi_binary")
    assert "/etc/hello/uwsgi.ini" in expr(app, "__app_runtime_files")
    assert expr(app, "__app_servers[app_server].config") == ["uwsgi.ini"]


def test_waitress_configuration_trusts_only_the_proxy_on_the_socket():
    t = templar({"waitress_threads": 6}, roles=("app", "waitress"))
    config = expr(t, "__waitress_config")
    json.dumps(config)
    assert config["app"] == "wsgi:app"
    assert config["adjustments"]["threads"] == 6
    assert config["adjustments"]["trusted_proxy"] == "localhost"
    assert config["adjustments"]["max_request_body_size"] == 16777216
    assert config["stop_timeout"] == 30
    tcp = expr(templar({"app_slot_listen": "tcp"}, roles=("app", "waitress")), "__waitress_config")
    assert tcp["adjustments"]["trusted_proxy"] == "127.0.0.1"


def gunicorn_config(overrides=None):
    """gunicorn.conf.py as configure.yml writes it: flaskops.deploy.gunicorn_settings first, on the role's values."""
    t = templar(overrides, roles=("app", "gunicorn"))
    settings = gunicorn.worker_settings(
        expr(t, "gunicorn_worker_class"),
        expr(t, "gunicorn_workers"),
        int(expr(t, "__gunicorn_workers | int")),
        expr(t, "gunicorn_max_requests"),
        expr(t, "gunicorn_max_requests_jitter"),
        expr(t, "gunicorn_socketio"),
    )
    t = t.copy_with_new_env(available_variables={**t.available_variables, "__gunicorn_settings": settings})
    source = (ROLES / "gunicorn" / "templates" / "gunicorn.conf.py.j2").read_text(encoding="utf-8")
    text = t.template(trust_as_template(source), escape_backslashes=False)
    namespace = {}
    exec(compile(text, "gunicorn.conf.py", "exec"), namespace)  # noqa: S102 - our own rendered settings
    return namespace


def test_gunicorn_configuration_compiles_and_computes_workers():
    namespace = gunicorn_config()
    assert namespace["workers"] == 5  # min(2 x 2 + 1, 1985 // 128), at least 2
    assert namespace["wsgi_app"] == "wsgi:app"
    assert namespace["graceful_timeout"] == 30
    assert (namespace["max_requests"], namespace["max_requests_jitter"]) == (1000, 100)
    assert "bind" not in namespace  # systemd passes the socket


def test_gunicorn_socketio_runs_one_eventlet_worker_never_recycled():
    namespace = gunicorn_config({"gunicorn_worker_class": "eventlet", "gunicorn_socketio": True})
    assert (namespace["worker_class"], namespace["workers"]) == ("eventlet", 1)
    assert (namespace["max_requests"], namespace["max_requests_jitter"]) == (0, 0)
