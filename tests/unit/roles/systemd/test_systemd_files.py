# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The entries the systemd role gives flaskops.deploy.config_files (vars/main.yml __systemd_files): every unit and
drop-in, each drop-in directory once and before its drop-ins, the removals last; and the same paths the role_state
record lists as written and removed."""

from __future__ import annotations

import pathlib

import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "systemd"

UNITS = [
    {"name": "hello@.service", "service": {"ExecStart": "/bin/true"}},
    {"name": "hello@blue.socket", "state": "started", "enabled": True},
    {"name": "old.timer", "state": "absent"},
]
DROPINS = [
    {"unit": "hello@blue.socket", "name": "50-listen", "socket": {"ListenStream": "/run/hello/blue.sock"}},
    {"unit": "hello@blue.socket", "name": "60-extra", "socket": {"Backlog": 64}},
    {"unit": "nginx.service", "name": "10-limits", "service": {"LimitNOFILE": 4096}},
    {"unit": "nginx.service", "name": "05-old", "state": "absent"},
]


def evaluate(expression: str) -> object:
    loader = DataLoader()
    variables = dict(loader.load_from_file(str(ROLE / "defaults" / "main.yml"), trusted_as_template=True))
    variables.update(loader.load_from_file(str(ROLE / "vars" / "main.yml"), trusted_as_template=True))
    variables.update(systemd_units=UNITS, systemd_dropins=DROPINS, systemd_unit_dir="/etc/systemd/system")
    return Templar(loader=loader, variables=variables).template(trust_as_template("{{ %s }}" % expression))


def test_entries_in_order_with_each_items_template_variables() -> None:
    files = evaluate("__systemd_files")
    assert [(e["path"], e.get("state", "file")) for e in files] == [
        ("/etc/systemd/system/hello@.service", "file"),
        ("/etc/systemd/system/hello@blue.socket", "file"),
        ("/etc/systemd/system/hello@blue.socket.d", "directory"),
        ("/etc/systemd/system/nginx.service.d", "directory"),
        ("/etc/systemd/system/hello@blue.socket.d/50-listen.conf", "file"),
        ("/etc/systemd/system/hello@blue.socket.d/60-extra.conf", "file"),
        ("/etc/systemd/system/nginx.service.d/10-limits.conf", "file"),
        ("/etc/systemd/system/old.timer", "absent"),
        ("/etc/systemd/system/nginx.service.d/05-old.conf", "absent"),
    ]
    written = [e for e in files if e.get("template")]
    assert all(e["template"] == "unit.j2" and e["mode"] == "0644" and e["owner"] == "root" for e in written)
    assert [e["template_vars"]["__systemd_item"] for e in written] == UNITS[:2] + DROPINS[:3]


def test_the_same_paths_as_the_role_state_record() -> None:
    files = evaluate("__systemd_files")
    assert sorted(e["path"] for e in files if e.get("template")) == sorted(evaluate("__systemd_owned_files"))
    assert sorted(e["path"] for e in files if e.get("state") == "absent") == sorted(evaluate("__systemd_absent_files"))


def test_systemd_reads_the_units_again_in_the_call_that_changed_them() -> None:
    tasks = yaml.safe_load((ROLE / "tasks" / "units.yml").read_text(encoding="utf-8"))
    [write] = [t for t in tasks if "flaskops.deploy.config_files" in t]
    assert write["flaskops.deploy.config_files"]["on_change"] == ["systemctl", "daemon-reload"]
    assert write["register"] == "__systemd_files_result"
    # no task of its own: the daemon-reload costs no remote call of its own
    assert not [t for t in tasks if "daemon_reload" in str(t)]
