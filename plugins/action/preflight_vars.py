# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.preflight_vars: runs on the controller only (the documentation is in plugins/modules)."""

from __future__ import annotations

import os

import yaml

from ansible.errors import AnsibleActionFail
from ansible.inventory.helpers import get_group_vars, sort_groups
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase
from ansible.vars.plugins import get_vars_from_inventory_sources, get_vars_from_path

from ansible_collections.flaskops.deploy.plugins.module_utils import _preflight as preflight

# plugins/action/preflight_vars.py -> the collection's roles/
DEFAULT_ROLES_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """A safe loader that reads Ansible's tags (!unsafe, !vault) as nothing: only names matter here."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _load_yaml(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_Loader)
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError) as exc:
        raise AnsibleActionFail("preflight_vars: cannot read %s: %s" % (path, to_native(exc)))


def load_roles(roles_path):
    """Each role under roles_path: its argument specs and its static role includes."""
    specs, includes = {}, {}
    for role in sorted(os.listdir(roles_path)):
        meta = os.path.join(roles_path, role, "meta", "argument_specs.yml")
        if not os.path.isfile(meta):
            continue
        specs[role] = _load_yaml(meta) or {}
        includes[role] = []
        tasks_dir = os.path.join(roles_path, role, "tasks")
        for name in sorted(os.listdir(tasks_dir)) if os.path.isdir(tasks_dir) else []:
            if name.endswith((".yml", ".yaml")):
                tasks = _load_yaml(os.path.join(tasks_dir, name))
                includes[role].extend(preflight.role_includes(tasks if isinstance(tasks, list) else []))
    return specs, includes


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _requires_connection = False

    ARGUMENT_SPEC = dict(
        roles=dict(type="list", elements="str", required=True),
        roles_path=dict(type="path"),
        fail_on_unknown=dict(type="bool", default=False),
    )

    def _variable_manager(self, task_vars):
        manager = self._task.get_variable_manager()
        if manager is None:
            manager = getattr(task_vars.get("hostvars"), "_variable_manager", None)
        inventory = getattr(manager, "_inventory", None)
        if manager is None or inventory is None:
            raise AnsibleActionFail("preflight_vars: the inventory is not available to this action")
        return manager, inventory

    def _inventory_names(self, manager, inventory, host_name):
        """Names the inventory defines for the host: inventory files, group_vars and host_vars (both places)."""
        host = inventory.get_host(host_name)
        if host is None:
            return set()
        all_group = inventory.groups.get("all")
        groups = sort_groups([group for group in host.get_groups() if group.name != "all"])
        names = set(all_group.get_vars()) | set(get_group_vars(groups)) | set(host.get_vars())
        basedirs = {self._loader.get_basedir()} | set(self._task.get_search_path())
        for entities in ([all_group], groups, [host]):
            names |= set(get_vars_from_inventory_sources(self._loader, inventory._sources, entities, "task"))
            for path in sorted(basedirs):
                names |= set(get_vars_from_path(self._loader, path, entities, "task"))
        return names

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        roles = args["roles"]
        roles_path = args["roles_path"] or DEFAULT_ROLES_PATH
        fail_on_unknown = args["fail_on_unknown"]

        specs, includes = load_roles(roles_path)
        missing = [role for role in roles if role not in specs]
        if missing:
            raise AnsibleActionFail("preflight_vars: no meta/argument_specs.yml under %s for: %s" % (roles_path, ", ".join(missing)))
        declared = {role: preflight.declared_names(spec) for role, spec in specs.items()}
        scope = preflight.play_scope(roles, declared, includes)

        manager, inventory = self._variable_manager(task_vars)
        sources = {}
        for name in self._inventory_names(manager, inventory, task_vars.get("inventory_hostname")):
            sources.setdefault(name, []).append("the inventory")
        for name in manager.extra_vars:
            sources.setdefault(name, []).append("extra vars")
        unknown = preflight.unknown_names(sources, scope, declared)
        messages = [preflight.unknown_message(name, sources[name], scope, declared) for name in unknown]

        absent = preflight.missing_required(
            {role: specs[role] for role in roles},
            self._templar.template(task_vars.get("flaskops_preflight_entry_points") or {}), task_vars)

        result.update(
            changed=False,
            missing_required=absent,
            unknown=unknown,
            roles=scope.roles,
            included_roles=sorted(scope.included),
            argument_specs={role: specs[role].get("argument_specs", {}) for role in roles},
        )
        if absent:
            # Only what names the problem: the specs would bury the message in the failed task's output.
            for name in ("argument_specs", "roles", "included_roles"):
                result.pop(name, None)
            result.update(failed=True, msg=preflight.missing_required_message(absent))
            if messages:
                result["warnings"] = messages
        elif messages and fail_on_unknown:
            result.update(failed=True, msg="Unknown variables (fail_on_unknown): " + " | ".join(messages))
        elif messages:
            result["warnings"] = messages
            result["msg"] = "%d variable(s) no role of this play declares" % len(messages)
        else:
            result["msg"] = "Every role variable set by the inventory or extra vars is declared by a role of this play"
        return result
