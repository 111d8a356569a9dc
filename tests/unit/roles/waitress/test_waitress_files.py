# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The entries the waitress role gives flaskops.deploy.config_files (vars/main.yml __waitress_files): the launcher's
directory before the launcher, waitress.json as JSON of the role's settings, and the same files as its role_state
record."""

from __future__ import annotations

import json
import pathlib

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "waitress"


def evaluate(expression: str, **overrides: object) -> object:
    loader = DataLoader()
    variables = dict(loader.load_from_file(str(ROLE / "defaults" / "main.yml"), trusted_as_template=True))
    variables.update(loader.load_from_file(str(ROLE / "vars" / "main.yml"), trusted_as_template=True))
    variables.update(app_name="hello", app_group="hello", app_wsgi="hello:create()", app_config_dir="/etc/hello")
    variables.update(overrides)
    return Templar(loader=loader, variables=variables).template(trust_as_template("{{ %s }}" % expression))


def test_entries_in_order() -> None:
    files = evaluate("__waitress_files")
    assert [(e["path"], e.get("state", "file")) for e in files] == [
        ("/usr/local/lib/flaskops", "directory"),
        ("/usr/local/lib/flaskops/waitress_systemd.py", "file"),
        ("/etc/hello/waitress.json", "file"),
    ]
    assert files[1]["src"] == "waitress_systemd.py" and (ROLE / "files" / files[1]["src"]).is_file()
    assert [(e["owner"], e["group"], e["mode"]) for e in files] == [
        ("root", "root", "0755"), ("root", "root", "0644"), ("root", "hello", "0640")]


def test_waitress_json_is_the_settings_as_json() -> None:
    content = evaluate("__waitress_files", waitress_threads=8)[2]["content"]
    assert content.endswith("}\n")
    config = json.loads(content)
    assert config["app"] == "hello:create()"
    assert config["adjustments"]["threads"] == 8 and config["adjustments"]["ident"] == "hello"


def test_the_same_files_as_the_role_state_record() -> None:
    files = evaluate("__waitress_files")
    assert evaluate("__waitress_owned_files") == [e["path"] for e in files if e.get("state", "file") == "file"]
    assert evaluate("__waitress_owned_files") == [evaluate("__waitress_wrapper"), evaluate("__waitress_conf")]
