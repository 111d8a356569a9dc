#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: app_processes
short_description: Run an application's background processes and scheduled jobs on its live release
version_added: 1.0.0
description:
  - "An application's process types (O(processes), e.g. a queue worker) run as instances of the systemd template
    unit C(<app_name>-<name>@.service) (C(@1), C(@2), ...); its scheduled jobs (O(timers)) as C(<app_name>-<name>.timer)
    starting C(<app_name>-<name>.service), with an optional failure hook C(<app_name>-<name>-failure.service). Every
    unit runs the live release (O(release_dir)) with the live slot's copy of the environment file (O(env_file)), as
    the app user, hardened like the slots."
  - O(action=validate) checks O(processes) and O(timers) (unique names, commands that split into words, absolute
    writable paths; each C(on_calendar) with C(systemd-analyze calendar) when the host has it). It changes nothing.
  - O(action=plan) builds the units (RV(units), in the item format of the C(flaskops.deploy.systemd) role, removed
    ones with C(state=absent)), reads the manifest of the last run (O(manifest)) and the units' states, and returns
    what to do (RV(plan)). It changes nothing.
  - O(action=retire) stops and disables what the plan removes (process types or jobs no longer declared, instances
    beyond C(instances)), before the unit files change. Without O(plan) it makes the plan first, from the options of
    O(action=plan), and returns RV(units) and RV(plan) as O(action=plan) does.
  - "O(action=apply) runs the plan once the unit files are written: enables the units, restarts the running processes
    whose unit changed (a graceful stop with the type's C(stop_signal), at most C(stop_timeout) seconds, then a start
    on the live release), starts the missing ones and the timers, checks the processes it started are still running
    after O(settle) seconds (it fails with their last log lines otherwise) and records the manifest."
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode O(action=retire) and O(action=apply) change nothing and report C(changed) and RV(would) as a real
        run would.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  layout:
    description:
      - "The host layout the app role's calls share: one dict whose keys are options of this module (C(app_name),
        C(user), C(group), C(shared_dir), C(memory_deny_write_execute); its key C(processes_manifest) is O(manifest)),
        instead of the same options in every call. An option the call gives wins over the layout's key; a key set to
        V(null) counts as absent."
      - Keys this module has no option for are ignored (the other modules of the collection take them); a key no
        module knows, or a value of the wrong type, fails the call.
    type: dict
    default: {}
  action:
    description: What to do; see the description.
    type: str
    default: plan
    choices: [validate, plan, retire, apply]
  app_name:
    description:
      - The application, the prefix of the units' names.
      - Required, here or as a key of O(layout).
    type: str
  processes:
    description: The process types (the app role's C(app_processes)).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The type's name, C([a-z][a-z0-9_-]*), unique over O(processes) and O(timers).
        type: str
        required: true
      command:
        description:
          - The command, one line, no shell; split into words as a POSIX shell splits them, looked up with the
            release's venv first on C(PATH). Taken literally (no C(%) specifier, no C($VAR)).
        type: str
        required: true
      instances:
        description: How many instances run (C(0) runs none).
        type: int
        default: 1
      stop_signal:
        description: The signal of a graceful stop (C(KillSignal=)); sent to the main process only.
        type: str
        default: SIGTERM
        choices: [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH]
      stop_timeout:
        description: Seconds a stopping instance gets to finish its job before it is killed (C(TimeoutStopSec=)).
        type: int
        default: 30
      writable_paths:
        description: Absolute paths the process may write besides the application's C(shared/) directory.
        type: list
        elements: str
        default: []
  timers:
    description: The scheduled jobs (the app role's C(app_timers)).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The job's name, C([a-z][a-z0-9_-]*), unique over O(processes) and O(timers).
        type: str
        required: true
      command:
        description: The command, as in O(processes[].command).
        type: str
        required: true
      on_calendar:
        description: When it runs, a systemd calendar expression (C(OnCalendar=)), e.g. C(*-*-* 03:00:00), C(hourly).
        type: str
        required: true
      randomized_delay:
        description: A random delay of up to this many seconds before each run (C(RandomizedDelaySec=)); C(0) for none.
        type: int
        default: 0
      persistent:
        description: Run at boot a run missed while the host was down (C(Persistent=)).
        type: bool
        default: true
      timeout:
        description: Seconds a run may take before it is stopped and counts as failed; C(0) for no limit.
        type: int
        default: 0
      writable_paths:
        description: Absolute paths the job may write besides the application's C(shared/) directory.
        type: list
        elements: str
        default: []
      on_failure:
        description: A command run (as in O(timers[].command), with C(FLASKOPS_FAILED_UNIT) set) when a run fails;
          empty for none.
        type: str
        default: ""
  release:
    description: The live release's id (C(FLASKOPS_RELEASE) of the units). Required with O(action=plan).
    type: str
  release_dir:
    description: The live release's directory. Required with O(action=plan).
    type: path
  env_file:
    description: The environment file the units read (the live slot's copy). Required with O(action=plan).
    type: path
  user:
    description:
      - The user the units run as. Required with O(action=plan).
      - Or a key of O(layout).
    type: str
  group:
    description:
      - The group the units run as, and the group of the manifest. Required with O(action=plan) and
        O(action=apply).
      - Or a key of O(layout).
    type: str
  shared_dir:
    description:
      - The application's shared directory, writable by every unit. Required with O(action=plan).
      - Or a key of O(layout).
    type: path
  memory_deny_write_execute:
    description:
      - C(MemoryDenyWriteExecute=) of the units.
      - Or a key of O(layout); default V(true) when neither gives it.
    type: bool
  manifest:
    description:
      - The file that records the units of the last run and the units that run. Required with O(action=plan)
        and O(action=apply).
      - Or a key of O(layout).
    type: path
  plan:
    description: The RV(plan) of O(action=plan). Required with O(action=apply); O(action=retire) makes it when not given.
    type: dict
  settle:
    description: Seconds after which the processes started are checked to be still running.
    type: float
    default: 1.0
notes:
  - A process's restart is C(systemctl restart), so its instances stop (each finishes its job within
    C(stop_timeout)), then start on the new release; the task waits for that.
seealso:
  - module: flaskops.deploy.slot_flip
"""

EXAMPLES = r"""
- name: Check the processes and jobs before anything changes
  flaskops.deploy.app_processes:
    action: validate
    app_name: hello
    processes:
      - {name: worker, command: "python -m hello_app.worker", instances: 2, stop_timeout: 60}
    timers:
      - {name: report, command: "flask --app hello_app report", on_calendar: "*-*-* 03:00:00", randomized_delay: 600}

- name: Plan the processes and jobs of the live release
  flaskops.deploy.app_processes:
    action: plan
    app_name: hello
    processes:
      - {name: worker, command: "python -m hello_app.worker", instances: 2, stop_timeout: 60}
    timers: []
    release: 4f2a9c1
    release_dir: /srv/hello/releases/4f2a9c1
    env_file: /etc/hello/slots/green/env
    user: hello
    group: hello
    shared_dir: /srv/hello/shared
    manifest: /etc/hello/slots/processes.json
  register: hello_processes

- name: Stop what is removed, before the unit files change
  flaskops.deploy.app_processes:
    action: retire
    layout: {app_name: hello, group: hello, processes_manifest: /etc/hello/slots/processes.json}
    plan: "{{ hello_processes.plan }}"
  when: hello_processes.plan.stop | length > 0

- name: Plan and stop what is removed in one call (the plan's options, no plan)
  flaskops.deploy.app_processes:
    action: retire
    layout: {app_name: hello, user: hello, group: hello, shared_dir: /srv/hello/shared,
             processes_manifest: /etc/hello/slots/processes.json}
    processes:
      - {name: worker, command: "python -m hello_app.worker", instances: 1}
    release: 4f2a9c1
    release_dir: /srv/hello/releases/4f2a9c1
    env_file: /etc/hello/slots/green/env
  register: hello_processes

- name: Write the units
  ansible.builtin.include_role:
    name: flaskops.deploy.systemd
  vars:
    systemd_units: "{{ hello_processes.units }}"

- name: Start or restart the processes on the live release
  flaskops.deploy.app_processes:
    action: apply
    # The same host layout as the retire: its processes_manifest is this call's manifest.
    layout: {app_name: hello, group: hello, processes_manifest: /etc/hello/slots/processes.json}
    plan: "{{ hello_processes.plan }}"
"""

RETURN = r"""
problems:
  description: With O(action=validate), one message per problem (the module fails when there is one).
  returned: always
  type: list
  elements: str
  sample: []
units:
  description: With O(action=plan) (or O(action=retire) without O(plan)), the units to write or remove (items of the
    C(flaskops.deploy.systemd) role's C(systemd_units)).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "hello-worker@.service", "hardening": true, "service": {"Type": "exec"}}]
plan:
  description: With O(action=plan) (or O(action=retire) without O(plan)), what the run does.
  returned: always
  type: dict
  contains:
    stop:
      description: Units to stop and disable before the unit files change.
      type: list
      elements: str
      returned: always
    absent:
      description: Unit files to remove.
      type: list
      elements: str
      returned: always
    enable:
      description: Units to enable.
      type: list
      elements: str
      returned: always
    restart:
      description: Running process instances whose unit changed.
      type: list
      elements: str
      returned: always
    start:
      description: Process instances and timers that do not run.
      type: list
      elements: str
      returned: always
    restart_timers:
      description: Running timers whose schedule or job changed (every flip changes the job, which names the release);
        a restart re-arms them.
      type: list
      elements: str
      returned: always
    manifest:
      description: What the manifest records after the run.
      type: dict
      returned: always
    manifest_changed:
      description: Whether the manifest changes.
      type: bool
      returned: always
    changes:
      description: Whether O(action=retire) or O(action=apply) has anything to do.
      type: bool
      returned: always
  sample: {"stop": [], "absent": [], "enable": [], "restart": ["hello-worker@1.service"], "start": [],
           "restart_timers": [], "manifest_changed": true, "changes": true}
would:
  description: What the run does (in check mode, what a real run would do), one line per action.
  returned: always
  type: list
  elements: str
  sample: ["restart (graceful stop, then start on the live release) hello-worker@1.service"]
"""

import json
import os
import tempfile
import time
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.flaskops.deploy.plugins.module_utils import _host_layout as host_layout
from ansible_collections.flaskops.deploy.plugins.module_utils._processes import (
    PROCESS_OPTIONS,
    TIMER_OPTIONS,
    actions,
    calendar_problems,
    check,
    plan,
    units,
)

PROPERTIES = "Id,ActiveState,UnitFileState,NRestarts"


def show(module: AnsibleModule, names: list[str]) -> dict[str, dict[str, str]]:
    """The properties of ``names`` (``systemctl show``), by unit."""
    if not names:
        return {}
    systemctl = module.get_bin_path("systemctl", required=True)
    rc, out, err = module.run_command([systemctl, "show", "--property=" + PROPERTIES, "--"] + names)
    if rc != 0:
        module.fail_json(msg="systemctl show failed: %s" % err.strip())
    found: dict[str, dict[str, str]] = {}
    for block in out.strip().split("\n\n"):
        properties = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if properties.get("Id"):
            found[properties["Id"]] = properties
    return found


def systemctl(module: AnsibleModule, *argv: str) -> None:
    binary = module.get_bin_path("systemctl", required=True)
    rc, dummy, err = module.run_command([binary] + list(argv))
    if rc != 0:
        module.fail_json(msg="systemctl %s failed: %s" % (" ".join(argv), err.strip()))


def read_manifest(module: AnsibleModule, path: str) -> dict[str, t.Any]:
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        module.fail_json(msg="cannot read the manifest %s: %s" % (path, to_native(error)))
    return data if isinstance(data, dict) else {}


def write_manifest(module: AnsibleModule, path: str, data: dict[str, t.Any], group: str) -> None:
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".processes-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(to_bytes(json.dumps(data, indent=2, sort_keys=True) + "\n"))
        module.set_owner_if_different(temporary, "root", False)
        module.set_group_if_different(temporary, group, False)
        os.chmod(temporary, 0o640)
        os.rename(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def journal(module: AnsibleModule, unit: str) -> str:
    journalctl = module.get_bin_path("journalctl")
    if not journalctl:
        return ""
    dummy, out, dummy_err = module.run_command([journalctl, "--no-pager", "-o", "cat", "-n", "12", "-u", unit])
    return out.strip()


def validate(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    problems = check(params["app_name"], params["processes"], params["timers"])
    analyze = module.get_bin_path("systemd-analyze")

    def read(expression: str) -> str | None:
        rc, dummy, err = module.run_command([analyze, "calendar", "--", expression])
        return err if rc != 0 else None

    if analyze:
        problems += calendar_problems(params["timers"], read)
    if problems:
        module.fail_json(msg="; ".join(problems), problems=problems)
    return {"changed": False, "problems": []}


def do_plan(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    problems = check(params["app_name"], params["processes"], params["timers"])
    if problems:
        module.fail_json(msg="; ".join(problems), problems=problems)
    context = {key: params[key] for key in ("app_name", "release", "release_dir", "env_file", "user", "group",
                                            "shared_dir", "memory_deny_write_execute")}
    desired = units(context, params["processes"], params["timers"])
    recorded = read_manifest(module, params["manifest"])
    # The units that run or may run: what the last run recorded, and every instance and timer of this one.
    first = plan(params["app_name"], params["processes"], params["timers"], desired, recorded, {})
    watched = sorted(set(recorded.get("running") or []) | set(first["manifest"]["running"]))
    result = plan(params["app_name"], params["processes"], params["timers"], desired, recorded, show(module, watched))
    removed = [{"name": name, "state": "absent"} for name in result["absent"]]
    return {"changed": False, "units": desired + removed, "plan": result, "would": actions(result)}


def retire(module: AnsibleModule) -> dict[str, t.Any]:
    planned: dict[str, t.Any] = {}
    if module.params["plan"] is None:
        # No plan given: this call makes it (the plan's units and plan are returned as O(action=plan) returns them).
        planned = do_plan(module)
        module.params["plan"] = planned["plan"]
    the_plan = module.params["plan"]
    stop = the_plan.get("stop") or []
    lines = ["stop and disable %s" % unit for unit in stop]
    if stop and not module.check_mode:
        systemctl(module, "disable", "--now", "--", *stop)
    return dict(planned, changed=bool(stop), would=lines)


def apply(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    the_plan = params["plan"]
    lines = [line for line in actions(the_plan) if not line.startswith(("stop and disable", "remove the unit"))]
    changed = bool(lines) or bool(the_plan.get("manifest_changed"))
    if module.check_mode or not changed:
        return {"changed": changed, "would": lines}
    if the_plan.get("enable"):
        systemctl(module, "enable", "--", *the_plan["enable"])
    failed = [unit for unit, props in show(module, the_plan.get("start") or []).items()
              if props.get("ActiveState") == "failed"]
    if failed:
        systemctl(module, "reset-failed", "--", *failed)
    # Each instance stops gracefully (its stop signal, then at most its stop timeout), then starts on the release.
    if the_plan.get("restart"):
        systemctl(module, "restart", "--", *the_plan["restart"])
    if the_plan.get("start"):
        systemctl(module, "start", "--", *the_plan["start"])
    if the_plan.get("restart_timers"):
        systemctl(module, "restart", "--", *the_plan["restart_timers"])
    started = [unit for unit in (the_plan.get("restart") or []) + (the_plan.get("start") or [])
               if unit.endswith(".service")]
    if started:
        time.sleep(params["settle"])
        down = {unit: props for unit, props in show(module, started).items()
                if props.get("ActiveState") not in ("active", "activating") or props.get("NRestarts", "0") != "0"}
        if down:
            module.fail_json(
                msg="the processes %s did not keep running on the live release (the web release is live; fix the "
                    "command or the code and deploy again): %s"
                    % (", ".join(sorted(down)), "; ".join("%s: %s" % (unit, journal(module, unit)) for unit in sorted(down))),
                would=lines)
    if the_plan.get("manifest_changed"):
        write_manifest(module, params["manifest"], the_plan["manifest"], params["group"])
    return {"changed": True, "would": lines}


# The options a layout may fill (flaskops.deploy's host layout), with their defaults; the layout's key of
# O(manifest) is ``processes_manifest``.
LAYOUT_OPTIONS = {"app_name": None, "user": None, "group": None, "shared_dir": None, "memory_deny_write_execute": True,
                  "manifest": None}
REQUIRED_IF = {
    "plan": ("release", "release_dir", "env_file", "user", "group", "shared_dir", "manifest"),
    "retire": ("plan",),
    "apply": ("plan", "manifest", "group"),
}


def _merge_layout(module: AnsibleModule) -> None:
    """Complete the parameters from O(layout), then check what the argument spec cannot check before that."""
    params, problems = host_layout.merge(module.params, module.params["layout"], LAYOUT_OPTIONS,
                                         {"manifest": "processes_manifest"})
    if not params["app_name"]:
        problems.append("missing required arguments (here or in layout): app_name")
    action = "plan" if params["action"] == "retire" and params["plan"] is None else params["action"]
    missing = host_layout.missing(params, REQUIRED_IF.get(action, ()))
    if missing:
        problems.append("action is %s but all of the following are missing: %s" % (params["action"], ", ".join(missing)))
    if problems:
        module.fail_json(msg="; ".join(problems))
    module.params.update(params)


def main() -> t.NoReturn:
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "default": "plan", "choices": ["validate", "plan", "retire", "apply"]},
            "layout": {"type": "dict", "default": {}},
            "app_name": {"type": "str"},
            "processes": {"type": "list", "elements": "dict", "default": [], "options": PROCESS_OPTIONS},
            "timers": {"type": "list", "elements": "dict", "default": [], "options": TIMER_OPTIONS},
            "release": {"type": "str"},
            "release_dir": {"type": "path"},
            "env_file": {"type": "path"},
            "user": {"type": "str"},
            "group": {"type": "str"},
            "shared_dir": {"type": "path"},
            "memory_deny_write_execute": {"type": "bool"},
            "manifest": {"type": "path"},
            "plan": {"type": "dict"},
            "settle": {"type": "float", "default": 1.0},
        },
        supports_check_mode=True,
    )
    _merge_layout(module)
    action = module.params["action"]
    result = {"validate": validate, "plan": do_plan, "retire": retire, "apply": apply}[action](module)
    result.setdefault("problems", [])
    result.setdefault("units", [])
    result.setdefault("plan", module.params["plan"] or {})
    result.setdefault("would", [])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
