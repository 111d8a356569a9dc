"""Helpers for the nginx role's unit tests: ansible-core's own template engine, fed like the role feeds it.

The role's defaults and vars files are loaded with ansible-core's DataLoader (their strings are trusted templates,
as in a play); the test's inputs sit between them as inventory variables would (role defaults < inventory <
role vars), and the facts the role's tasks set (facts.yml) come last.
"""

from __future__ import annotations

import pathlib

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

REPO = pathlib.Path(__file__).resolve().parents[4]
ROLE = REPO / "roles" / "nginx"

BASE_VARS = {
    "app_name": "hello",
    "app_domains": ["hello.test", "www.hello.test"],
    "ansible_managed": "Ansible managed",
    # A single web host: no load balancer group.
    "groups": {"all": ["web1"], "web": ["web1"], "ungrouped": []},
    "hostvars": {"web1": {"inventory_hostname": "web1"}},
}
# What tasks/facts.yml sets on Debian 12 (nginx 1.22) for a certificate without an OCSP responder, and what
# flaskops.deploy.nginx_upstream returns in configure.yml for site hello.
BASE_FACTS = {
    "__nginx_http2_directive": False,
    "__nginx_ocsp_stapling": False,
    "__nginx_upstream": {"path": "/etc/nginx/flaskops/hello.upstream.conf"},
}


class NginxTemplar:
    """Render the role's templates and expressions with inventory overrides and task facts."""

    def __init__(self, overrides=None, facts=None):
        loader = DataLoader()
        variables = {}
        variables.update(loader.load_from_file(str(ROLE / "defaults" / "main.yml"), trusted_as_template=True))
        variables.update(BASE_VARS)
        variables.update(overrides or {})
        variables.update(loader.load_from_file(str(ROLE / "vars" / "main.yml"), trusted_as_template=True))
        variables.update(BASE_FACTS)
        variables.update(facts or {})
        self.templar = Templar(loader=loader, variables=variables)

    def expr(self, expression):
        return self.templar.evaluate_expression(trust_as_template(expression))

    def template_file(self, name):
        source = (ROLE / "templates" / name).read_text(encoding="utf-8")
        return self.templar.template(trust_as_template(source), escape_backslashes=False)


@pytest.fixture
def nginx_templar():
    """Factory: nginx_templar(overrides, facts) -> NginxTemplar."""
    return NginxTemplar
