# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The uwsgi role's uwsgi.ini, rendered by ansible-core's template engine as the role does (and run by uwsgi-core
--strict where it is installed)."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "uwsgi"


def render(overrides=None):
    loader = DataLoader()
    variables = dict(loader.load_from_file(str(ROLE / "defaults" / "main.yml"), trusted_as_template=True))
    variables.update({"app_name": "hello", "ansible_managed": "Ansible managed"})
    variables.update(overrides or {})
    variables.update(loader.load_from_file(str(ROLE / "vars" / "main.yml"), trusted_as_template=True))
    source = (ROLE / "templates" / "uwsgi.ini.j2").read_text(encoding="utf-8")
    return Templar(loader=loader, variables=variables).template(trust_as_template(source), escape_backslashes=False)


def options(text):
    """The ``name = value`` lines of the [uwsgi] section, in order (uWSGI allows an option more than once)."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith((";", "#", "[")):
            name, dummy, value = line.partition(" = ")
            found.append((name, value))
    return found


def test_defaults_serve_http_on_the_systemd_socket_and_stop_gracefully():
    opts = dict(options(render()))
    assert opts["plugins"] == "python3"
    assert opts["protocol"] == "http"
    assert opts["add-header"] == "Connection: close"  # nginx must not keep an upstream connection uWSGI closes
    assert opts["module"] == "wsgi:app"
    assert opts["strict"] == "true" and opts["master"] == "true" and opts["need-app"] == "true"
    assert (opts["processes"], opts["threads"], opts["harakiri"], opts["max-requests"], opts["buffer-size"]) == (
        "2", "2", "30", "0", "8192")
    assert opts["lazy-apps"] == "true"
    # SIGTERM from systemd is a graceful shutdown, bounded by the stop timeout; die-on-term would kill requests.
    assert opts["hook-master-start"] == "unix_signal:15 gracefully_kill_them_all"
    assert opts["worker-reload-mercy"] == "30"
    assert "die-on-term" not in opts
    # uWSGI never binds a socket of its own: systemd passes it.
    assert not {"socket", "http-socket", "http", "uwsgi-socket", "daemonize", "uid", "gid"} & set(opts)
    # %% is uWSGI's escape for a literal %, so that %(addr) is a log variable, not a config placeholder.
    assert opts["log-format"].startswith('%%(addr) "%%(method) %%(uri) %%(proto)" %%(status)')


def test_settings_and_extra_options():
    text = render({"uwsgi_processes": 4, "uwsgi_threads": 1, "uwsgi_lazy_apps": False, "uwsgi_access_log": False,
                   "uwsgi_stop_timeout": 12,
                   "uwsgi_extra_options": {"reload-on-rss": 256, "env": ["A=1", "B=2"], "vacuum": True}})
    opts = options(text)
    plain = dict(opts)
    assert (plain["processes"], plain["threads"], plain["lazy-apps"], plain["worker-reload-mercy"]) == (
        "4", "1", "false", "12")
    assert plain["disable-logging"] == "true" and "log-format" not in plain
    assert opts[-4:] == [("reload-on-rss", "256"), ("env", "A=1"), ("env", "B=2"), ("vacuum", "true")]


@pytest.mark.skipif(shutil.which("uwsgi-core") is None, reason="uwsgi-core (Debian's package) is not installed here")
def test_uwsgi_core_strict_accepts_the_file_and_refuses_a_typo(tmp_path):
    good = tmp_path / "good.ini"
    good.write_text(render(), encoding="utf-8")
    check = ["uwsgi-core", "--strict", "--ini", str(good), "--hook-asap", "exit:0"]
    assert subprocess.run(check, capture_output=True, check=False).returncode == 0
    bad = tmp_path / "bad.ini"
    bad.write_text(render({"uwsgi_extra_options": {"procesess": 3}}), encoding="utf-8")
    check[3] = str(bad)
    result = subprocess.run(check, capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "procesess" in result.stdout + result.stderr
