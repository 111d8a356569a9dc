"""The one line of Debian's global nginx.conf the role owns (ssl_protocols), and the jail that reads its 429s.

debian12-nginx.conf is Debian 12's /etc/nginx/nginx.conf as the nginx package installs it. The role's entry of
flaskops.deploy.config_files (state lines) is applied to it with the module's own line edit.
"""

from __future__ import annotations

import pathlib
import re

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.flaskops.deploy.plugins.module_utils._config_files import edit_lines
from ansible_collections.flaskops.deploy.tests.unit.roles.nginx.conftest import REPO, ROLE

DEBIAN_NGINX_CONF = pathlib.Path(__file__).with_name("debian12-nginx.conf").read_text(encoding="utf-8")


def global_protocols_task():
    tasks = yaml.safe_load((ROLE / "tasks" / "configure.yml").read_text(encoding="utf-8"))
    found = [
        (entry, task)
        for task in tasks
        for entry in task.get("flaskops.deploy.config_files", {}).get("files", [])
        if entry.get("path") == "/etc/nginx/nginx.conf"
    ]
    assert len(found) == 1, "one task owns nginx.conf's ssl_protocols line"
    return found[0]


def apply_lineinfile(text, regexp, line):
    """The module's edit of an existing file; returns (new text, changed)."""
    new = edit_lines(text, regexp, line)
    return new, new != text


def ssl_protocols(text):
    return re.findall(r"^\s*ssl_protocols\s+([^;]*);", text, re.M)


@pytest.mark.parametrize(("profile", "expected"), [("intermediate", "TLSv1.2 TLSv1.3"), ("modern", "TLSv1.3")])
def test_debians_global_protocols_follow_the_profile(nginx_templar, profile, expected):
    assert ssl_protocols(DEBIAN_NGINX_CONF) == ["TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"], "the file as Debian ships it"
    args, task = global_protocols_task()
    templar = nginx_templar({"nginx_tls_profile": profile})
    line = templar.templar.template(trust_as_template(args["line"]))
    assert args["state"] == "lines", "a file without the line is left alone"
    fixed, changed = apply_lineinfile(DEBIAN_NGINX_CONF, args["regexp"], line)
    assert changed
    assert ssl_protocols(fixed) == [expected]
    assert "TLSv1 " not in fixed and "TLSv1.1" not in fixed
    assert "\tssl_protocols" in fixed, "Debian's indentation is kept"
    assert len(fixed.splitlines()) == len(DEBIAN_NGINX_CONF.splitlines()), "only that line changes"
    again, changed = apply_lineinfile(fixed, args["regexp"], line)
    assert (again, changed) == (fixed, False), "a second run changes nothing"
    assert task["flaskops.deploy.config_files"]["validate"] == ["nginx", "-t", "-q"]
    assert task["notify"] == "flaskops nginx reload"


def test_the_sites_profile_sets_the_global_line(nginx_templar):
    """The same versions as the sites and the default server (__nginx_tls_directives)."""
    templar = nginx_templar({"nginx_tls_profile": "intermediate"})
    assert templar.expr("__nginx_tls_directives")[0] == "ssl_protocols " + templar.expr("__nginx_tls_profile.protocols")


def test_fail2ban_reads_the_429s_of_the_default_limit():
    """With fail2ban managed, its nginx-limit-req jail is on and reads the error log nginx writes the 429s to."""
    loader = DataLoader()
    role = REPO / "roles" / "fail2ban"
    variables = {}
    variables.update(loader.load_from_file(str(role / "defaults" / "main.yml"), trusted_as_template=True))
    variables.update({"ansible_managed": "Ansible managed", "app_name": "hello"})
    variables.update(loader.load_from_file(str(role / "vars" / "main.yml"), trusted_as_template=True))
    templar = Templar(loader=loader, variables=variables)
    jail = templar.template(trust_as_template((role / "templates" / "jail.local.j2").read_text(encoding="utf-8")))
    section = re.search(r"^\[nginx-limit-req\]\n(.*?)(?:\n\[|\Z)", jail, re.S | re.M).group(1)
    settings = dict(re.findall(r"^(\S+) = (.*)$", section, re.M))
    assert settings["enabled"] == "true"
    (error_log,) = re.findall(r"^error_log\s+(\S+);", DEBIAN_NGINX_CONF, re.M)
    assert settings["logpath"] == error_log
    assert "nginx-limit-req" in templar.evaluate_expression(trust_as_template("__fail2ban_jails"))
    site = (ROLE / "templates" / "site.conf.j2").read_text(encoding="utf-8")
    assert "limit_req_log_level" not in site, "the rejections are logged at error level, where the filter reads them"
