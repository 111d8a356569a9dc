"""The app role's entry points deploy, restart and rollback each declare exactly the role inputs they read.

An entry point's reads are those of every task file it reaches through import_tasks/include_tasks (a templated file
name reaches every file it can name), of the templates those files render, and of the defaults and vars those reads
use in turn. Ansible validates an entry point's spec when a play includes the role with ``tasks_from`` of the same
name, and the playbooks' preflight validates it before anything changes on a host.
"""

from __future__ import annotations

import pathlib

import pytest

from test_declared_variables import ROOT, RoleScan, load, value_reads

ROLE = ROOT / "roles" / "app"
ENTRY_POINTS = {"deploy": "deploy.yml", "restart": "restart.yml", "rollback": "rollback.yml"}
INCLUDES = frozenset(
    {"import_tasks", "include_tasks", "ansible.builtin.import_tasks", "ansible.builtin.include_tasks"}
)


def _includes(tasks):
    found = set()
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        for key, value in task.items():
            if key in ("block", "rescue", "always"):
                found |= _includes(value)
            elif key in INCLUDES:
                name = value["file"] if isinstance(value, dict) else value
                if "{{" in name:
                    found |= {p.name for p in (ROLE / "tasks").glob(name.split("{{")[0] + "*.yml")}
                else:
                    found.add(name)
    return found


def reachable(entry_file):
    seen, todo = set(), [entry_file]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_includes(load(ROLE / "tasks" / name)))
    return seen


@pytest.fixture(scope="module")
def specs():
    return load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]


@pytest.fixture(scope="module")
def scan():
    return RoleScan("app")


def entry_inputs(entry_file, scan, main_options):
    definitions = {}
    for kind in ("defaults", "vars"):
        for path in (ROLE / kind).glob("*.yml"):
            definitions.update({k: value_reads(v) for k, v in (load(path) or {}).items()})
    files = reachable(entry_file)
    reads = set().union(*(scan.reads.get("roles/app/tasks/%s" % name, set()) for name in files))
    for template in (ROLE / "templates").glob("*.j2"):
        if any(template.name in (ROLE / "tasks" / name).read_text(encoding="utf-8") for name in files):
            reads |= scan.reads[str(template.relative_to(ROOT))]
    closed, todo = set(), list(reads)
    while todo:
        name = todo.pop()
        if name not in closed:
            closed.add(name)
            todo.extend(definitions.get(name, ()))
    return {name for name in closed if name in main_options}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_entry_point_declares_exactly_what_it_reads(entry, specs, scan):
    main = specs["main"]["options"]
    declared = set(specs[entry]["options"])
    needed = entry_inputs(ENTRY_POINTS[entry], scan, main)
    assert not needed - declared, "%s reads inputs its argument spec does not declare: %s" % (entry, sorted(needed - declared))
    assert not declared - needed, "%s declares inputs it never reads: %s" % (entry, sorted(declared - needed))


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_entry_point_options_match_main(entry, specs):
    """One meaning per variable: an entry point's option is main's option, type, default and all."""
    main = specs["main"]["options"]
    for name, spec in specs[entry]["options"].items():
        assert spec == main[name], "%s.%s differs from main.%s" % (entry, name, name)


def test_every_entry_point_has_its_tasks_file(specs):
    for entry in specs:
        assert (ROLE / "tasks" / ("%s.yml" % entry)).is_file(), entry


def test_the_playbooks_use_the_entry_points():
    playbooks = ROOT / "playbooks"
    for entry in ENTRY_POINTS:
        text = (playbooks / ("%s.yml" % entry)).read_text(encoding="utf-8")
        assert "rolling_tasks_from: %s" % entry in text, entry
        assert "app: %s" % entry in text, "%s.yml must validate the %s spec in its preflight" % (entry, entry)


def test_reachability_follows_includes_and_imports():
    assert {"converge.yml", "release.yml", "activate.yml", "processes.yml"} <= reachable("deploy.yml")
    assert "release.yml" not in reachable("restart.yml")
    assert pathlib.Path(ROLE / "tasks" / "restart.yml").is_file()
