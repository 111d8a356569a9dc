#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: role_state
short_description: Decide whether a role has anything to do, and record the state its last full run left
version_added: 1.0.0
description:
  - The first task of a role of this collection (O(state=query)) and the last one of its full run (O(state=record)),
    so that a role with nothing to do costs a few tasks instead of dozens.
  - "On the controller (an action plugin), the role's fingerprint is computed: a short hash of the value of every
    variable the role's C(meta/argument_specs.yml) declares for O(entry_point) (templated, the values never leave
    the controller), a hash of the role's own files (C(tasks), C(templates), C(files), C(defaults), C(vars),
    C(handlers), C(meta)), the collection version, and O(facts)."
  - "On the host, O(state=query) compares it with the stamp the role's last full successful run recorded
    (C(<path>/<role>.json), or C(<role>.<scope>.json), mode 0600, owned by root) and checks the host still matches
    it: the sha256 of each file the role owns, the paths that must stay absent, the units that must be active and
    enabled, the packages that must be installed. RV(stale) is true, with RV(reasons), when anything differs, when
    there is no readable stamp, or with O(force)."
  - O(state=record) observes the host right after a full run (the digests of O(files), whether O(absent) exist) and
    writes the stamp beside the current one as C(.pending), only when it differs from the current one; it reports a
    change then, so that the role notifies its handler that commits it (O(state=commit)) once the role's
    other handlers (a reload) have run. A run that fails before its handlers leaves no stamp, and the next run is
    a full one.
  - "Unless the task gives them, O(scope), O(facts), O(roles) and O(force) are the role's own variables
    C(__<role>_state_scope), C(__<role>_state_facts), C(__<role>_state_roles) and C(__<role>_state_force) (its
    C(vars/main.yml)), so that the role's first and last tasks and a play's preflight compute the same fingerprint."
  - "Outside the role (a play's preflight names it with O(role)), the role's C(defaults/main.yml) and
    C(vars/main.yml) are loaded around the play's variables, the precedence a run of the role gives them."
  - "Inside the role, O(state=query) makes no remote call when the play's preflight (the registered
    C(__flaskops_preflight_states)) already found the role stale with the same stamp and fingerprint: a stale role
    stays stale while the play goes on. A fresh answer of the preflight is reused too, but only while no query of
    this run found a role stale on the host (the host fact C(flaskops_role_state_stale_run), set by such a query):
    until a role runs its full path, nothing has changed what the roles left on the host since the preflight."
  - O(state=commit) renames the pending stamps of O(role) into place. A role that notifies no handler records with
    O(defer=false) instead, which writes the stamp in place at once.
  - "A record with O(defer=true) whose task notifies a handler (the role's commit handler) makes no remote call: the
    record is kept on the controller (the host fact C(flaskops_role_state_pending) of the run) and the task reports a
    change. The commit handler of each role marks the role's records done; the last one of the handler flush, when
    every pending record is done, writes all the stamps in one remote call (the digests of O(files) are read then).
    So no stamp is written before the handlers of every role that recorded have run, and a run that fails before
    leaves none. The other commit handlers make no remote call."
  - "Inside the role, O(state=query) makes no remote call either when this run recorded a full run of the role with
    the same stamp and fingerprint, still pending: the role has nothing more to do."
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - O(state=query) does the same read-only work in check mode; O(state=record) and O(state=commit) report what
        they would write.
  diff_mode:
    support: none
  idempotent:
    support: full
  action:
    description: Indicates this has a corresponding action plugin so some parts of the work run on the controller.
    support: full
    details:
      - The fingerprint is computed on the controller; the host only compares and records it.
options:
  state:
    description:
      - V(query) reports whether the role must run in full; it never changes anything.
      - V(record) writes the pending stamp of a full run; V(commit) puts the pending stamps of O(role) in place.
    type: str
    choices: [query, record, commit]
    default: query
  role:
    description:
      - Short name of a role of this collection. Defaults to the role of the task; required outside a role.
    type: str
  scope:
    description:
      - Instance of the role on the host, when a host has several (a site name, an application name); part of the
        stamp's file name.
    type: str
    default: ''
  entry_point:
    description:
      - Entry point of the role whose declared variables make the fingerprint.
    type: str
    default: main
  roles:
    description:
      - Other roles of this collection that this role includes (the app role includes its server's role,
        C(systemd) and C(python_venv)); their declared inputs (entry point C(main)) and their files join the
        fingerprint, so that a run which skips this role's full run skips theirs too.
    type: list
    elements: str
    default: []
  exclude:
    description:
      - Declared variables left out of the fingerprint (inputs that do not change what the role leaves on the host).
    type: list
    elements: str
    default: []
  facts:
    description:
      - Host facts (or other values) the role's result depends on, by name; part of the fingerprint.
      - A fact whose value is null was not gathered by this play (C(deploy.yml) gathers none) and is not compared.
    type: dict
    default: {}
  force:
    description:
      - Report the role as stale whatever the stamp says (a role's own rule, for example a git branch that may have
        moved).
      - The variable C(flaskops_full_converge) of the play forces it too, so that C(-e flaskops_full_converge=true)
        runs every role of this collection in full.
    type: bool
    default: false
  files:
    description:
      - With O(state=record), the files the role owns on the host; their sha256 is recorded and checked by every
        query. A path that does not exist is recorded as absent and must stay absent.
    type: list
    elements: path
    default: []
  absent:
    description:
      - With O(state=record), paths the role removes and that must stay absent.
    type: list
    elements: path
    default: []
  units:
    description:
      - With O(state=record), systemd units the role leaves active and enabled.
    type: list
    elements: str
    default: []
  packages:
    description:
      - With O(state=record), Debian packages the role installs (C(dpkg-query) must say installed).
    type: list
    elements: str
    default: []
  defer:
    description:
      - With O(state=record), write the stamp as C(.pending) for a handler of the role to commit after the role's
        other handlers (V(true)), or in place at once (V(false), for a role that notifies no handler).
    type: bool
    default: true
  path:
    description:
      - Directory of the stamps on the host (created 0700 root when missing).
    type: path
    default: /var/lib/flaskops/state
  fingerprint:
    description:
      - Internal, set by the action plugin from the options above; leave it out.
    type: dict
  query_roles:
    description:
      - "A play's preflight: query these roles (short names) in one remote call, each with its own variables as
        O(role) outside the role would (its defaults and vars around the play's). Goes with O(state=query) and no
        O(role); the answers are RV(roles)."
    type: list
    elements: str
  prefetch:
    description:
      - "Inside a role, with O(state=query): the roles this role includes, asked in the same remote call as its own
        query. Each is a role's short name, or a dict with C(role) and C(vars), the variables the include gives it
        (for example C(systemd_units)); its fingerprint is computed as O(role) outside the role would, with C(vars)
        over the role's own. The answers wait in the host fact C(flaskops_role_state_prefetched) of the run: the
        included role's own query takes the answer for its stamp and fingerprint without a remote call, or asks the
        host when the fingerprint differs."
      - The answers stay valid because the tasks of the including role in between change only the files it owns,
        never what an included role left.
      - When the role's own answer is known already (a record of this run, the play's preflight), the included roles
        are asked in one call only when that answer is stale, since only then does the role include them.
      - An included role whose stamp the play's preflight did not find in the state directory (RV(present_stamps))
        is stale without asking (no stamp, as on a host's first run), so on a fresh host the call is left out
        altogether. Only a full run writes a stamp, at a handler flush, so such an answer can only say stale where
        the host would say fresh, never the other way.
    type: list
    elements: raw
    default: []
  queries:
    description:
      - Internal, set by the action plugin from O(query_roles) and O(prefetch); leave it out.
    type: list
    elements: dict
  records:
    description:
      - Internal, set by the action plugin from the records kept on the controller (O(state=commit)); leave it out.
    type: list
    elements: dict
    suboptions:
      role:
        description: The role's short name.
        type: str
        required: true
      scope:
        description: As O(scope).
        type: str
        default: ''
      path:
        description: As O(path).
        type: path
        default: /var/lib/flaskops/state
      fingerprint:
        description: As O(fingerprint).
        type: dict
        required: true
      files:
        description: As O(files).
        type: list
        elements: path
        default: []
      absent:
        description: As O(absent).
        type: list
        elements: path
        default: []
      units:
        description: As O(units).
        type: list
        elements: str
        default: []
      packages:
        description: As O(packages).
        type: list
        elements: str
        default: []
notes:
  - A skipped full run notifies no handler, which is right when nothing changed. A role whose every run must do
    something (a check through the proxy) keeps that outside its full run.
  - The fingerprint holds a short hash of each input, never the input; the stamp is readable by root only.
seealso:
  - module: flaskops.deploy.release
"""

EXAMPLES = r"""
# roles/nginx/vars/main.yml holds __nginx_state_scope and __nginx_state_facts
- name: Decide whether nginx has anything to do
  flaskops.deploy.role_state:
    state: query
  register: __nginx_state

- name: Converge nginx (an input, its files or its service changed)
  ansible.builtin.include_tasks: converge.yml
  when: __nginx_state.stale | default(true)

# The last task of converge.yml
- name: Record what nginx left on the host
  flaskops.deploy.role_state:
    state: record
    files: [/etc/nginx/sites-available/hello]
    absent: [/etc/nginx/sites-enabled/default]
    units: [nginx.service]
    packages: [nginx]
  notify: flaskops nginx state

# handlers/main.yml, after the role's other handlers
- name: Commit the nginx stamp
  flaskops.deploy.role_state:
    state: commit
    role: nginx
  listen: flaskops nginx state

# A play's preflight: which roles have something to do, in one remote call
- name: Find the roles whose inputs or host changed since their last full run
  flaskops.deploy.role_state:
    query_roles: [certbot, nginx, app]
  register: role_states
"""

RETURN = r"""
stale:
  description: Whether the role must run in full (O(state=query)).
  returned: always
  type: bool
  sample: true
reasons:
  description: Why the role is stale, one line each; empty when it has nothing to do.
  returned: always
  type: list
  elements: str
  sample: ["input changed: nginx_tls_profile", "file changed: /etc/nginx/sites-available/hello"]
stamp:
  description: Path of the stamp.
  returned: when O(state) is V(query) or V(record)
  type: str
  sample: /var/lib/flaskops/state/nginx.hello.json
fingerprint:
  description: The wanted fingerprint (hashes only).
  returned: when O(state) is V(query) or V(record)
  type: dict
  contains:
    inputs:
      description: Short hash of each declared input, by name.
      type: dict
    content:
      description: Hash of the role's files.
      type: str
    version:
      description: The collection version.
      type: str
    facts:
      description: Short hash of each of O(facts), by name.
      type: dict
pending:
  description:
    - With O(state=record), the record is kept on the controller until the commit handlers run (no remote call).
    - With O(state=query), the answer comes from a record of this run still pending (no remote call).
  returned: when a record is kept on the controller, or a query answered from one
  type: bool
  sample: true
prefetched:
  description:
    - With O(prefetch), the roles asked in the same call (RV(prefetched) is a list of their short names).
    - Inside an included role, V(true) when the answer is the one the including role prefetched (no remote call).
  returned: with O(prefetch), or when a prefetched answer was taken
  type: raw
  sample: [gunicorn, python_venv, systemd]
preflight:
  description: The answer is the play's preflight's (O(state=query) inside the role; no remote call was made).
  returned: when the preflight's answer was reused
  type: bool
  sample: true
stamp_dir:
  description: The state directory the stamps of O(query_roles) were looked for in (O(path)).
  returned: when O(query_roles) is given
  type: str
  sample: /var/lib/flaskops/state
present_stamps:
  description:
    - The names of the files in RV(stamp_dir) when O(query_roles) were asked (empty when it does not exist). A role's
      query inside the play takes a stamp missing from it as stale without a remote call.
  returned: when O(query_roles) is given
  type: list
  elements: str
  sample: [app.json, nginx.json]
roles:
  description: The answer for each of O(query_roles), in their order.
  returned: when O(query_roles) is given
  type: list
  elements: dict
  contains:
    role:
      description: The role's short name.
      type: str
    stale:
      description: Whether the role must run in full.
      type: bool
    reasons:
      description: Why, one line each.
      type: list
      elements: str
    stamp:
      description: Path of the role's stamp.
      type: str
    fingerprint:
      description: The role's wanted fingerprint (hashes only).
      type: dict
  sample: [{"role": "nginx", "stale": true, "reasons": ["no stamp"], "stamp": /var/lib/flaskops/state/nginx.json,
            "fingerprint": {}}]
committed:
  description:
    - The stamps put in place (O(state=commit)); empty when the handler only marked its role's records done.
  returned: when O(state=commit)
  type: list
  elements: str
  sample: [/var/lib/flaskops/state/nginx.hello.json]
"""

import glob
import hashlib
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flaskops.deploy.plugins.module_utils import _role_state as rs


def _sha256(path):
    """sha256 of a file's content (of its target's, for a link), or None when it does not exist."""
    if not os.path.lexists(path):
        return rs.ABSENT
    if os.path.isdir(path):
        return "directory"
    if not os.path.exists(path):
        return "dangling link"
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(65536), b""):
            digest.update(chunk)
    if os.path.islink(path):
        digest.update(b"link:" + os.readlink(path).encode("utf-8"))
    return digest.hexdigest()


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        return "unreadable: %s" % exc


def _units(module, names):
    if not names:
        return {}
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return {}
    rc, out, dummy = module.run_command([systemctl, "show", "-p", "Id", "-p", "ActiveState", "-p", "UnitFileState",
                                         "--"] + list(names))
    found = rs.parse_systemctl_show(out) if rc == 0 else {}
    # systemctl show names a unit by its Id: nginx for nginx.service is asked as nginx.service
    return {name: found.get(name, found.get(name + ".service", {})) for name in names}


def _packages(module, names):
    if not names:
        return {}
    dpkg_query = module.get_bin_path("dpkg-query")
    if not dpkg_query:
        return {name: False for name in names}
    argv = [dpkg_query, "-W", "-f", "${Package} ${db:Status-Status}\\n", "--"] + list(names)
    dummy, out, dummy = module.run_command(argv)
    return rs.parse_dpkg_status(out)


def observe(module, files, units, packages):
    return {
        "files": {path: _sha256(path) for path in files},
        "units": _units(module, units),
        "packages": _packages(module, packages),
    }


def _write(module, path, text):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".stamp-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _query(module, role, scope, wanted, force):
    """One role's answer: stale, reasons, stamp, fingerprint."""
    try:
        stamp_path = os.path.join(module.params["path"], rs.stamp_name(role, scope))
    except ValueError as exc:
        module.fail_json(msg="role or scope: %s" % exc)
    current = _read(stamp_path)
    look = rs.watched(current)
    observed = observe(module, look["files"], look["units"], look["packages"])
    found = rs.reasons(current, wanted, observed, force=force)
    return dict(stale=bool(found), reasons=found, stamp=stamp_path, fingerprint=wanted)


def _record(module, path, role, scope, wanted, lists, defer):
    """Write the stamp of one full run (its pending file with defer); (stamp path, whether it differs)."""
    try:
        stamp_path = os.path.join(path, rs.stamp_name(role, scope or ""))
    except ValueError as exc:
        module.fail_json(msg="role or scope: %s" % exc)
    current = _read(stamp_path)
    # what the full run left on the host, as the next query will see it
    observed = observe(module, list(lists["files"] or []) + list(lists["absent"] or []), [], [])
    files = {p: observed["files"][p] for p in lists["files"] or []}
    absent = list(lists["absent"] or []) + [p for p, sha in files.items() if sha is rs.ABSENT]
    files = {p: sha for p, sha in files.items() if sha is not rs.ABSENT}
    stamp = rs.build_stamp(wanted, files, absent, lists["units"] or [], lists["packages"] or [])
    text = rs.canonical(stamp) + "\n"
    pending = stamp_path + ".pending"
    if current == text:
        if os.path.exists(pending) and not module.check_mode:
            os.unlink(pending)
        return stamp_path, False
    if not module.check_mode:
        _write(module, pending if defer else stamp_path, text)
        if not defer and os.path.exists(pending):
            os.unlink(pending)
    return stamp_path, True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["query", "record", "commit"], default="query"),
            role=dict(type="str"),
            scope=dict(type="str", default=""),
            entry_point=dict(type="str", default="main"),
            roles=dict(type="list", elements="str", default=[]),
            exclude=dict(type="list", elements="str", default=[]),
            facts=dict(type="dict", default={}),
            force=dict(type="bool", default=False),
            files=dict(type="list", elements="path", default=[]),
            absent=dict(type="list", elements="path", default=[]),
            units=dict(type="list", elements="str", default=[]),
            packages=dict(type="list", elements="str", default=[]),
            defer=dict(type="bool", default=True),
            path=dict(type="path", default="/var/lib/flaskops/state"),
            fingerprint=dict(type="dict"),
            query_roles=dict(type="list", elements="str"),
            prefetch=dict(type="list", elements="raw", default=[]),
            queries=dict(type="list", elements="dict"),
            records=dict(type="list", elements="dict", options=dict(
                role=dict(type="str", required=True),
                scope=dict(type="str", default=""),
                path=dict(type="path", default="/var/lib/flaskops/state"),
                fingerprint=dict(type="dict", required=True),
                files=dict(type="list", elements="path", default=[]),
                absent=dict(type="list", elements="path", default=[]),
                units=dict(type="list", elements="str", default=[]),
                packages=dict(type="list", elements="str", default=[]),
            )),
        ),
        required_if=[("state", "record", ["role", "fingerprint"]), ("state", "commit", ["role", "records"], True)],
        supports_check_mode=True,
    )
    params = module.params
    state, role = params["state"], params["role"]
    result = dict(changed=False, stale=False, reasons=[])

    if state == "commit" and params["records"] is not None:
        # The records a handler flush commits in one call: each stamp written in place once every role's handlers ran.
        committed = []
        for one in params["records"]:
            stamp_path, changed = _record(module, one["path"], one["role"], one["scope"], one["fingerprint"], one,
                                          False)
            if changed:
                committed.append(stamp_path)
        module.exit_json(changed=bool(committed), stale=False, reasons=[], committed=committed)

    if state == "commit":
        if not rs.NAME.match(role):
            module.fail_json(msg="role must be a role's short name, got %r" % role)
        pending = sorted(glob.glob(os.path.join(params["path"], glob.escape(role) + ".*json.pending")))
        committed = [p[: -len(".pending")] for p in pending]
        if pending and not module.check_mode:
            for src, dest in zip(pending, committed):
                os.rename(src, dest)
        module.exit_json(changed=bool(pending), stale=False, reasons=[], committed=committed)

    if state == "query" and params["queries"] is not None:
        answers = []
        for query in params["queries"]:
            answers.append(dict(role=query["role"], **_query(module, query["role"], query.get("scope") or "",
                                                             query["fingerprint"], bool(query.get("force")))))
        directory = params["path"]
        present = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
        result.update(stale=any(a["stale"] for a in answers), roles=answers, stamp_dir=directory,
                      present_stamps=present)
        module.exit_json(**result)
    if state == "query" and (not role or params["fingerprint"] is None):
        module.fail_json(msg="state=query needs role and fingerprint (or queries)")
    if state == "query":
        result.update(_query(module, role, params["scope"], params["fingerprint"], bool(params["force"])))
        module.exit_json(**result)

    stamp_path, changed = _record(module, params["path"], role, params["scope"], params["fingerprint"], params,
                                  params["defer"])
    result.update(stamp=stamp_path, fingerprint=params["fingerprint"], changed=changed)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
