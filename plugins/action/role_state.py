# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.role_state: the fingerprint on the controller, the comparison on the host.

The documentation is in plugins/modules/role_state.py.
"""

from __future__ import annotations

import os

import yaml

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.flaskops.deploy.plugins.module_utils import _role_state as rs
from ansible_collections.flaskops.deploy.plugins.module_utils._tree_hash import tree_hash

# The role's own files whose change makes its next run a full one.
CONTENT_DIRS = ("defaults", "files", "handlers", "meta", "tasks", "templates", "vars")
EXCLUDE = ("__pycache__", "*.pyc", ".*")
# plugins/action/role_state.py -> the collection's root
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNDEFINED = "<undefined>"
# The module's default of O(path).
STATE_DIR = "/var/lib/flaskops/state"

_CACHE = {}


# libyaml's loader when PyYAML has it: the argument specs are read on every call, ten times faster than in Python.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_LOADER)


def collection_version(root=COLLECTION_ROOT):
    """The version of the installed collection (MANIFEST.json) or of a checkout (galaxy.yml)."""
    key = ("version", root)
    if key not in _CACHE:
        version = "unknown"
        for name in ("MANIFEST.json", "galaxy.yml"):
            path = os.path.join(root, name)
            if os.path.isfile(path):
                data = _yaml(path) or {}
                version = str(data.get("collection_info", data).get("version", "unknown"))
                break
        _CACHE[key] = version
    return _CACHE[key]


def role_content(role_path):
    """One hash of the role's own files (paths, executable bits, contents)."""
    key = ("content", role_path)
    if key not in _CACHE:
        parts = [(d, tree_hash(os.path.join(role_path, d), EXCLUDE))
                 for d in CONTENT_DIRS if os.path.isdir(os.path.join(role_path, d))]
        _CACHE[key] = rs.digest(parts, length=64)
    return _CACHE[key]


def declared(role_path, entry_point):
    """Names of the options the role's argument spec declares for an entry point."""
    key = ("spec", role_path, entry_point)
    if key not in _CACHE:
        path = os.path.join(role_path, "meta", "argument_specs.yml")
        try:
            specs = (_yaml(path) or {}).get("argument_specs", {})
        except (OSError, yaml.YAMLError) as exc:
            raise AnsibleActionFail("role_state: cannot read %s: %s" % (path, to_native(exc)))
        if entry_point not in specs:
            raise AnsibleActionFail("role_state: %s declares no entry point %r" % (path, entry_point))
        _CACHE[key] = sorted((specs[entry_point] or {}).get("options", {}) or {})
    return _CACHE[key]


def _combine(*layers):
    merged = {}
    for layer in layers:
        merged.update(layer or {})
    return merged


def _run_marker():
    """The marker of this ansible-playbook run: its process (the parent of the worker running this action)."""
    parent = os.getppid()
    try:
        with open("/proc/%d/stat" % parent, encoding="utf-8") as handle:
            started = handle.read().rsplit(")", 1)[-1].split()[19]  # starttime, field 22
    except (OSError, IndexError):
        started = ""
    return rs.run_marker(parent, started)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    # Settings a role keeps in its vars/main.yml as __<role>_state_<name>, used when the task does not give them.
    SETTINGS = ("scope", "facts", "roles", "force", "exclude")
    QUERY_KEYS = ("role", "scope", "fingerprint", "force")

    def _task_role_path(self, task_vars):
        role = getattr(self._task, "_role", None)
        path = getattr(role, "_role_path", None) or task_vars.get("role_path")
        return path if path and os.path.isdir(path) else None

    def _load_vars_file(self, path):
        if not os.path.isfile(path):
            return {}
        try:
            data = self._loader.load_from_file(path, trusted_as_template=True)
        except TypeError:  # ansible-core before 2.19 trusts every template
            data = self._loader.load_from_file(path)
        return data if isinstance(data, dict) else {}

    def _context(self, args, task_vars, overrides=None):
        """(role name, role path, templar, variables) of the role the state is about.

        Inside the role, its own variables; from a play (the preflight) or the role that includes it (O(prefetch)),
        the role's defaults under the play's variables under the role's vars under ``overrides`` (the variables the
        include gives it), the precedence a run of the role gives them.
        """
        own = self._task_role_path(task_vars)
        role = args.get("role") or (os.path.basename(own).split(".")[-1] if own else None)
        if not role:
            raise AnsibleActionFail("role_state: name the role (role) outside a role")
        if own and os.path.basename(own).split(".")[-1] == role:
            return role, own, self._templar, task_vars
        path = os.path.join(os.path.dirname(own) if own else os.path.join(COLLECTION_ROOT, "roles"), role)
        if not os.path.isdir(path):
            raise AnsibleActionFail("role_state: no role %r at %s" % (role, path))
        variables = _combine(self._load_vars_file(os.path.join(path, "defaults", "main.yml")), task_vars,
                             self._load_vars_file(os.path.join(path, "vars", "main.yml")), overrides)
        return role, path, self._templar.copy_with_new_env(available_variables=variables), variables

    @staticmethod
    def _value(name, templar, variables):
        if name not in variables:
            return UNDEFINED
        try:
            return templar.template(variables[name])
        except AnsibleError:
            return UNDEFINED

    def _wanted(self, args, task_vars, overrides=None):
        """The module arguments of one role's query or record: the settings and the fingerprint filled in."""
        args = dict(args)
        role, role_path, templar, variables = self._context(args, task_vars, overrides)
        args["role"] = role
        for name in self.SETTINGS:
            if args.get(name) is None:
                value = self._value("__%s_state_%s" % (role, name), templar, variables)
                if value is not UNDEFINED:
                    args[name] = value
        exclude = set(args.get("exclude") or [])
        names = set(declared(role_path, args.get("entry_point") or "main"))
        content = [role_content(role_path)]
        # Roles this one includes: their declared inputs (main) and their files count as this role's.
        for other in args.get("roles") or []:
            other_path = os.path.join(os.path.dirname(role_path), other)
            if not os.path.isdir(other_path):
                raise AnsibleActionFail("role_state: no role %r next to %s" % (other, role_path))
            names.update(declared(other_path, "main"))
            content.append(role_content(other_path))
        inputs = {name: self._value(name, templar, variables) for name in sorted(names - exclude)}
        # One switch for every role of a play: flaskops_full_converge (a playbook or extra variable).
        full = self._value("flaskops_full_converge", templar, variables)
        args["force"] = boolean(args.get("force") or False, strict=False) or (
            full not in (UNDEFINED, None, "") and boolean(full, strict=False))
        args["fingerprint"] = rs.fingerprint(inputs, rs.digest(content, length=64) if len(content) > 1
                                             else content[0], collection_version(), args.get("facts") or {})
        return args

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        state = args.get("state", "query")
        if args.get("query_roles") is not None:
            # A play's preflight: several roles, one remote call.
            if state != "query" or args.get("role"):
                raise AnsibleActionFail("role_state: query_roles goes with state=query and no role")
            queries = []
            for name in args.pop("query_roles") or []:
                one = self._wanted(dict(args, role=name), task_vars)
                queries.append({key: one.get(key) for key in self.QUERY_KEYS})
            if not queries:
                result.update(changed=False, stale=False, reasons=[], roles=[])
                return result
            module_args = dict(state="query", queries=queries, path=args.get("path") or STATE_DIR)
            result.update(self._execute_module(module_name="flaskops.deploy.role_state", module_args=module_args,
                                               task_vars=task_vars))
            return result
        run = _run_marker()
        facts = task_vars.get("ansible_facts") or {}
        pending = facts.get(rs.PENDING_FACT)
        prefetch = args.pop("prefetch", None) or []
        if state == "record" and self._task.notify and boolean(args.get("defer", True), strict=False):
            # Kept on the controller: the role's commit handler (the task notifies it) writes it with the others.
            args = self._wanted(args, task_vars)
            path = args.get("path") or STATE_DIR
            try:
                stamp = os.path.join(path, rs.stamp_name(args["role"], args.get("scope") or ""))
            except ValueError as exc:
                raise AnsibleActionFail("role_state: role or scope: %s" % exc)
            record = {key: args.get(key) for key in rs.RECORD_KEYS}
            record.update(path=path, scope=args.get("scope") or "", stamp=stamp,
                          **{key: list(args.get(key) or []) for key in ("files", "absent", "units", "packages")})
            result.update(changed=True, stale=False, reasons=[], stamp=stamp, fingerprint=args["fingerprint"],
                          pending=True, ansible_facts={rs.PENDING_FACT: rs.pending_add(pending, run, record)})
            return result
        if state == "commit" and isinstance(pending, dict) and pending.get("run") == run:
            # This run keeps its records on the controller: the last commit handler of the flush writes them all.
            fact, records = rs.pending_done(pending, run, args.get("role") or self._context(args, task_vars)[0])
            result.update(changed=False, stale=False, reasons=[], committed=[], ansible_facts={rs.PENDING_FACT: fact})
            if records:
                result.update(self._execute_module(module_name="flaskops.deploy.role_state", task_vars=task_vars,
                                                   module_args=dict(state="commit", records=records)))
            return result
        if state != "commit":
            args = self._wanted(args, task_vars)
            role = args["role"]
            # Inside the role, an answer this run already has for the same stamp and fingerprint is the answer: a record
            # still pending, the including role's prefetch, the play's preflight's (a stale one always, a fresh one
            # while no query of this run found a role stale: rs.preflight_answer, rs.STALE_FACT).
            if state == "query" and not self._task.args.get("role"):
                try:
                    stamp = os.path.join(args.get("path") or STATE_DIR, rs.stamp_name(role, args.get("scope") or ""))
                except ValueError:
                    stamp = None
                preflight = task_vars.get("__flaskops_preflight_states")
                stale_run = facts.get(rs.STALE_FACT) == run
                known = None
                if stamp:
                    wanted = args["fingerprint"]
                    known = rs.pending_answer(pending, run, stamp, wanted)
                    known = known or rs.prefetched_answer(facts.get(rs.PREFETCH_FACT), run, stamp, wanted)
                    known = known or rs.preflight_answer(preflight, role, stamp, wanted, reuse_fresh=not stale_run)
                if known:
                    result.update(known)
                    if prefetch and known.get("stale"):
                        # The role runs its full path, so the roles it includes will ask: in one call, now.
                        self._query_with(None, prefetch, task_vars, facts, run, result)
                    return self._mark_stale(result, run)
                if prefetch:
                    return self._mark_stale(self._query_with(args, prefetch, task_vars, facts, run, result), run)
        else:
            args["role"] = self._context(args, task_vars)[0]
        result.update(self._execute_module(module_name="flaskops.deploy.role_state", module_args=args,
                                           task_vars=task_vars))
        return self._mark_stale(result, run) if state == "query" else result

    def _query_with(self, args, prefetch, task_vars, facts, run, result):
        """The role's query (none when ``args`` is None: its answer is known) and those of the roles it includes
        (O(prefetch)) in one remote call; their answers wait in the host fact rs.PREFETCH_FACT for their own queries.
        A role whose fingerprint cannot be computed here is left to ask the host itself. A stamp the play's preflight
        did not find is answered here, without a call (rs.absent_answer): on a fresh host no call is made."""
        path = self._task.args.get("path") or STATE_DIR
        preflight = task_vars.get("__flaskops_preflight_states")
        queries = [] if args is None else [{key: args.get(key) for key in self.QUERY_KEYS}]
        others = []
        for entry in prefetch:
            entry = entry if isinstance(entry, dict) else {"role": entry}
            try:
                one = self._wanted({"role": entry.get("role")}, task_vars, entry.get("vars") or {})
                stamp = os.path.join(path, rs.stamp_name(one["role"], one.get("scope") or ""))
            except (AnsibleError, ValueError):
                continue
            known = rs.absent_answer(preflight, one["role"], stamp, one["fingerprint"], bool(one.get("force")))
            if known:
                others.append(known)
            else:
                queries.append({key: one.get(key) for key in self.QUERY_KEYS})
        if queries:
            answer = self._execute_module(module_name="flaskops.deploy.role_state", task_vars=task_vars,
                                          module_args=dict(state="query", queries=queries, path=path))
            if answer.get("failed"):
                if args is not None:
                    result.update(answer)
                return result
            others += answer["roles"][0 if args is None else 1:]
            if args is not None:
                own = answer["roles"][0]
                result.update({key: own[key] for key in ("stale", "reasons", "stamp", "fingerprint")}, changed=False)
        if not others:
            return result
        result.update(prefetched=[other["role"] for other in others], ansible_facts=dict(
            result.get("ansible_facts") or {}, **{rs.PREFETCH_FACT: rs.prefetch_add(facts.get(rs.PREFETCH_FACT), run, others)}))
        return result

    @staticmethod
    def _mark_stale(result, run):
        """A role found stale runs its full path: the run's later queries reuse no fresh answer of the preflight."""
        if result.get("stale") is True:
            result["ansible_facts"] = dict(result.get("ansible_facts") or {}, **{rs.STALE_FACT: run})
        return result
