#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: run_summary
short_description: Summarise what a run left live on a host, and how long its build, gates and switch took
version_added: 1.0.0
description:
  - An action plugin; changes nothing on any host. It reads the host only when O(status) is not given, and then runs
    M(flaskops.deploy.release) with O(status_args) there.
  - Assembles the summary of one host from the results of the modules that own each part, as the C(flaskops.deploy.app)
    role registers them - the live slot and its release from M(flaskops.deploy.release) (read at the end of the run),
    the plan of the run, the steps of M(flaskops.deploy.slot_flip) with their durations, the build's duration
    (M(flaskops.deploy.venv_build) and the bytecode compile), gate 1's duration (M(flaskops.deploy.flask_config_validate))
    and the health through nginx at the end of the run (M(flaskops.deploy.health_check)), with the version the
    application reports in its JSON body.
  - Returns the summary as data (RV(summary)) and as the lines a play prints (RV(lines)). It sets the run's custom
    stats as C(ansible.builtin.set_stats) with C(aggregate=true) and C(per_host=false) would set them to RV(stats), so
    that the next job of an AWX workflow gets C(flaskops_summary) of every host without a C(set_stats) task.
  - Only the fields named here are read from those results. No environment, response body or header goes into the
    summary, and the URL loses any user and password it carries.
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
  - flaskops.deploy.attributes.info_module
options:
  operation:
    description:
      - The playbook's operation, shown in the summary (V(site), V(deploy), V(restart), V(rollback), V(validate), ...).
    type: str
    required: true
  app_name:
    description:
      - The application's name.
    type: str
    required: true
  status:
    description:
      - The result of M(flaskops.deploy.release) with O(flaskops.deploy.release#module:action=status), read at the end of
        the run. Its C(state) gives the live slot and its release.
      - After a flip that recorded its slot, a dict with only C(state.live) (the flip's slot) and C(state.recorded)
        (what the flip committed) says the same without reading the state again; the app role passes that.
      - One of O(status) and O(status_args) is required.
    type: dict
  status_args:
    description:
      - Without O(status), the options of M(flaskops.deploy.release) (such as C(layout) and C(link)) that read the
        status on the host; this task runs that call (with O(flaskops.deploy.release#module:action=status)) and takes
        its result as O(status). Ignored when O(status) is given.
      - With C(proxy_check) among them, the same call checks the site through the proxy after reading the status. Its
        result is the summary's health unless O(health) is given, and the task fails (with the check's message, and
        the summary) when that check does not pass.
    type: dict
  plan:
    description:
      - The RV(flaskops.deploy.release#module:plan) made during the run, which says whether the run put (in check mode,
        would put) a release live, and why. Empty when the run made none.
    type: dict
    default: {}
  flip:
    description:
      - The result of M(flaskops.deploy.slot_flip), when it ran; its C(steps) give the durations of the gates, the switch
        and the drain.
    type: dict
    default: {}
  builds:
    description:
      - The results of the build's tasks that ran in this run (M(flaskops.deploy.venv_build)'s C(duration), the C(delta)
        of a command); their durations add up to the build's.
    type: list
    elements: raw
    default: []
  config:
    description:
      - The result of M(flaskops.deploy.flask_config_validate) run as gate 1 in this run; its C(duration) counts among
        the gates.
    type: dict
    default: {}
  health:
    description:
      - The result of M(flaskops.deploy.health_check) through nginx at the end of the run.
    type: dict
    default: {}
  url:
    description:
      - The URL the application is served at, shown as is without its user and password.
    type: str
    default: ""
  version_field:
    description:
      - The field of the health check's JSON body that holds the application's version (a dotted path).
    type: str
    default: version
notes:
  - A skipped task's result counts as absent. Durations are in seconds; in check mode none are reported.
seealso:
  - module: flaskops.deploy.release
  - module: flaskops.deploy.slot_flip
  - module: flaskops.deploy.health_check
"""

EXAMPLES = r"""
- name: Summarise the run on this host
  flaskops.deploy.run_summary:
    operation: deploy
    app_name: hello
    # Read on the host: flaskops.deploy.release with these options (or pass its result as status).
    status_args: {layout: "{{ hello_layout }}"}
    plan: "{{ hello_release.plan | default({}) }}"
    flip: "{{ hello_flip | default({}) }}"
    builds: ["{{ hello_venv | default({}) }}"]
    health: "{{ hello_health }}"
    url: https://hello.example.org/
  register: hello_summary

- name: Show the summary
  ansible.builtin.debug:
    msg: "{{ hello_summary.lines }}"
"""

RETURN = r"""
summary:
  description: The summary of the host.
  returned: always
  type: dict
  contains:
    host:
      description: The inventory name of the host.
      type: str
      returned: always
      sample: web1.example.org
    app:
      description: O(app_name).
      type: str
      returned: always
      sample: hello
    operation:
      description: O(operation).
      type: str
      returned: always
      sample: deploy
    check_mode:
      description: Whether the run was in check mode.
      type: bool
      returned: always
      sample: false
    outcome:
      description: V(went live) (a release went live in a slot in this run), V(would go live) (check mode),
        V(live) (the live release is unchanged) or V(nothing live).
      type: str
      returned: always
      sample: went live
    reason:
      description: Why the release went (or would go) live, from the plan; empty otherwise.
      type: str
      returned: always
      sample: what slot blue runs differs (release, server, configuration or units)
    release:
      description: The release live at the end of the run (in check mode, the one that would go live).
      type: str
      returned: always
      sample: 4f2a9c1
    slot:
      description: The slot that serves it.
      type: str
      returned: always
      sample: green
    previous_slot:
      description: The slot that served before, when the release went (or would go) live in this run.
      type: str
      returned: always
      sample: blue
    built:
      description: Whether the release was built in this run.
      type: bool
      returned: always
      sample: true
    url:
      description: O(url) without user and password.
      type: str
      returned: always
      sample: https://hello.example.org/
    health:
      description: V(healthy), V(unhealthy) or V(not checked).
      type: str
      returned: always
      sample: healthy
    status:
      description: The HTTP status of the health check; null when not checked or no response.
      type: int
      returned: always
      sample: 200
    attempts:
      description: The health check's requests.
      type: int
      returned: always
      sample: 2
    version:
      description: The version the application reports (O(version_field)); empty when none.
      type: str
      returned: always
      sample: 1.4.2
    durations:
      description: Seconds of the C(build), the C(gates), the C(switch) and the C(drain); null when that part did not
        run (always null in check mode).
      type: dict
      returned: always
      sample: {"build": 3.21, "gates": 1.92, "switch": 0.31, "drain": 1.1}
    gates:
      description: The seconds of each gate that ran, C(config) (gate 1), C(slot) (gate 2), C(proxy) (gate 3) and
        C(recheck) (after a switch back).
      type: dict
      returned: always
      sample: {"config": 0.8, "slot": 0.61, "proxy": 0.51}
lines:
  description: The summary as lines for C(ansible.builtin.debug).
  returned: always
  type: list
  elements: str
  sample: ["hello on web1.example.org (deploy): release 4f2a9c1 went live in slot green (...)", "release:  4f2a9c1"]
stats:
  description: The run's custom stats this task sets (as O(ansible.builtin.set_stats#module:aggregate=true) would),
    C(flaskops_summary) keyed by the host, so that the hosts' summaries merge into one dict.
  returned: always
  type: dict
  sample: {"flaskops_summary": {"web1.example.org": {"release": "4f2a9c1", "slot": "green"}}}
"""
