#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: release
short_description: Read, plan and record the blue/green release state of an application
version_added: 1.0.0
description:
  - "An application deployed by the C(flaskops.deploy.app) role runs in two slots, V(blue) and V(green) (the systemd
    units C(<app>@<slot>.service) and C(<app>@<slot>.socket)). Which one is live is said by three sources: the state
    file (O(state_file)), nginx's upstream file (O(upstream_file), one line C(server <slot address> max_fails=0;)) and
    the units themselves. A run that was interrupted can leave them disagreeing; this module reads all three and says
    what the next run must do."
  - "O(action=status) reads the state file, the upstream file, the slots' units (C(systemctl show)) and the releases
    under O(releases_dir), and returns the normalised state (RV(state)), the plan for O(release_dir) (RV(plan)), the
    releases (RV(releases)), the release a rollback would go back to (RV(rollback)) and the releases a prune would
    remove (RV(prune)). It changes nothing."
  - The plan repairs what an interrupted run left. The slot nginx serves is live whatever the state file says, and it
    is never stopped or restarted before the traffic has moved away from it. A slot that runs but serves nothing is
    stopped before it is used again (RV(plan.stop_first)).
  - O(action=commit) records that O(slot) serves O(release_dir) by replacing the state file atomically, and removes
    the release's failure report (C(<release_dir>.failed)). It refuses to record a slot that nginx does not serve.
  - O(action=prune) removes the releases beyond O(keep) (failed and incomplete ones first), never the live one, the
    previous one, the ones either slot runs or those in O(protect), and the failure reports of removed releases.
  - "O(action=activate) is the activation of a release as one call: it reads and plans as O(action=status), stops the
    slots that run but serve nothing (RV(plan.stop_first)), then puts the release live through the idle slot as
    M(flaskops.deploy.slot_flip) does (RV(flip)) when the plan flips, or puts nginx's upstream file back on the live
    slot (RV(plan.switch_to)) when it does not. After a host's first flip it retires the single service of earlier
    versions (RV(legacy_service)): once nginx's previous workers are done with it (at most O(drain_timeout) seconds),
    C(<app_name>.socket) and C(<app_name>.service) stop, are disabled and their unit files go. Then, per O(prune), it
    removes old releases as O(action=prune) does, protecting the releases of the state file as the run leaves it."
  - The state file holds release ids, directories, server names and fingerprints only; no secret is read or returned.
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
  - flaskops.deploy.layout
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module reads everything a real run reads and returns RV(changed) and RV(would) exactly as a
        real run would, without writing or removing anything. With O(action=activate), RV(flip) is the flip a real
        run would do (its C(committed) empty) and RV(prune) what it would remove once that flip is recorded.
  diff_mode:
    support: full
    details:
      - O(action=commit) returns the state file before and after.
  idempotent:
    support: partial
    details:
      - O(action=activate) with O(restart=true) flips on every run (a restart runs the release in a fresh slot).
options:
  action:
    description:
      - V(status) reads the state and plans; V(commit) writes the state file; V(prune) removes old releases;
        V(activate) plans and carries the plan out (stops the stray slots, flips or puts nginx back, prunes).
    type: str
    default: status
    choices: [status, commit, prune, activate]
  app_name:
    description:
      - The application's name, which names the slots' units C(<app_name>@<slot>.service) and C(.socket).
      - Required, here or as a key of O(layout).
    type: str
  state_file:
    description:
      - The state file, C(/etc/<app_name>/slots/state.json) with the role's defaults.
      - A file that does not exist means no slot was recorded yet.
      - Required, here or as a key of O(layout).
    type: path
  upstream_file:
    description:
      - nginx's upstream file that the role switches, C(/etc/nginx/flaskops/<app_name>.upstream.conf) with its
        defaults.
      - When it is not given or does not exist, nginx is not switched; then O(link) tells which slot serves, if given.
      - Mutually exclusive with O(site). O(action=activate) needs O(site) instead.
    type: path
  site:
    description:
      - The nginx site (the nginx role's C(nginx_site_name)) whose switchable upstream file is read; its path is derived
        from the site name the way M(flaskops.deploy.nginx_upstream) derives it. Mutually exclusive with
        O(upstream_file).
      - Or a key of O(layout), which O(upstream_file) of the call overrides.
    type: str
  link:
    description:
      - The stable socket link that follows the live slot, C(/run/<app_name>/<app_name>.sock). Only read when there is
        no upstream file.
      - Or a key of O(layout).
    type: path
  slot_addresses:
    description:
      - 'Each slot''s address as the upstream file names it, for example
        V({"blue": "unix:/run/hello/blue.sock", "green": "unix:/run/hello/green.sock"}) or
        V({"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002"}).'
      - Needed to tell which slot the upstream file or O(link) points at.
      - Or a key of O(layout); default V({}) when neither gives it.
    type: dict
  releases_dir:
    description:
      - The directory of the releases, C(/srv/<app_name>/releases). Each subdirectory is a release; it is complete
        when it holds O(marker), failed when a C(<id>.failed) report lies next to it.
      - Required by O(action=prune). With O(action=status) the releases are listed when it is given.
      - Or a key of O(layout).
    type: path
  marker:
    description:
      - The file that marks a release complete (built, hooks run). Its modification time orders the releases.
      - Or a key of O(layout); default V(.flaskops-release) when neither gives it.
    type: str
  release_dir:
    description:
      - With O(action=status), the release to plan for; RV(plan) is returned when it is given (or found, see
        O(release_from)).
      - With O(action=commit), the release that O(slot) now serves. Required there.
    type: path
  release:
    description:
      - With O(action=commit), the release's id. Defaults to the last part of O(release_dir).
    type: str
  fingerprint:
    description:
      - The fingerprint of what the slot runs (see O(runtime_files)). When not given, it is computed from
        O(slot_format), O(server), O(release_dir) and O(runtime_files), the way the role computes it.
    type: str
  server:
    description:
      - The server the slot runs the release with. Required by O(action=commit), and by O(action=status) with
        O(release_dir) when O(fingerprint) is not given.
      - Or a key of O(layout).
    type: str
    choices: [gunicorn, waitress, uwsgi]
  runtime_files:
    description:
      - The files a slot depends on besides its release (env file, server configuration, unit files), whose SHA-1
        goes into the computed fingerprint. Files that do not exist are left out.
      - Their contents are hashed on the host and never returned.
      - Or a key of O(layout); default V([]) when neither gives it.
    type: list
    elements: path
  slot_format:
    description:
      - The format of the slots' drop-ins, part of the computed fingerprint.
      - Or a key of O(layout); default V(1) when neither gives it.
    type: int
  restart:
    description:
      - With O(action=status) or O(action=activate), plan a flip to a fresh slot even when nothing changed.
    type: bool
    default: false
  pending_changes:
    description:
      - Check mode only. The run writes files the fingerprint reads (O(runtime_files), such as the environment or the
        units) before this call, and a check-mode run only reported that they would change. With V(true), the plan
        takes the fingerprint as changed, so it reports the flip that a real run would do.
      - Ignored outside check mode, where the files on the host are read.
    type: bool
    default: false
  slot:
    description:
      - With O(action=commit), the slot that now serves O(release_dir). Required there.
    type: str
    choices: [blue, green]
  rollback_to:
    description:
      - With O(action=status) or O(action=activate), the release id RV(rollback) is computed for; the previous
        release when not given.
    type: str
  release_from:
    description:
      - With O(action=status) or O(action=activate), where the release to plan for comes from, so that one call
        reads the state and plans.
      - V(given) plans for O(release_dir) (no plan without it).
      - V(live) plans for the release the live slot runs (a restart); the module fails when no slot is live.
      - V(rollback) plans for the release RV(rollback) chooses under O(releases_dir) (O(rollback_to), or the previous
        one); the module fails with RV(rollback.error) when there is none.
    type: str
    choices: [given, live, rollback]
    default: given
  processes_manifest:
    description:
      - The manifest of the application's background processes and timers (see M(flaskops.deploy.app_processes));
        RV(state.processes_manifest) says whether it exists, so that a run without processes can skip their plan.
      - Or a key of O(layout).
    type: path
  keep:
    description:
      - How many complete releases stay on disk, the newest ones; the protected ones among them count.
    type: int
    default: 5
  protect:
    description:
      - Release ids or directories that O(action=prune) never removes, besides the live, previous and slots' releases
        and O(release_dir).
    type: list
    elements: str
    default: []
  prune:
    description:
      - With O(action=activate), when old releases are removed (as O(action=prune) removes them, after the flip is
        recorded). V(never), V(flip) after a flip, or V(always) (a run that built a release).
    type: str
    choices: [never, flip, always]
    default: never
  exec_start:
    description:
      - With O(action=activate), the command of the slot that starts (as M(flaskops.deploy.slot_flip)'s), or a dict
        with the command of each slot (V(blue), V(green)). C({slot}) and C({release_dir}) in it are replaced with the
        plan's next slot and release directory (the plan is made in the same call). Required there.
    type: raw
  config_dir:
    description:
      - With O(action=activate), the directory of the configuration files. Required there.
      - Or a key of O(layout).
    type: path
  config_files:
    description:
      - With O(action=activate), the files of O(config_dir) the slot gets a copy of. Required there.
      - Or a key of O(layout); default V([]) when neither gives it.
    type: list
    elements: str
  slots_dir:
    description:
      - With O(action=activate), the directory of the slots' configuration directories. Required there.
      - Or a key of O(layout).
    type: path
  unit_dir:
    description:
      - The directory of the systemd units (the slots' drop-ins, the single service of earlier versions).
      - Or a key of O(layout); default V(/etc/systemd/system) when neither gives it.
    type: path
  app_root:
    description:
      - With O(action=activate), the directory of the C(current) and C(previous) links. Required there.
      - Or a key of O(layout).
    type: path
  upstream_dir:
    description: The directory of nginx's upstream files, where O(site)'s is.
    type: path
    default: /etc/nginx/flaskops
  slot_sockets:
    description:
      - With O(action=activate), each slot's socket path, the target of O(link) (unix sockets only).
      - Or a key of O(layout); default V({}) when neither gives it.
    type: dict
  tmpfiles:
    description:
      - With O(action=activate), the tmpfiles.d file that recreates O(link) at boot. Required with a
        switched O(link).
      - Or a key of O(layout).
    type: path
  slot_check:
    description:
      - With O(action=activate), the health check of the new slot on its own socket (gate 2), with the options of
        M(flaskops.deploy.health_check); or a dict with the check of each slot (V(blue), V(green)). C(url) is
        required. Required there.
    type: dict
  proxy_check:
    description:
      - With O(action=activate), the health check through the proxy (gate 3) with an automatic switch back when it
        fails, as M(flaskops.deploy.slot_flip)'s. Without it (or its C(url)), or without nginx's upstream file, the
        gate is skipped.
      - With O(action=status), a health check made after the state is read (in check mode too), so that one call
        reads what is live and checks it; its result is RV(health). It never fails the task. Without its C(url),
        nothing is checked.
    type: dict
  drain_timeout:
    description: With O(action=activate), how long to wait at most for nginx's previous workers before the old slot
      stops, in seconds.
    type: int
    default: 60
  drain_grace:
    description: With O(action=activate) and without nginx, how long the old slot's clients get before it stops, in
      seconds.
    type: int
    default: 5
  config_check:
    description:
      - With O(action=activate), the Flask configuration check of the release the plan puts live, run before any
        slot starts when the plan flips (in check mode too, as it changes nothing); a rollback's, whose release was
        checked when it was deployed but with the environment of that time.
      - It imports the release as O(config_check.user) with the environment of O(config_check.env_file), the file the
        slots read, and applies the rules of M(flaskops.deploy.flask_config_validate) with the settings
        O(config_check.config) (those of M(flaskops.deploy.release_build)'s O(flaskops.deploy.release_build#module:config)).
      - A refusal fails the module before anything changed, naming each finding and its fix. The findings of a
        passing check are the task's warnings, one line each (RV(finding_lines)).
    type: dict
    suboptions:
      env_file:
        description: The environment file the slots read (C(/etc/<app_name>/env)).
        type: path
        required: true
      user:
        description: The user the check imports the release as, the slots' user.
        type: str
        required: true
      group:
        description: The group of the check's process; the layout's O(group) when not given.
        type: str
      config:
        description: The settings of the check, built once by the C(flaskops.deploy.app) role from its
          C(app_config_check_*) variables; C(app) is required.
        type: dict
        required: true
notes:
  - "O(mode), O(owner) and O(group) apply to the state file written by O(action=commit); the role writes it as
    C(root:<app_group>) with mode C(0640)."
  - The module runs C(systemctl show) to read the units' state, in check mode too.
seealso:
  - module: flaskops.deploy.health_check
    description: The health gates between starting a slot, switching to it and recording it.
  - module: flaskops.deploy.slot_flip
    description: The flip on its own, for a plan made by an earlier call.
"""

EXAMPLES = r"""
- name: Read the release state and plan the release
  flaskops.deploy.release:
    app_name: hello
    state_file: /etc/hello/slots/state.json
    upstream_file: /etc/nginx/flaskops/hello.upstream.conf
    slot_addresses:
      blue: unix:/run/hello/blue.sock
      green: unix:/run/hello/green.sock
    releases_dir: /srv/hello/releases
    release_dir: /srv/hello/releases/4f2a9c1
    server: gunicorn
    runtime_files:
      - /etc/hello/env
      - /etc/hello/gunicorn.conf.py
      - /etc/systemd/system/hello@.service
      - /etc/systemd/system/hello@.socket
  register: hello_release

- name: Say what the run does
  ansible.builtin.debug:
    msg: >-
      flip={{ hello_release.plan.flip }} ({{ hello_release.plan.reason }}), next slot {{ hello_release.plan.next }},
      stop first {{ hello_release.plan.stop_first }}, repairs {{ hello_release.plan.repairs }}

- name: Record the slot that serves the release, after the switch and the check through nginx
  flaskops.deploy.release:
    action: commit
    # The host layout, the same dict for every call (the options of this call win over its keys).
    layout:
      app_name: hello
      state_file: /etc/hello/slots/state.json
      site: hello
      slot_addresses:
        blue: unix:/run/hello/blue.sock
        green: unix:/run/hello/green.sock
      server: gunicorn
      group: hello
      releases_dir: /srv/hello/releases
    slot: "{{ hello_release.plan.next }}"
    release_dir: /srv/hello/releases/4f2a9c1
    fingerprint: "{{ hello_release.plan.fingerprint }}"
    owner: root
    mode: "0640"

- name: Remove old releases, failed ones first
  flaskops.deploy.release:
    action: prune
    app_name: hello
    state_file: /etc/hello/slots/state.json
    releases_dir: /srv/hello/releases
    keep: 5
    protect: [4f2a9c1]

- name: Plan, repair, flip to the idle slot (or put nginx back on the live one) and prune, in one call
  flaskops.deploy.release:
    action: activate
    app_name: hello
    state_file: /etc/hello/slots/state.json
    site: hello
    slot_addresses:
      blue: unix:/run/hello/blue.sock
      green: unix:/run/hello/green.sock
    release_dir: /srv/hello/releases/4f2a9c1
    server: gunicorn
    runtime_files: [/etc/hello/env, /etc/hello/gunicorn.conf.py]
    exec_start: "{release_dir}/.venv/bin/gunicorn --config /etc/hello/slots/{slot}/gunicorn.conf.py"
    group: hello
    config_dir: /etc/hello
    config_files: [env, gunicorn.conf.py]
    slots_dir: /etc/hello/slots
    app_root: /srv/hello
    link: /run/hello/hello.sock
    slot_sockets: {blue: /run/hello/blue.sock, green: /run/hello/green.sock}
    tmpfiles: /etc/tmpfiles.d/flaskops-hello.conf
    slot_check:
      blue: {url: http://hello.example.com/health, unix_socket: /run/hello/blue.sock}
      green: {url: http://hello.example.com/health, unix_socket: /run/hello/green.sock}
    proxy_check: {url: http://hello.example.com/health, connect_to: 127.0.0.1, trust_served_certificate: true}
    releases_dir: /srv/hello/releases
    keep: 5
    prune: always
  register: hello_activation

- name: Find the release a rollback to a named release would go back to
  flaskops.deploy.release:
    app_name: hello
    state_file: /etc/hello/slots/state.json
    releases_dir: /srv/hello/releases
    rollback_to: 1e0b7d3
  register: hello_rollback
  failed_when: hello_rollback.rollback.error | length > 0
"""

RETURN = r"""
changed:
  description: Whether the state file was written (O(action=commit)) or releases were removed (O(action=prune)); in
    check mode, whether a real run would do so.
  returned: always
  type: bool
  sample: true
would:
  description: What the run changes (in check mode, what a real run would change), one sentence per change. Empty when
    nothing changes.
  returned: always
  type: list
  elements: str
  sample: ["write /etc/hello/slots/state.json: slot green serves release 4f2a9c1"]
state:
  description: The state as read before any change.
  returned: always
  type: dict
  contains:
    recorded:
      description: What the state file says, normalised (V(active), V(previous), V(slots)).
      type: dict
      returned: always
      sample: {"active": "blue", "previous": "/srv/hello/releases/1e0b7d3", "slots": {"blue": {
               "release": "4f2a9c1", "release_dir": "/srv/hello/releases/4f2a9c1", "server": "gunicorn",
               "fingerprint": "0c1d..."}}}
    state_file:
      description: V(present), V(missing) or V(invalid) (not a JSON object, ignored).
      type: str
      returned: always
      sample: present
    nginx:
      description: Whether the upstream file exists.
      type: bool
      returned: always
      sample: true
    upstream_file:
      description: The path of nginx's upstream file that was read (O(upstream_file), or the one O(site) names); empty
        when neither is given.
      type: str
      returned: always
      sample: /etc/nginx/flaskops/hello.upstream.conf
    upstream_servers:
      description: The server addresses in the upstream file.
      type: list
      elements: str
      returned: always
      sample: ["unix:/run/hello/blue.sock"]
    upstream_canonical:
      description: Whether the upstream file is exactly the line the role writes for the slot it names.
      type: bool
      returned: always
      sample: true
    served:
      description: The slot nginx (or, without nginx, O(link)) sends the traffic to; empty when unknown.
      type: str
      returned: always
      sample: blue
    served_by:
      description: V(nginx), V(link) or empty.
      type: str
      returned: always
      sample: nginx
    units:
      description: Per slot, the V(service) and V(socket) unit states, and whether the slot is V(running) or V(failed).
      type: dict
      returned: always
      sample: {"blue": {"service": "active", "socket": "active", "running": true, "failed": false},
               "green": {"service": "inactive", "socket": "inactive", "running": false, "failed": false}}
    running:
      description: The slots that run.
      type: list
      elements: str
      returned: always
      sample: [blue]
    live:
      description: The slot that serves; the one nginx serves when known, else the state file's.
      type: str
      returned: always
      sample: blue
    live_trusted:
      description: Whether the state file records RV(state.live) as active, so its fingerprint is what it runs.
      type: bool
      returned: always
      sample: true
    live_record:
      description: The state file's entry of the live slot when trusted, else empty.
      type: dict
      returned: always
      sample: {"release": "4f2a9c1", "release_dir": "/srv/hello/releases/4f2a9c1", "server": "gunicorn",
               "fingerprint": "0c1d..."}
    problems:
      description: What disagrees or is wrong, each with a V(code) (V(state-invalid), V(upstream-unknown),
        V(served-not-recorded), V(idle-running), V(live-not-running)) and a V(message).
      type: list
      elements: dict
      returned: always
      sample: [{"code": "idle-running", "message": "slot green is running but does not serve ..."}]
    disagree:
      description: Whether the state file, the upstream file and the units contradict each other.
      type: bool
      returned: always
      sample: false
    processes_manifest:
      description: Whether O(processes_manifest) exists (V(false) when it is not given).
      type: bool
      returned: always
      sample: false
    interrupted:
      description: Whether the disagreement looks like an interrupted run.
      type: bool
      returned: always
      sample: false
plan:
  description: What a run putting O(release_dir) live does.
  returned: when O(action=status) or O(action=activate), and O(release_dir) is given (or found)
  type: dict
  contains:
    flip:
      description: Whether the release starts in the idle slot and the traffic flips to it.
      type: bool
      returned: always
      sample: true
    reason:
      description: Why (or why not).
      type: str
      returned: always
      sample: what slot blue runs differs (release, server, configuration or units)
    live:
      description: The slot that serves now, empty when none.
      type: str
      returned: always
      sample: blue
    next:
      description: The slot the release starts in, empty without a flip.
      type: str
      returned: always
      sample: green
    old:
      description: The running slot that serves until the switch, is switched back to when the check through the
        proxy fails, and is drained and stopped after the switch; empty when there is none.
      type: str
      returned: always
      sample: blue
    stop_first:
      description: Slots to stop before anything else (running, serving nothing). Never the slot nginx serves.
      type: list
      elements: str
      returned: always
      sample: []
    reset_failed:
      description: Slots whose failed units must be reset before the start.
      type: list
      elements: str
      returned: always
      sample: []
    switch_to:
      description: Without a flip, the slot nginx's upstream file must be put back on; empty when it is right.
      type: str
      returned: always
      sample: ""
    keep_serving:
      description: The slot that serves and must not be stopped or restarted before the switch.
      type: str
      returned: always
      sample: blue
    previous_release_dir:
      description: What C(previous) points at after the run.
      type: str
      returned: always
      sample: /srv/hello/releases/1e0b7d3
    first_deploy:
      description: Whether the state file records no live slot yet (the single service of earlier versions is
        retired after the first flip).
      type: bool
      returned: always
      sample: false
    repairs:
      description: What the plan repairs of an interrupted run, one sentence each.
      type: list
      elements: str
      returned: always
      sample: ["stop slot green first: it runs but serves nothing"]
    release_dir:
      description: The release the plan is for (O(release_dir), or the one O(release_from) found).
      type: str
      returned: always
      sample: /srv/hello/releases/4f2a9c1
    release:
      description: The id of RV(plan.release_dir) (the state file's record of it for O(release_from=live)).
      type: str
      returned: always
      sample: 4f2a9c1
    fingerprint:
      description: The fingerprint the plan compared (O(fingerprint) or the computed one).
      type: str
      returned: always
      sample: 5b7f0c2e4d9a1b3c6e8f0a2b4c6d8e0f1a3b5c7d
releases:
  description: The releases under O(releases_dir), newest first.
  returned: when O(releases_dir) is given
  type: list
  elements: dict
  contains:
    id:
      description: The release id (the directory's name).
      type: str
      returned: always
    path:
      description: The release directory.
      type: str
      returned: always
    mtime:
      description: The modification time of O(marker) (of the directory when incomplete).
      type: float
      returned: always
    complete:
      description: Whether the release holds O(marker).
      type: bool
      returned: always
    failed:
      description: Whether a C(<id>.failed) report lies next to it.
      type: bool
      returned: always
  sample: [{"id": "4f2a9c1", "path": "/srv/hello/releases/4f2a9c1", "mtime": 1718000000.0, "complete": true,
            "failed": false}]
rollback:
  description: The release a rollback goes back to (O(rollback_to) or the previous one).
  returned: when O(action=status) or O(action=activate), and O(releases_dir) is given
  type: dict
  contains:
    release:
      description: The release id, empty when there is none.
      type: str
      returned: always
      sample: 1e0b7d3
    already_live:
      description: Whether the live slot runs it already.
      type: bool
      returned: always
      sample: false
    candidates:
      description: The complete releases that did not fail, newest first, without the live one.
      type: list
      elements: str
      returned: always
      sample: [1e0b7d3]
    error:
      description: Why there is nothing to go back to; empty when there is.
      type: str
      returned: always
      sample: ""
prune:
  description: The release ids a prune removes (O(action=prune), O(action=activate) per O(prune)) or would remove
    (O(action=status)), in order.
  returned: when O(releases_dir) is given
  type: list
  elements: str
  sample: [9a8b7c6]
committed:
  description: The state file's content after O(action=commit).
  returned: when O(action=commit)
  type: dict
  sample: {"active": "green", "previous": "/srv/hello/releases/1e0b7d3", "slots": {}}
stopped_first:
  description: The slots O(action=activate) stopped before anything else (RV(plan.stop_first)); empty in check mode.
  returned: when O(action=activate)
  type: list
  elements: str
  sample: [green]
switched_to:
  description: The slot O(action=activate) put nginx's upstream file back on without a flip; empty when none (and in
    check mode).
  returned: when O(action=activate)
  type: str
  sample: ""
drain_pids:
  description: nginx's workers from before the last reload of O(action=activate), which finish their requests to the
    slot they left.
  returned: when O(action=activate)
  type: list
  elements: str
  sample: ["4121"]
flip:
  description:
    - The flip of O(action=activate), as M(flaskops.deploy.slot_flip) returns it (C(slot), C(old_slot),
      C(stopped_slot), C(release), C(release_dir), C(reason), C(steps), C(drain_pids), C(slot_check),
      C(proxy_check), C(recheck), C(committed), C(failure)); empty when the plan does not flip.
    - In check mode the flip a real run would do, with empty C(steps) and C(committed).
  returned: when O(action=activate)
  type: dict
  sample: {"slot": "green", "old_slot": "blue", "stopped_slot": "blue", "committed": {"active": "green"}}
config:
  description: With O(config_check), the report of the configuration check (C(valid), C(findings), C(facts),
    C(duration), as M(flaskops.deploy.release_build) returns it); empty when it did not run (no flip).
  returned: when O(action=activate)
  type: dict
  sample: {"valid": true, "findings": [], "duration": 0.41}
finding_lines:
  description: The findings of a passing configuration check (O(config_check)), one line each, as
    M(flaskops.deploy.release_build) returns them; each is also a warning of the task.
  returned: when O(action=activate)
  type: list
  elements: str
  sample: []
health:
  description:
    - The health check of O(proxy_check) with O(action=status), as M(flaskops.deploy.health_check) returns it
      (C(healthy), C(status), C(attempts), C(msg), C(json) and the rest).
  returned: when O(action=status) with O(proxy_check)'s C(url)
  type: dict
  sample: {"healthy": true, "status": 200, "attempts": 1, "msg": "http://hello.example.com/health is healthy"}
legacy_service:
  description: The single service of earlier versions (C(<unit_dir>/<app_name>.service)) retired after a host's first
    flip (in check mode, the one a real run would retire); empty when there is none.
  returned: when O(action=activate)
  type: str
  sample: ""
"""

import hashlib
import json
import os
import shutil
import tempfile
import time
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.flaskops.deploy.plugins.module_utils._flip import (
    FlipFailed,
    HostError,
    activate,
    activation_steps,
    retire_legacy,
)
from ansible_collections.flaskops.deploy.plugins.module_utils import _config_host as config_host
from ansible_collections.flaskops.deploy.plugins.module_utils import _host_layout as host_layout
from ansible_collections.flaskops.deploy.plugins.module_utils import _release_build as rb
from ansible_collections.flaskops.deploy.plugins.module_utils._flip_host import ModuleHost, check_options, flip_spec
from ansible_collections.flaskops.deploy.plugins.module_utils._nginx_upstream import upstream_path
from ansible_collections.flaskops.deploy.plugins.module_utils._release import (
    SLOTS,
    commit,
    fingerprint,
    live_release,
    parse_systemctl_show,
    PRUNE_WHEN,
    plan,
    protected_releases,
    prune_after,
    read_state,
    release_id,
    retention,
    rollback_candidates,
    runtime_sum_line,
    slot_units,
)


def _read_text(module: AnsibleModule, path: str | None) -> str | None:
    """The text of ``path``, ``None`` when it is not given or does not exist."""
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as error:
        module.fail_json(msg=f"cannot read {path}: {to_native(error)}")


def _unit_states(module: AnsibleModule, app_name: str) -> dict[str, str]:
    systemctl = module.get_bin_path("systemctl", required=True)
    units = slot_units(app_name)
    rc, out, err = module.run_command([systemctl, "show", "--property=Id,ActiveState"] + units)
    if rc != 0:
        module.fail_json(msg=f"systemctl show failed (rc {rc}): {err.strip() or out.strip()}")
    states = parse_systemctl_show(out)
    return {unit: states.get(unit, "") for unit in units}


def _runtime_sums(module: AnsibleModule, paths: list[str]) -> list[str]:
    lines = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                digest = hashlib.sha1(handle.read()).hexdigest()
        except FileNotFoundError:
            continue
        except OSError as error:
            module.fail_json(msg=f"cannot read the runtime file {path}: {to_native(error)}")
        lines.append(runtime_sum_line(path, digest))
    return lines


def _list_releases(module: AnsibleModule, releases_dir: str, marker: str) -> list[dict[str, t.Any]]:
    try:
        names = sorted(os.listdir(releases_dir))
    except FileNotFoundError:
        return []
    except OSError as error:
        module.fail_json(msg=f"cannot list {releases_dir}: {to_native(error)}")
    releases = []
    for name in names:
        path = os.path.join(releases_dir, name)
        if os.path.islink(path) or not os.path.isdir(path):
            continue
        marker_path = os.path.join(path, marker)
        complete = os.path.isfile(marker_path)
        releases.append({
            "id": name,
            "path": path,
            "mtime": os.stat(marker_path if complete else path).st_mtime,
            "complete": complete,
            "failed": os.path.isfile(f"{path}.failed"),
        })
    releases.sort(key=lambda item: (item["mtime"], item["id"]), reverse=True)
    return releases


def _orphan_reports(releases_dir: str, remaining: set[str]) -> list[str]:
    """The failure reports whose release directory is gone (or goes)."""
    try:
        names = sorted(os.listdir(releases_dir))
    except OSError:
        return []
    return [name for name in names if name.endswith(".failed") and name[: -len(".failed")] not in remaining]


def _release_to_plan(module: AnsibleModule, state: dict[str, t.Any], result: dict[str, t.Any]) -> tuple[str, str]:
    """The release directory and id to plan for, per O(release_from); ``("", "")`` for no plan."""
    params = module.params
    source = params["release_from"]
    if source == "live":
        found = live_release(state)
        if not found[0]:
            module.fail_json(msg=f"{params['app_name']} has no live slot on this host ({params['state_file']} names "
                             "none): deploy a release first", **result)
        return found
    if source == "rollback":
        if not params["releases_dir"]:
            module.fail_json(msg="release_from is rollback but releases_dir is not given", **result)
        choice = result["rollback"]
        if choice["error"]:
            module.fail_json(msg=choice["error"], **result)
        return os.path.join(params["releases_dir"], choice["release"]), choice["release"]
    return params["release_dir"] or "", ""


def _fingerprint(module: AnsibleModule) -> str:
    params = module.params
    if params["fingerprint"]:
        return params["fingerprint"]
    if not params["server"]:
        module.fail_json(msg="server is required to compute the fingerprint when fingerprint is not given")
    sums = _runtime_sums(module, params["runtime_files"])
    if module.check_mode and params["pending_changes"]:
        # What the check-mode run did not write would change the sums: a real run's fingerprint differs.
        sums = sums + ["pending"]
    return fingerprint(params["slot_format"], params["server"], params["release_dir"], sums)


def _write_state(module: AnsibleModule, path: str, content: dict[str, t.Any]) -> None:
    directory = os.path.dirname(path) or "."
    text = json.dumps(content, indent=4, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(text))
            handle.flush()
            os.fsync(handle.fileno())
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _do_commit(module: AnsibleModule, state: dict[str, t.Any], result: dict[str, t.Any]) -> None:
    params = module.params
    for name in ("slot", "release_dir", "server"):
        if not params[name]:
            module.fail_json(msg=f"action=commit needs {name}", **result)
    slot = params["slot"]
    if state["nginx"] and state["served"] != slot:
        where = f"slot {state['served']}" if state["served"] else f"{state['upstream_servers'] or 'no server'}"
        module.fail_json(msg=f"nginx serves {where}, not slot {slot}: switch the upstream before the record", **result)
    release = params["release"] or release_id(params["release_dir"])
    try:
        new = commit(state, slot, release, params["release_dir"], _fingerprint(module), params["server"])
    except ValueError as error:
        module.fail_json(msg=str(error), **result)
    result["committed"] = new
    path = params["state_file"]
    before_text = _read_text(module, path)
    before: t.Any = None
    if before_text is not None:
        try:
            before = json.loads(before_text)
        except ValueError:
            before = None
    if before != new:
        result["would"].append(f"write {path}: slot {slot} serves release {release}")
        if module._diff:
            result["diff"] = {
                "before_header": path,
                "after_header": path,
                "before": before_text or "",
                "after": json.dumps(new, indent=4, sort_keys=True) + "\n",
            }
        if not module.check_mode:
            try:
                _write_state(module, path, new)
            except OSError as error:
                module.fail_json(msg=f"cannot write {path}: {to_native(error)}", **result)
    report = f"{params['release_dir'].rstrip('/')}.failed"
    if os.path.lexists(report):
        result["would"].append(f"remove {report}: release {release} serves now")
        if not module.check_mode:
            os.unlink(report)
    if os.path.exists(path) or not module.check_mode:
        # In check mode a state file that does not exist yet gets its owner, group and mode with the write.
        file_args = module.load_file_common_arguments(params, path=path)
        if module.set_fs_attributes_if_different(file_args, False) and before == new:
            result["would"].append(f"set the owner, group or mode of {path}")


def _do_prune(module: AnsibleModule, releases_dir: str, removal: list[str], releases: list[dict[str, t.Any]],
              result: dict[str, t.Any]) -> None:
    remaining = {item["id"] for item in releases} - set(removal)
    for name in removal:
        path = os.path.join(releases_dir, name)
        result["would"].append(f"remove release {path}")
        if not module.check_mode:
            shutil.rmtree(path)
    for name in _orphan_reports(releases_dir, remaining):
        path = os.path.join(releases_dir, name)
        result["would"].append(f"remove failure report {path}")
        if not module.check_mode:
            os.unlink(path)


FLIP_REQUIRED = ("server", "exec_start", "group", "config_dir", "config_files", "slots_dir", "app_root", "slot_check")
"""The options O(action=activate) needs besides the plan's."""


def _slot_value(value: t.Any, slot: str) -> t.Any:
    """``value``, or its entry for ``slot`` when it is a dict keyed by the slots."""
    if isinstance(value, dict) and value and set(value) <= set(SLOTS):
        return value.get(slot)
    return value


def _activation_spec(module: AnsibleModule, state: dict[str, t.Any], the_plan: dict[str, t.Any],
                     result: dict[str, t.Any]) -> dict[str, t.Any]:
    """The spec of :func:`activate` (:func:`flip`'s): the plan's slot and release filled in."""
    params = module.params
    missing = [name for name in FLIP_REQUIRED if not params[name]]
    if missing:
        module.fail_json(msg=f"action=activate needs {', '.join(missing)}", **result)
    if params["link"] and (not params["tmpfiles"] or set(params["slot_sockets"]) != set(SLOTS)):
        module.fail_json(msg="link needs tmpfiles and slot_sockets of both slots", **result)
    unknown = sorted(set(params["slot_sockets"]) - set(SLOTS))
    missing_slots = sorted(set(SLOTS) - set(params["slot_addresses"]))
    if unknown or missing_slots:
        module.fail_json(msg=f"slot_sockets has keys other than {', '.join(SLOTS)} or slot_addresses lacks a slot: "
                         f"{', '.join(unknown + missing_slots)}", **result)
    slot = the_plan["next"]
    release_dir = the_plan["release_dir"]
    checks = [_slot_value(params["slot_check"], name) or {} for name in SLOTS]
    slot_check = checks[SLOTS.index(slot)] if slot else checks[0]
    if not all(isinstance(check, dict) and check.get("url") for check in checks):
        module.fail_json(msg="slot_check needs a url (for each slot when it is given per slot)", **result)
    exec_start = _slot_value(params["exec_start"], slot or SLOTS[0]) or ""
    if not isinstance(exec_start, str):
        module.fail_json(msg="exec_start must be a string, or a string per slot", **result)
    proxy_check = params["proxy_check"] or {}
    # Gate 3 runs through nginx: without its upstream file there is no proxy to check through (and nginx is switched
    # only when that file exists; else the stable socket link says what is live).
    return flip_spec(
        module, the_plan, state, slot_check, proxy_check if proxy_check.get("url") and state["nginx"] else {},
        slot=slot, release=the_plan["release"], release_dir=release_dir,
        exec_start=exec_start.replace("{slot}", slot).replace("{release_dir}", release_dir),
        site=params["site"] if params["site"] and state["nginx"] else "")


def _check_mode_flip(spec: dict[str, t.Any]) -> dict[str, t.Any]:
    """What slot_flip returns in check mode: the flip a real run would do, nothing done."""
    return {"changed": True, "slot": spec["slot"], "old_slot": spec["plan"]["old"], "stopped_slot": "",
            "release": spec["release"], "release_dir": spec["release_dir"], "reason": spec["plan"]["reason"],
            "steps": [], "drain_pids": [], "slot_check": {}, "proxy_check": {}, "recheck": {}, "committed": {},
            "failure": {}}


def _config_check(module: AnsibleModule, the_plan: dict[str, t.Any], result: dict[str, t.Any]) -> None:
    """O(config_check) on the planned release: fail before anything changes when it is refused."""
    options = module.params["config_check"]
    settings = options["config"]
    problems = ArgumentSpecValidator(config_host.CONFIG_OPTIONS).validate(settings)
    if problems.error_messages:
        module.fail_json(msg="config_check.config: " + "; ".join(problems.error_messages), **result)
    settings = problems.validated_parameters
    if not settings["app"]:
        module.fail_json(msg="config_check.config needs app", **result)
    group = options["group"] or module.params["group"]
    if not group:
        module.fail_json(msg="config_check needs group (here or in layout)", **result)
    started = time.monotonic()
    env = config_host.read_env(module, options["env_file"])
    report, refusal = config_host.check(module, the_plan["release_dir"], env, options["user"], group, settings)
    result["config"] = dict(report, duration=round(time.monotonic() - started, 3))
    if refusal:
        module.fail_json(msg=rb.config_refusal(
            the_plan["release"], False, bool(the_plan.get("live")), refusal, report.get("findings") or [],
            settings["hints"], settings["hint_skip"], settings["https"], settings["https_setting"]), **result)
    result["finding_lines"] = rb.finding_lines(report.get("findings") or [], settings["hints"], settings["hint_skip"])
    for line in result["finding_lines"]:
        module.warn(line)


def _do_activate(module: AnsibleModule, state: dict[str, t.Any], releases: list[dict[str, t.Any]],
                 result: dict[str, t.Any]) -> None:
    params = module.params
    if params["upstream_file_given"]:
        module.fail_json(msg="action=activate names nginx's upstream file by site, not upstream_file", **result)
    the_plan = result.get("plan")
    if not the_plan:
        module.fail_json(msg="action=activate needs release_dir, or release_from live or rollback", **result)
    result.update(config={}, finding_lines=[])
    if params["config_check"] and the_plan["flip"]:
        _config_check(module, the_plan, result)
    spec = _activation_spec(module, state, the_plan, result)
    result.update(stopped_first=[], switched_to="", drain_pids=[], flip={}, legacy_service="")
    result["would"].extend(activation_steps(spec))
    if module.check_mode:
        if the_plan["flip"]:
            result["flip"] = _check_mode_flip(spec)
    else:
        try:
            result.update(activate(ModuleHost(module, params["upstream_dir"]), spec))
        except FlipFailed as failed:
            result.update(failed.result)
            module.fail_json(msg=str(failed), **result)
    # The single service of version 0.1.0 (<app_name>.service behind <app_name>.socket), after a host's first flip.
    legacy = os.path.join(params["unit_dir"], f"{params['app_name']}.service")
    if the_plan["flip"] and the_plan["first_deploy"] and os.path.exists(legacy):
        result["legacy_service"] = legacy
        units = [(name, os.path.join(params["unit_dir"], name)) for name in
                 (f"{params['app_name']}.socket", f"{params['app_name']}.service")]
        units = [(name, path) for name, path in units if os.path.exists(path)]
        result["would"].append("retire %s, the single service of earlier versions" % " and ".join(name for name, dummy in units))
        if not module.check_mode:
            try:
                retire_legacy(ModuleHost(module, params["upstream_dir"]), units, result["drain_pids"],
                              params["drain_timeout"])
            except HostError as error:
                module.fail_json(msg="the release is live, but retiring %s failed: %s" % (legacy, error), **result)

    # Retention, from the state file as the run leaves it (in check mode, as a real run would leave it).
    committed = result["flip"].get("committed") or {}
    if module.check_mode and the_plan["flip"]:
        committed = commit(state, the_plan["next"], the_plan["release"], the_plan["release_dir"],
                           the_plan["fingerprint"], params["server"])
    if params["releases_dir"]:
        if not module.check_mode:
            releases = _list_releases(module, params["releases_dir"], params["marker"])
            result["releases"] = releases
        extra = params["protect"] + [the_plan["release_dir"]]
        removal = prune_after(state, committed, releases, params["keep"], extra, params["prune"], the_plan["flip"])
        result["prune"] = removal
        if params["prune"] == "always" or (params["prune"] == "flip" and the_plan["flip"]):
            _do_prune(module, params["releases_dir"], removal, releases, result)


# The options a layout may fill (flaskops.deploy's host layout), with their defaults; ``group`` is the file option.
LAYOUT_OPTIONS = {
    "app_name": None, "state_file": None, "site": None, "link": None, "slot_addresses": {}, "releases_dir": None,
    "marker": ".flaskops-release", "server": None, "runtime_files": [], "slot_format": 1, "processes_manifest": None,
    "config_dir": None, "config_files": [], "slots_dir": None, "unit_dir": "/etc/systemd/system", "app_root": None,
    "slot_sockets": {}, "tmpfiles": None, "group": None,
}
REQUIRED_IF = {"commit": ("slot", "release_dir", "server"), "prune": ("releases_dir",)}


def _merge_layout(module: AnsibleModule) -> None:
    """Complete the parameters from O(layout), then check what the argument spec cannot check before that."""
    params, problems = host_layout.merge(module.params, module.params["layout"], LAYOUT_OPTIONS)
    missing = host_layout.missing(params, ("app_name", "state_file"))
    if missing:
        problems.append("missing required arguments (here or in layout): %s" % ", ".join(missing))
    missing = host_layout.missing(params, REQUIRED_IF.get(params["action"], ()))
    if missing:
        problems.append("action is %s but all of the following are missing: %s" % (params["action"], ", ".join(missing)))
    if module.params["upstream_file"] and module.params["site"]:
        problems.append("parameters are mutually exclusive: upstream_file|site")
    if params["upstream_file"]:
        # The call's own upstream file wins over the layout's site, like any option of the call.
        params["site"] = None
    if params["server"] not in (None, "gunicorn", "waitress", "uwsgi"):
        problems.append("server must be one of gunicorn, waitress, uwsgi, got: %s" % params["server"])
    if problems:
        module.fail_json(msg="; ".join(problems))
    module.params.update(params)


def main() -> t.NoReturn:
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "default": "status", "choices": ["status", "commit", "prune", "activate"]},
            "layout": {"type": "dict", "default": {}},
            "app_name": {"type": "str"},
            "state_file": {"type": "path"},
            "upstream_file": {"type": "path"},
            "site": {"type": "str"},
            "link": {"type": "path"},
            "slot_addresses": {"type": "dict"},
            "releases_dir": {"type": "path"},
            "marker": {"type": "str"},
            "release_dir": {"type": "path"},
            "release": {"type": "str"},
            "fingerprint": {"type": "str"},
            "server": {"type": "str", "choices": ["gunicorn", "waitress", "uwsgi"]},
            "runtime_files": {"type": "list", "elements": "path"},
            "slot_format": {"type": "int"},
            "restart": {"type": "bool", "default": False},
            "pending_changes": {"type": "bool", "default": False},
            "slot": {"type": "str", "choices": list(SLOTS)},
            "rollback_to": {"type": "str"},
            "release_from": {"type": "str", "default": "given", "choices": ["given", "live", "rollback"]},
            "processes_manifest": {"type": "path"},
            "keep": {"type": "int", "default": 5},
            "protect": {"type": "list", "elements": "str", "default": []},
            "prune": {"type": "str", "default": "never", "choices": list(PRUNE_WHEN)},
            "exec_start": {"type": "raw"},
            "config_dir": {"type": "path"},
            "config_files": {"type": "list", "elements": "str"},
            "slots_dir": {"type": "path"},
            "unit_dir": {"type": "path"},
            "app_root": {"type": "path"},
            "upstream_dir": {"type": "path", "default": "/etc/nginx/flaskops"},
            "slot_sockets": {"type": "dict"},
            "tmpfiles": {"type": "path"},
            # Validated against health_check's options (documented there, not repeated here).
            "slot_check": {"type": "dict"},
            "proxy_check": {"type": "dict"},
            "drain_timeout": {"type": "int", "default": 60},
            "drain_grace": {"type": "int", "default": 5},
            "config_check": {"type": "dict", "options": {
                "env_file": {"type": "path", "required": True},
                "user": {"type": "str", "required": True},
                "group": {"type": "str"},
                # Validated against release_build's settings (config_host.CONFIG_OPTIONS) when the check runs.
                "config": {"type": "dict", "required": True},
            }},
        },
        add_file_common_args=True,
        supports_check_mode=True,
    )
    _merge_layout(module)
    params = module.params
    action = params["action"]
    unknown = sorted(set(params["slot_addresses"]) - set(SLOTS))
    if unknown:
        module.fail_json(msg=f"slot_addresses has keys other than {', '.join(SLOTS)}: {', '.join(unknown)}")
    addresses = {slot: str(value) for slot, value in params["slot_addresses"].items()}
    if params["keep"] < 0:
        module.fail_json(msg=f"keep must be at least 0, got {params['keep']}")

    params["upstream_file_given"] = bool(params["upstream_file"])
    if params["site"]:
        params["upstream_file"] = upstream_path(params["site"], params["upstream_dir"])
    upstream_text = _read_text(module, params["upstream_file"])
    link_target = None
    if upstream_text is None and params["link"] and os.path.islink(params["link"]):
        link_target = os.readlink(params["link"])
    units = _unit_states(module, params["app_name"]) if action in ("status", "activate") else {}
    state = read_state(_read_text(module, params["state_file"]), upstream_text, units, addresses, link_target)
    state["upstream_file"] = params["upstream_file"] or ""
    state["processes_manifest"] = bool(params["processes_manifest"]) and os.path.exists(params["processes_manifest"])
    result: dict[str, t.Any] = {"changed": False, "would": [], "state": state}

    releases: list[dict[str, t.Any]] = []
    removal: list[str] = []
    if params["releases_dir"]:
        releases = _list_releases(module, params["releases_dir"], params["marker"])
        extra = params["protect"] + ([params["release_dir"]] if params["release_dir"] else [])
        protected = protected_releases(state, extra)
        removal = retention(releases, params["keep"], protected)
        result["releases"] = releases
        result["prune"] = removal

    if action in ("status", "activate"):
        if params["releases_dir"]:
            result["rollback"] = rollback_candidates(state, releases, params["rollback_to"])
        release_dir, release = _release_to_plan(module, state, result)
        if release_dir:
            params["release_dir"] = release_dir
            result["plan"] = plan(state, release_dir, _fingerprint(module), params["restart"], release)
        if action == "activate":
            _do_activate(module, state, releases, result)
        elif (params["proxy_check"] or {}).get("url"):
            # Read-only: the end-of-run check through the proxy in the same call as the read of what is live.
            result["health"] = ModuleHost(module, params["upstream_dir"]).health(
                check_options(module, "proxy_check", params["proxy_check"]))
    elif action == "commit":
        _do_commit(module, state, result)
    else:
        _do_prune(module, params["releases_dir"], removal, releases, result)

    result["changed"] = bool(result["would"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
