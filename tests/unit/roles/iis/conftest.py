"""Helpers for the iis role's unit tests: Ansible's own template engine, fed like the role feeds it.

The role's defaults and vars files are loaded with ansible-core's DataLoader (their strings are trusted
templates, as in a play); the test's inputs sit between them, as inventory variables would
(role defaults < inventory < role vars).
"""

from __future__ import annotations

import os
import pathlib
import sys

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

REPO = pathlib.Path(__file__).resolve().parents[4]
ROLE = REPO / "roles" / "iis"

# The smallest inventory that passes the role's checks.
BASE_VARS = {
    "app_name": "demo",
    "app_domains": ["example.com"],
    "app_source_path": "/srv/src/demo",
    "iis_certificate_thumbprint": "0123456789ABCDEF0123456789ABCDEF01234567",
    "ansible_managed": "Ansible managed",
}


def load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


class RoleTemplar:
    """Template strings, files and variable expressions with the role's variables.

    overrides: inventory-level inputs; facts: values the tasks would set with set_fact (they win over vars/).
    """

    def __init__(self, overrides=None, facts=None):
        loader = DataLoader()
        defaults = loader.load_from_file(str(ROLE / "defaults" / "main.yml"), trusted_as_template=True)
        role_vars = loader.load_from_file(str(ROLE / "vars" / "main.yml"), trusted_as_template=True)
        variables = {}
        variables.update(defaults)
        variables.update(BASE_VARS)
        variables.update(overrides or {})
        variables.update(role_vars)
        variables.update(facts or {})  # set_fact values outrank role vars
        self.variables = variables
        self.templar = Templar(loader=loader, variables=variables)

    def expr(self, expression):
        """Evaluate a Jinja expression (e.g. a variable name) to a native value."""
        return self.templar.evaluate_expression(trust_as_template(expression))

    def var(self, name):
        return self.expr(name)

    def text(self, source):
        return self.templar.template(trust_as_template(source), escape_backslashes=False)

    def template_file(self, name):
        source = (ROLE / "templates" / name).read_text(encoding="utf-8")
        return self.text(source)


@pytest.fixture
def role_templar():
    """Factory: role_templar(overrides) -> RoleTemplar."""
    return RoleTemplar


def ansible_cli(name):
    """The command line that runs an ansible-core CLI (``ansible-doc``, ``ansible-playbook``) with this interpreter.

    The console script beside the interpreter when there is one (a venv with ansible-core installed); under
    ``ansible-test units`` ansible-core is on PYTHONPATH without its scripts, so the CLI module is run instead.
    """
    script = pathlib.Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    module = name.split("-", 1)[1]
    return [sys.executable, "-c", "import sys; from ansible.cli.%s import main; sys.argv[0] = %r; main()" % (module, name)]


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory):
    """A collections path (os.pathsep-separated) where this checkout is flaskops.deploy (what the Makefile's
    .collections does), then the ansible_collections tree the checkout sits in, if any: ``ansible-test units`` runs in
    one, with the collection's dependencies beside it."""
    root = tmp_path_factory.mktemp("collections")
    target = root / "ansible_collections" / "flaskops"
    target.mkdir(parents=True)
    os.symlink(REPO, target / "deploy")
    paths = [str(root)]
    if REPO.parent.parent.name == "ansible_collections":
        paths.append(str(REPO.parent.parent.parent))
    return os.pathsep.join(paths)


@pytest.fixture(scope="session", autouse=True)
def _collection_loader(collections_path):
    """Let the template engine find collection filters (community.general, ansible.windows, flaskops.deploy)."""
    init_plugin_loader(collections_path.split(os.pathsep))
