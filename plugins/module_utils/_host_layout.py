# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The host layout of an application (its paths, names and slot addresses), given once as the ``layout`` option of
``flaskops.deploy.release``, ``release_build`` and ``app_processes`` instead of as many options in every call.

A call's own options win over the layout's keys; a module takes the keys it has an option for and ignores the
others (the app role passes every call the same dict). Pure functions on plain data.
"""

from __future__ import annotations

import typing as t

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

# Every key a layout may have, with its type (the options of the same name; app_processes calls it ``manifest``).
LAYOUT_SPEC: dict[str, dict[str, t.Any]] = {
    "app_name": {"type": "str"},
    "app_root": {"type": "path"},
    "user": {"type": "str"},
    "group": {"type": "str"},
    "server": {"type": "str"},
    "server_min_version": {"type": "str"},
    "server_default_package": {"type": "str"},
    "system_server": {"type": "bool"},
    "state_file": {"type": "path"},
    "releases_dir": {"type": "path"},
    "marker": {"type": "str"},
    "built_marker": {"type": "str"},
    "source_type": {"type": "str", "choices": ["path", "archive", "git"]},
    "shared_dir": {"type": "path"},
    "init_dir": {"type": "path"},
    "static_dir": {"type": "str"},
    "static_link": {"type": "str"},
    "env_dest": {"type": "path"},
    "config_dir": {"type": "path"},
    "config_files": {"type": "list", "elements": "str"},
    "runtime_files": {"type": "list", "elements": "path"},
    "slots_dir": {"type": "path"},
    "slot_format": {"type": "int"},
    "slot_addresses": {"type": "dict"},
    "slot_sockets": {"type": "dict"},
    "unit_dir": {"type": "path"},
    "tmpfiles": {"type": "path"},
    "link": {"type": "path"},
    "site": {"type": "str"},
    "processes_manifest": {"type": "path"},
    "memory_deny_write_execute": {"type": "bool"},
}


def option(args: t.Mapping[str, t.Any], name: str, default: t.Any = None) -> t.Any:
    """One option of a task's arguments as the module will see it: the task's own, else the layout's, else
    ``default`` (for an action plugin, which decides before the module merges the layout)."""
    if args.get(name) is not None:
        return args[name]
    layout = args.get("layout")
    if isinstance(layout, t.Mapping) and layout.get(name) is not None:
        return layout[name]
    return default


def merge(params: t.Mapping[str, t.Any], layout: t.Mapping[str, t.Any] | None, options: t.Mapping[str, t.Any],
          keys: t.Mapping[str, str] | None = None) -> tuple[dict[str, t.Any], list[str]]:
    """Return a module's parameters completed from ``layout``, and the problems found (empty when none).

    ``params`` are the module's parameters, ``None`` for an option the call did not give; ``options`` maps each
    option a layout may fill to its default (``None``: no default); ``keys`` maps an option to its layout key when
    the names differ. An option the call gives wins; else the layout's key (a key set to ``None`` counts as
    absent); else the default. A key no module knows, or a value of the wrong type, is a problem.
    """
    keys = dict(keys or {})
    layout = dict(layout or {})
    problems = []
    unknown = sorted(set(layout) - set(LAYOUT_SPEC))
    if unknown:
        problems.append("layout has unknown keys: %s (known: %s)" % (", ".join(unknown), ", ".join(sorted(LAYOUT_SPEC))))
    wanted = {keys.get(option, option) for option in options}
    given = {key: value for key, value in layout.items() if key in wanted and value is not None}
    checked = ArgumentSpecValidator({key: LAYOUT_SPEC[key] for key in given}).validate(given)
    problems.extend("layout: %s" % message for message in checked.error_messages)
    merged = dict(params)
    for option, default in options.items():
        if merged.get(option) is not None:
            continue
        key = keys.get(option, option)
        if key in given:
            merged[option] = checked.validated_parameters.get(key, given[key])
        else:
            merged[option] = default
    return merged, problems


def missing(params: t.Mapping[str, t.Any], names: t.Iterable[str]) -> list[str]:
    """Return the names among ``names`` that ``params`` has no value for (``None`` or an empty string)."""
    return [name for name in names if params.get(name) is None or params.get(name) == ""]
