#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: slot_flip
short_description: Put a release live through the idle blue/green slot, with health gates and a switch back
version_added: 1.0.0
description:
  - Runs the flip that C(flaskops.deploy.release)'s plan (O(plan)) decided, as one task. For the plan's next slot
    (V(blue) or V(green)) it clears a failed state, copies the configuration files of O(config_dir) into
    C(<slots_dir>/<slot>/) (C(root:<group>), C(0640); never logged), writes the slot's drop-in
    C(<unit_dir>/<app_name>@<slot>.service.d/50-release.conf) (working directory, C(FLASKOPS_SLOT),
    C(FLASKOPS_RELEASE), O(exec_start)) and runs C(systemctl daemon-reload) when it changed.
  - "Gate 2: starts the slot's service and runs the health check O(slot_check) on its own socket. When it fails, the
    slot's last 12 log lines are read, the slot is stopped and disabled, C(<release_dir>.failed) is written and the
    module fails; no traffic reached the slot."
  - Switches nginx's upstream file of O(site) to the slot (written, C(nginx -t), graceful reload; the previous file
    is put back when nginx rejects it), and with O(link) points the stable socket link and its tmpfiles.d file
    O(tmpfiles) at the slot's socket. Moves C(<app_root>/current) to O(release_dir) and C(<app_root>/previous) to the
    plan's previous release (removed when there is none).
  - "Gate 3: runs the health check O(proxy_check) through the proxy. When it fails and the plan has an old slot, the
    traffic goes back to it once (nginx, link, C(current), C(previous)), the old slot is checked again, the new slot is
    stopped once nginx's previous workers have exited, C(<release_dir>.failed) is written and the module fails. With
    no old slot, the slot nginx serves is recorded with the fingerprint C(unverified) (the next run flips to a fresh
    slot) and the module fails."
  - Records the live slot in O(state_file) (as C(flaskops.deploy.release) with C(action=commit)), enables the new
    slot's socket, waits until nginx's previous workers have exited (at most O(drain_timeout) seconds; without nginx
    O(drain_grace) seconds) and stops and disables the slot that was live.
  - Each step's duration is returned in RV(steps).
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing changes; the module returns RV(changed=true) and the steps a real run would do in
        RV(would).
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run flips (a restart runs the same release in a fresh slot). Run it only when the plan says so.
options:
  app_name:
    description: The application, which names the slots' units C(<app_name>@<slot>.service) and C(.socket).
    type: str
    required: true
  plan:
    description: The plan of C(flaskops.deploy.release) (RV(flaskops.deploy.release#module:plan)); its C(next) slot
      must be set.
    type: dict
    required: true
  state:
    description: The state of C(flaskops.deploy.release) (RV(flaskops.deploy.release#module:state)) the plan was made
      from.
    type: dict
    required: true
  release:
    description: The release's id. Defaults to the last part of O(release_dir).
    type: str
  release_dir:
    description: The release directory that goes live.
    type: path
    required: true
  server:
    description: The application server the slot runs.
    type: str
    required: true
    choices: [gunicorn, waitress, uwsgi]
  exec_start:
    description: The slot's command (its C(ExecStart=)).
    type: str
    required: true
  group:
    description: The application's group, group of the slot's configuration and of the state file.
    type: str
    required: true
  config_dir:
    description: The directory of the configuration files.
    type: path
    required: true
  config_files:
    description: The files of O(config_dir) the slot gets a copy of (the env file, the server's configuration).
    type: list
    elements: str
    required: true
  slots_dir:
    description: The directory of the slots' configuration directories.
    type: path
    required: true
  unit_dir:
    description: The directory of the systemd units.
    type: path
    default: /etc/systemd/system
  app_root:
    description: The directory of the C(current) and C(previous) links.
    type: path
    required: true
  state_file:
    description: The state file.
    type: path
    required: true
  site:
    description: The nginx site whose upstream file (C(/etc/nginx/flaskops/<site>.upstream.conf)) is switched.
      Empty without nginx.
    type: str
    default: ""
  upstream_dir:
    description: The directory of nginx's upstream files.
    type: path
    default: /etc/nginx/flaskops
  slot_addresses:
    description: Each slot's address as nginx's upstream names it (C(unix:/run/hello/blue.sock), C(127.0.0.1:8001)).
    type: dict
    required: true
  link:
    description: The stable socket link that follows the live slot. Empty for TCP slots.
    type: path
    default: ""
  slot_sockets:
    description: Each slot's socket path, the target of O(link).
    type: dict
    default: {}
  tmpfiles:
    description: The tmpfiles.d file that recreates O(link) at boot. Required with O(link).
    type: path
    default: ""
  slot_check:
    description:
      - The health check of the new slot on its own socket, with the options of C(flaskops.deploy.health_check)
        (C(url), C(unix_socket), C(headers), C(status_code), C(json), C(retries), C(delay), C(timeout),
        C(success_threshold), C(use_proxy), ...); C(url) is required.
    type: dict
    required: true
  proxy_check:
    description:
      - The health check through the proxy, with the options of C(flaskops.deploy.health_check) (C(connect_to),
        C(trust_served_certificate), C(follow_redirects), ...). Without it (or without its C(url)) the gate is
        skipped, as without nginx.
    type: dict
  drain_timeout:
    description: How long to wait at most for nginx's previous workers before the old slot stops, in seconds.
    type: int
    default: 60
  drain_grace:
    description: Without nginx (O(site) empty), how long the old slot's clients get before it stops, in seconds.
    type: int
    default: 5
notes:
  - The module writes the slots' C(50-release.conf) drop-ins; nothing else should manage them.
seealso:
  - module: flaskops.deploy.release
  - module: flaskops.deploy.health_check
  - module: flaskops.deploy.nginx_upstream
"""

EXAMPLES = r"""
- name: Read the release state and plan the run
  flaskops.deploy.release:
    app_name: hello
    state_file: /etc/hello/slots/state.json
    site: hello
    slot_addresses: {blue: "unix:/run/hello/blue.sock", green: "unix:/run/hello/green.sock"}
    release_dir: /srv/hello/releases/1.2.0
    server: gunicorn
    runtime_files: [/etc/hello/env, /etc/hello/gunicorn.conf.py]
  register: hello_release

- name: Put the release live through the idle slot
  flaskops.deploy.slot_flip:
    app_name: hello
    plan: "{{ hello_release.plan }}"
    state: "{{ hello_release.state }}"
    release_dir: /srv/hello/releases/1.2.0
    server: gunicorn
    exec_start: >-
      /srv/hello/releases/1.2.0/.venv/bin/gunicorn --config
      /etc/hello/slots/{{ hello_release.plan.next }}/gunicorn.conf.py
    group: hello
    config_dir: /etc/hello
    config_files: [env, gunicorn.conf.py]
    slots_dir: /etc/hello/slots
    app_root: /srv/hello
    state_file: /etc/hello/slots/state.json
    site: hello
    slot_addresses: {blue: "unix:/run/hello/blue.sock", green: "unix:/run/hello/green.sock"}
    link: /run/hello/hello.sock
    slot_sockets: {blue: /run/hello/blue.sock, green: /run/hello/green.sock}
    tmpfiles: /etc/tmpfiles.d/flaskops-hello.conf
    slot_check:
      url: http://hello.example.com/health
      unix_socket: /run/hello/{{ hello_release.plan.next }}.sock
      retries: 20
      delay: 0.5
      success_threshold: 2
      use_proxy: false
    proxy_check:
      url: http://hello.example.com/health
      connect_to: 127.0.0.1
      trust_served_certificate: true
      follow_redirects: safe
      use_proxy: false
  register: hello_flip
  when: hello_release.plan.flip

- name: Show how long each step took
  ansible.builtin.debug:
    msg: "{{ hello_flip.steps | map(attribute='step') | zip(hello_flip.steps | map(attribute='seconds')) | list }}"
  when: hello_flip is not skipped

- name: A TCP slot without nginx (the old slot's clients get 5 seconds)
  flaskops.deploy.slot_flip:
    app_name: hello
    plan: "{{ hello_release.plan }}"
    state: "{{ hello_release.state }}"
    release_dir: /srv/hello/releases/1.2.0
    server: waitress
    exec_start: /srv/hello/releases/1.2.0/.venv/bin/python /usr/local/lib/flaskops/waitress_systemd.py x.json
    group: hello
    config_dir: /etc/hello
    config_files: [env, waitress.json]
    slots_dir: /etc/hello/slots
    app_root: /srv/hello
    state_file: /etc/hello/slots/state.json
    slot_addresses: {blue: "127.0.0.1:8001", green: "127.0.0.1:8002"}
    slot_check:
      url: http://127.0.0.1:8002/health
    drain_grace: 5
  when: hello_release.plan.flip
"""

RETURN = r"""
changed:
  description: Whether the flip ran (in check mode, always true).
  returned: always
  type: bool
  sample: true
slot:
  description: The slot the release went live in (or was to go live in).
  returned: always
  type: str
  sample: green
old_slot:
  description: The slot that served before and that the traffic goes back to when the check through the proxy fails;
    empty when none was running.
  returned: always
  type: str
  sample: blue
stopped_slot:
  description: The slot that was stopped; the old one after a flip, the new one after a failed gate.
  returned: always
  type: str
  sample: blue
release:
  description: The release's id.
  returned: always
  type: str
  sample: 1.2.0
release_dir:
  description: The release directory.
  returned: always
  type: str
  sample: /srv/hello/releases/1.2.0
reason:
  description: Why the plan flips.
  returned: always
  type: str
  sample: what slot blue runs differs (release, server, configuration or units)
steps:
  description:
    - The steps that ran, in order, each with its C(step) name, the C(slot) it acted on (when one) and its duration
      in C(seconds). Names are V(prepare), V(start), V(slot check), V(journal), V(stop), V(switch), V(links),
      V(proxy check), V(switch back), V(links back), V(recheck), V(commit), V(enable) and V(drain and stop).
    - Empty in check mode.
  returned: always
  type: list
  elements: dict
  sample: [{"step": "start", "slot": "green", "seconds": 0.41}, {"step": "switch", "slot": "green", "seconds": 0.12}]
drain_pids:
  description: nginx's workers from before the last reload, which finish their requests to the slot they left.
  returned: always
  type: list
  elements: str
  sample: ["4121", "4122"]
slot_check:
  description: The result of the check on the new slot's socket (as C(flaskops.deploy.health_check) returns it).
  returned: always
  type: dict
  sample: {"healthy": true, "status": 200, "attempts": 2}
proxy_check:
  description: The result of the check through the proxy; empty when it did not run.
  returned: always
  type: dict
  sample: {"healthy": true, "status": 200, "attempts": 2, "url": "https://hello.example.com/health"}
recheck:
  description: The result of the check through the proxy after a switch back; empty when there was none.
  returned: always
  type: dict
  sample: {}
committed:
  description: The state file's content once recorded; empty when nothing was recorded.
  returned: always
  type: dict
  sample: {"active": "green", "previous": "/srv/hello/releases/1.1.0", "slots": {}}
failure:
  description: The failure report written next to the release (C(<release_dir>.failed)); empty when none.
  returned: always
  type: dict
  sample: {"release": "1.2.0", "gate": "slot health", "slot": "green", "result": "..."}
would:
  description: In check mode, what a real run would do, one line per step.
  returned: check mode
  type: list
  elements: str
  sample: ["start slot green and check it on its own socket", "point nginx's upstream at slot green"]
"""

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flaskops.deploy.plugins.module_utils._flip import FlipFailed, check_mode_steps, flip
from ansible_collections.flaskops.deploy.plugins.module_utils._flip_host import ModuleHost, flip_spec
from ansible_collections.flaskops.deploy.plugins.module_utils._release import SLOTS, release_id


def _spec(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    plan, state = params["plan"], params["state"]
    for key in ("next", "old", "live", "reason", "reset_failed", "previous_release_dir", "fingerprint"):
        if key not in plan:
            module.fail_json(msg=f"plan has no {key}: pass flaskops.deploy.release's plan")
    for key in ("recorded", "live_record"):
        if key not in state:
            module.fail_json(msg=f"state has no {key}: pass flaskops.deploy.release's state")
    if plan["next"] not in SLOTS:
        module.fail_json(msg=f"the plan does not flip (its next slot is {plan['next']!r})")
    for name in ("slot_addresses", "slot_sockets"):
        unknown = sorted(set(params[name]) - set(SLOTS))
        if unknown:
            module.fail_json(msg=f"{name} has keys other than {', '.join(SLOTS)}: {', '.join(unknown)}")
    missing = sorted(slot for slot in SLOTS if slot not in params["slot_addresses"])
    if missing:
        module.fail_json(msg=f"slot_addresses lacks {', '.join(missing)}")
    if params["link"] and (not params["tmpfiles"] or set(params["slot_sockets"]) != set(SLOTS)):
        module.fail_json(msg="link needs tmpfiles and slot_sockets of both slots")
    if not params["slot_check"].get("url"):
        module.fail_json(msg="slot_check needs a url")
    proxy_check = params["proxy_check"] or {}
    return flip_spec(module, plan, state, params["slot_check"], proxy_check if proxy_check.get("url") else {},
                     slot=plan["next"], release=params["release"] or release_id(params["release_dir"]),
                     release_dir=params["release_dir"], exec_start=params["exec_start"], site=params["site"])


def main() -> t.NoReturn:
    module = AnsibleModule(
        argument_spec={
            "app_name": {"type": "str", "required": True},
            "plan": {"type": "dict", "required": True},
            "state": {"type": "dict", "required": True},
            "release": {"type": "str"},
            "release_dir": {"type": "path", "required": True},
            "server": {"type": "str", "required": True, "choices": ["gunicorn", "waitress", "uwsgi"]},
            "exec_start": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
            "config_dir": {"type": "path", "required": True},
            "config_files": {"type": "list", "elements": "str", "required": True},
            "slots_dir": {"type": "path", "required": True},
            "unit_dir": {"type": "path", "default": "/etc/systemd/system"},
            "app_root": {"type": "path", "required": True},
            "state_file": {"type": "path", "required": True},
            "site": {"type": "str", "default": ""},
            "upstream_dir": {"type": "path", "default": "/etc/nginx/flaskops"},
            "slot_addresses": {"type": "dict", "required": True},
            "link": {"type": "path", "default": ""},
            "slot_sockets": {"type": "dict", "default": {}},
            "tmpfiles": {"type": "path", "default": ""},
            # Validated against health_check's options in _spec (documented there, not repeated here).
            "slot_check": {"type": "dict", "required": True},
            "proxy_check": {"type": "dict"},
            "drain_timeout": {"type": "int", "default": 60},
            "drain_grace": {"type": "int", "default": 5},
        },
        supports_check_mode=True,
    )
    spec = _spec(module)
    if module.check_mode:
        module.exit_json(changed=True, slot=spec["slot"], old_slot=spec["plan"]["old"], stopped_slot="",
                         release=spec["release"], release_dir=spec["release_dir"], reason=spec["plan"]["reason"],
                         steps=[], drain_pids=[], slot_check={}, proxy_check={}, recheck={}, committed={}, failure={},
                         would=check_mode_steps(spec))
    try:
        result = flip(ModuleHost(module, module.params["upstream_dir"]), spec)
    except FlipFailed as failed:
        module.fail_json(msg=str(failed), **failed.result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
