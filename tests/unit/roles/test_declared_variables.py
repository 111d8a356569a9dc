"""Each role's argument spec declares every variable the role reads.

The rule: a role reads only what its ``meta/argument_specs.yml`` declares (any entry point), what it defines itself
(its defaults and vars files, ``set_fact``, ``register``, ``vars:``, loop variables) and Ansible's own magic
variables. No role reads another role's private ``__<role>_*`` variables or another role's ``set_fact``: what a play
must share, it passes explicitly. The shared inputs of docs/variables.md (``app_name``, ``app_domains``, ...) may be
read by any role that declares them too.

The reads are found statically with Jinja2's own parser (``jinja2.meta.find_undeclared_variables``): every template
string of tasks, handlers, defaults and vars files, the bare expressions of ``when``, ``that``, ``until``,
``failed_when``, ``changed_when`` and ``debug: var``, and the role's ``templates/*.j2``. Dynamic reads through
``vars['name']``, ``hostvars[host]['name']`` and ``lookup('vars', 'name')`` with a literal name count as well.
"""

from __future__ import annotations

import pathlib
import re
import warnings

import jinja2
import jinja2.meta
import pytest
import yaml
from jinja2 import nodes

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())

# Reads no role can avoid and none needs to declare: Ansible's magic and special variables, and the globals of its
# template engine (functions such as lookup are names to Jinja2). Anything starting with ansible_ is magic too.
MAGIC = frozenset(
    {
        "environment",
        "group_names",
        "groups",
        "hostvars",
        "inventory_dir",
        "inventory_file",
        "inventory_hostname",
        "inventory_hostname_short",
        "item",
        "omit",
        "play_hosts",
        "playbook_dir",
        "role_name",
        "role_names",
        "role_path",
        "vars",
        # ansible.builtin.template's own variables
        "template_destpath",
        "template_fullpath",
        "template_host",
        "template_path",
        "template_run_date",
        "template_uid",
        # template engine globals
        "cycler",
        "dict",
        "joiner",
        "lipsum",
        "lookup",
        "namespace",
        "now",
        "q",
        "query",
        "range",
        "undef",
    }
)
MAGIC_PREFIXES = ("ansible_",)

# Reads that cannot be fixed where they are yet, each with its reason: (role, variable) -> reason. It covers all three
# checks. Keep it as short as possible; an entry that no longer matches a read fails the test, so none goes stale.
ALLOWLIST: dict[tuple[str, str], str] = {
    # tasks/activate.yml: whether the included systemd role changed a unit file (its set_fact systemd_changed).
    ("app", "systemd_changed"): "app role being refactored",
    # tasks/validate.yml: the play's list of roles (flaskops_preflight_roles), a playbook variable.
    ("app", "flaskops_preflight_roles"): "app role being refactored",
    # converge.yml, restart.yml, rollback.yml: the playbooks (site.yml, playbooks/tasks/rolling.yml) pass it when their
    # preflight has just run the app role's input checks; anyone else's play leaves it undefined and the checks run.
    ("app", "__app_inputs_checked"): "internal: set by this collection's playbooks only",
    # vars/main.yml __app_site_https (app_config_check_https: auto): other roles' inputs and a playbook variable.
    ("app", "certbot_tls_mode"): "app role being refactored",
    ("app", "nginx_tls_certificate"): "app role being refactored",
    ("app", "flaskops_lb_group"): "app role being refactored",
    # defaults/main.yml: nginx_tls_certificate(_key) default to the paths the certbot role publishes with set_fact.
    # Passing them explicitly needs every play that runs certbot then nginx to pass them (playbooks/site.yml and
    # molecule/nginx/converge.yml), with the certificate an inventory gives nginx still winning.
    ("nginx", "certbot_tls_certificate"): "certbot's published certificate; the plays must pass it explicitly first",
    ("nginx", "certbot_tls_certificate_key"): "certbot's published key; the plays must pass it explicitly first",
}

CONDITIONAL_KEYS = frozenset({"when", "failed_when", "changed_when", "until", "that"})
SET_FACT = frozenset({"set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact"})
DEBUG = frozenset({"debug", "ansible.builtin.debug", "ansible.legacy.debug"})
INCLUDE_VARS = frozenset({"include_vars", "ansible.builtin.include_vars", "ansible.legacy.include_vars"})
VARS_LOOKUPS = frozenset({"vars", "ansible.builtin.vars", "ansible.legacy.vars"})
PRIVATE = re.compile(r"^__([a-z0-9]+)_")


def _reads_itself():
    """Modules whose action reads role variables itself: each option named like a variable the task does not pass."""
    from ansible_collections.flaskops.deploy.plugins.action.app_inputs import ActionModule as AppInputs

    return {"flaskops.deploy.app_inputs": {name for name in AppInputs.ARGUMENT_SPEC if name.startswith("app_")}}


READS_ITSELF = _reads_itself()


class Unsafe(str):
    """A string tagged !unsafe: never templated, so it reads nothing."""


class Loader(yaml.SafeLoader):
    """YAML with Ansible's tags: !unsafe strings are kept apart, other tags (!vault) are read as plain values."""


def _unsafe(loader, node):
    return Unsafe(loader.construct_scalar(node))


def _any_tag(loader, suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


Loader.add_constructor("!unsafe", _unsafe)
Loader.add_multi_constructor("!", _any_tag)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


class _Tolerant(dict):
    """Filters and tests by any name: the parser needs to know none of Ansible's plugins."""

    def __missing__(self, key):
        return lambda *args, **kwargs: None

    def get(self, key, default=None):
        return self[key]

    def __contains__(self, key):
        return True


ENV = jinja2.Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"])
ENV.filters = _Tolerant(ENV.filters)
ENV.tests = _Tolerant(ENV.tests)


def _const(node):
    return node.value if isinstance(node, nodes.Const) and isinstance(node.value, str) else None


def _dynamic_reads(ast):
    """Names read through vars['x'], vars.x, hostvars[h]['x'], hostvars[h].x and lookup('vars', 'x')."""
    found = set()
    for node in ast.find_all((nodes.Getitem, nodes.Getattr, nodes.Call)):
        if isinstance(node, nodes.Call):
            if isinstance(node.node, nodes.Name) and node.node.name in ("lookup", "query", "q") and node.args:
                if _const(node.args[0]) in VARS_LOOKUPS:
                    found.update(name for name in map(_const, node.args[1:]) if name)
            continue
        name = _const(node.arg) if isinstance(node, nodes.Getitem) else node.attr
        base = node.node
        if isinstance(base, nodes.Name) and base.name == "vars" and name:
            found.add(name)
        elif isinstance(base, (nodes.Getitem, nodes.Getattr)) and isinstance(base.node, nodes.Name):
            if base.node.name == "hostvars" and name:
                found.add(name)
    return found


def template_reads(source):
    """Variables a template reads (its own {% set %}, loop and macro names excluded)."""
    if isinstance(source, Unsafe):
        return set()
    source = re.sub(r"\A#jinja2:[^\n]*\n", "", source)
    with warnings.catch_warnings():
        # Jinja2 warns about the backslashes of the roles' regular expressions in string literals.
        warnings.simplefilter("ignore", DeprecationWarning)
        ast = ENV.parse(source)
        reads = set(jinja2.meta.find_undeclared_variables(ast))
    # A name {% set %} assigns inside only one branch of an {% if %} is looked up outside as well; it is no input.
    assigned = {node.name for node in ast.find_all(nodes.Name) if node.ctx == "store"}
    return (reads - assigned) | _dynamic_reads(ast)


def expression_reads(expression):
    """Variables a bare expression (when, that, ...) reads."""
    if isinstance(expression, bool) or expression is None:
        return set()
    expression = str(expression)
    if "{{" in expression or "{%" in expression:
        return template_reads(expression)
    return template_reads("{{ %s }}" % expression)


def value_reads(value):
    """Variables the template strings anywhere in a value read."""
    if isinstance(value, str):
        return template_reads(value) if ("{{" in value or "{%" in value) else set()
    if isinstance(value, dict):
        return set().union(*(value_reads(k) | value_reads(v) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(value_reads(v) for v in value))
    return set()


class RoleScan:
    """What one role reads (per file) and defines."""

    def __init__(self, role):
        self.role = role
        self.path = ROOT / "roles" / role
        self.reads = {}  # relative file -> set of names
        self.defined = set()  # names the role sets itself
        self.facts = set()  # names set with set_fact or register (another role must not read the public ones)
        self.declared = set()
        specs = load(self.path / "meta" / "argument_specs.yml")["argument_specs"]
        for entry in specs.values():
            self.declared.update((entry or {}).get("options") or {})
        for kind in ("defaults", "vars"):
            for path in sorted((self.path / kind).glob("*.yml")):
                data = load(path) or {}
                self.defined.update(data)
                self._read(path, value_reads(data))
        for kind in ("tasks", "handlers"):
            for path in sorted((self.path / kind).glob("*.yml")):
                reads = set()
                self._tasks(load(path) or [], reads)
                self._read(path, reads)
        for path in sorted((self.path / "templates").rglob("*.j2")):
            self._read(path, template_reads(path.read_text(encoding="utf-8")))

    def _read(self, path, names):
        self.reads.setdefault(str(path.relative_to(ROOT)), set()).update(names)

    def _tasks(self, tasks, reads):
        for task in tasks:
            if not isinstance(task, dict):
                continue
            for key, value in task.items():
                if key in ("block", "rescue", "always"):
                    self._tasks(value or [], reads)
                elif key in CONDITIONAL_KEYS:
                    for expression in value if isinstance(value, list) else [value]:
                        reads.update(expression_reads(expression))
                elif key == "register":
                    self.defined.add(value)
                    self.facts.add(value)
                elif key == "vars":
                    self.defined.update(value or {})
                    reads.update(value_reads(value))
                elif key == "loop_control":
                    self.defined.update(value[k] for k in ("loop_var", "index_var") if k in value)
                    reads.update(value_reads(value))
                elif key in SET_FACT:
                    assert isinstance(value, dict), "%s: set_fact with k=v arguments is not analysed" % self.role
                    names = set(value) - {"cacheable"}
                    self.defined.update(names)
                    self.facts.update(names)
                    reads.update(value_reads(value))
                elif key in DEBUG and isinstance(value, dict) and "var" in value:
                    reads.update(expression_reads(value["var"]))
                    reads.update(value_reads({k: v for k, v in value.items() if k != "var"}))
                elif key in INCLUDE_VARS and isinstance(value, dict) and "name" in value:
                    self.defined.add(value["name"])
                    reads.update(value_reads(value))
                elif isinstance(value, dict) and "that" in value:
                    # assert (and any module taking a list of conditionals under `that`)
                    for expression in value["that"] if isinstance(value["that"], list) else [value["that"]]:
                        reads.update(expression_reads(expression))
                    reads.update(value_reads({k: v for k, v in value.items() if k != "that"}))
                else:
                    reads.update(value_reads(value))
                    if key in READS_ITSELF:
                        reads.update(READS_ITSELF[key] - set(value or {}))

    def all_reads(self):
        return set().union(*self.reads.values())


@pytest.fixture(scope="module")
def scans():
    return {role: RoleScan(role) for role in ROLES}


def is_magic(name):
    return name in MAGIC or name.startswith(MAGIC_PREFIXES)


def undeclared(scan):
    """(file, name) of every read the role neither declares nor defines."""
    known = scan.declared | scan.defined
    return sorted(
        (path, name) for path, names in scan.reads.items() for name in names if name not in known and not is_magic(name)
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_read_is_declared(role, scans):
    found = [(path, name) for path, name in undeclared(scans[role]) if (role, name) not in ALLOWLIST]
    assert not found, "%s reads variables its argument spec does not declare:\n%s" % (
        role,
        "\n".join("  %s: %s" % item for item in found),
    )


@pytest.mark.parametrize("role", ROLES)
def test_no_private_variable_of_another_role(role, scans):
    found = sorted(
        (path, name)
        for path, names in scans[role].reads.items()
        for name in names
        if PRIVATE.match(name) and not name.startswith("__%s_" % role)
    )
    found = [(path, name) for path, name in found if (role, name) not in ALLOWLIST]
    assert not found, "%s reads private variables of other roles:\n%s" % (role, "\n".join("  %s: %s" % i for i in found))


@pytest.mark.parametrize("role", ROLES)
def test_no_set_fact_of_another_role(role, scans):
    """A fact another role sets (set_fact, register) is not an input, even when this role declares the name."""
    others = {name: other for other, scan in scans.items() if other != role for name in scan.facts}
    own = scans[role].defined
    found = sorted(
        (path, name, others[name])
        for path, names in scans[role].reads.items()
        for name in names
        if name in others and name not in own and (role, name) not in ALLOWLIST
    )
    assert not found, "%s reads facts other roles set:\n%s" % (role, "\n".join("  %s: %s (set by %s)" % i for i in found))


def test_allowlist_entries_are_still_needed(scans):
    needed = set()
    for role, scan in scans.items():
        needed.update((role, name) for dummy, name in undeclared(scan))
        needed.update((role, name) for name in scan.all_reads() if PRIVATE.match(name) and not name.startswith("__%s_" % role))
    stale = sorted(set(ALLOWLIST) - needed)
    assert not stale, "allowlist entries no role needs any more: %s" % stale


def test_the_analysis_finds_reads():
    """The scanner itself: bare expressions, templates, dynamic reads, and what it must not count."""
    assert expression_reads("foo | default(bar) is match('x') and baz.qux") == {"foo", "bar", "baz"}
    assert template_reads("{% for x in xs %}{{ x ~ y }}{% endfor %}{% set z = 1 %}{{ z }}") == {"xs", "y"}
    assert template_reads("{{ vars['a_b'] ~ hostvars[h].c ~ lookup('ansible.builtin.vars', 'd') }}") == {
        "vars", "hostvars", "h", "lookup", "a_b", "c", "d"
    }
    assert value_reads({"k": Unsafe("{{ not_a_read }}"), "l": ["{{ read }}", 3]}) == {"read"}
    scan = RoleScan("gunicorn")
    assert "gunicorn_timeout" in scan.reads["roles/gunicorn/tasks/validate.yml"]
    assert "__gunicorn_workers" in scan.defined
