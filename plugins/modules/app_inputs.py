#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: app_inputs
short_description: Check the app role's inputs on the controller, before anything changes on a host
version_added: 1.0.0
description:
  - An action plugin that runs on the controller, and on the host only to have systemd read O(app_timers)' calendars
    when the controller cannot (see the notes); changes nothing on any host. It is the app role's
    C(tasks/validate.yml), run in the playbooks' preflight and by the role's entry points when no preflight ran it.
  - Each C(app_*) option the task does not pass is the variable of the same name, templated, when it is set (in the
    app role, its defaults under the inventory). An option the task passes wins.
  - "Checks, each option named as the app role's variable it takes: the name (O(app_name)); the variable the source
    type needs is set (O(app_source_path), O(app_source_archive), or O(app_git_repo) and O(app_git_version)); no
    password or token in O(app_git_repo); O(app_keep_releases) at least 2; the keys of O(app_env) and O(app_secrets)
    are environment variable names; each item of O(app_shared_files) has a path relative to C(shared/) (no C(..))
    and exactly one of C(content), C(template) and C(src), and one with C(secret: true) is not accessible to other users;
    O(app_slot_listen) and O(app_slot_tcp_ports); O(app_socket_mode); O(app_switch) and O(app_health_path)."
  - The strength of every O(app_secrets) key named like a secret, as M(flaskops.deploy.preflight_secrets) checks it
    (not a placeholder, long enough, random enough; O(app_secrets_allow_weak) lists the names not checked).
  - O(app_processes) and O(app_timers) when there are any, as M(flaskops.deploy.app_processes) with C(action=validate)
    checks them (unique names, commands that split into words, absolute writable paths). Each C(on_calendar) is read
    by C(systemd-analyze calendar) of the controller when it has that program.
  - With O(check_source=true) and a source of type C(path) or C(archive) that is set, the requirements file and the
    module of the WSGI entry point in the source, as M(flaskops.deploy.preflight_source) checks them (an archive's
    member list is read, it is not unpacked).
  - Fails with every problem found, one message each (RV(problems)), joined in RV(msg); each names the inventory
    variable to change. No message or result holds a value of O(app_secrets), the content of an O(app_shared_files)
    item or the URL of O(app_git_repo).
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
  - flaskops.deploy.attributes.info_module
options:
  app_name:
    description:
      - The application's name, C([a-z][a-z0-9_-]*) (the app role's C(app_name)).
    type: str
    required: true
  app_root:
    description:
      - The application's directory on the host (C(app_root)), named in the message about O(app_git_repo).
    type: str
    default: ""
  app_source_type:
    description:
      - Where the release's code comes from (C(app_source_type)).
    type: str
    default: path
    choices: [path, archive, git]
  app_source_path:
    description:
      - The source directory on the controller (C(app_source_path)), needed with O(app_source_type=path).
    type: str
    default: ""
  app_source_archive:
    description:
      - The source archive on the controller (C(app_source_archive)), needed with O(app_source_type=archive). A relative
        one is also looked for where C(ansible.builtin.unarchive) looks (the role's C(files/), next to the playbook).
    type: str
    default: ""
  app_git_repo:
    description:
      - The git repository (C(app_git_repo)), needed with O(app_source_type=git); it must not hold credentials
        (C(https://user:token@...)), whatever the source type. A C(no_log) option.
    type: str
    default: ""
  app_git_version:
    description:
      - The git ref to deploy (C(app_git_version)), needed with O(app_source_type=git).
    type: str
    default: ""
  app_keep_releases:
    description:
      - The releases kept on the host (C(app_keep_releases)), at least 2 (the live one and one to roll back to).
    type: int
    default: 5
  app_env:
    description:
      - The application's environment (C(app_env)); only its names are checked.
    type: dict
    default: {}
  app_secrets:
    description:
      - The application's secrets (C(app_secrets)); their names are checked, and the strength of the values of
        those named like a secret. A C(no_log) option.
    type: dict
    default: {}
  app_secrets_allow_weak:
    description:
      - Names of O(app_secrets) whose strength is not checked (C(app_secrets_allow_weak)).
    type: list
    elements: str
    default: []
  app_shared_files:
    description:
      - The files of the shared directory (C(app_shared_files)); each item needs a C(path) relative to C(shared/)
        (no C(..)) and exactly one of C(content), C(template) and C(src); an item with C(secret) true must have a C(mode)
        (C(0640) when not set) that gives other users nothing. A C(no_log) option (items may hold a secret's content).
    type: list
    elements: dict
    default: []
  app_slot_listen:
    description:
      - C(unix) or C(tcp), how the slots listen (C(app_slot_listen)).
    type: str
    default: unix
  app_slot_tcp_ports:
    description:
      - The slots' TCP ports (C(app_slot_tcp_ports)); with O(app_slot_listen=tcp), two different ports, C(blue) and
        C(green).
    type: dict
    default: {blue: 8001, green: 8002}
  app_socket_mode:
    description:
      - The mode of the slots' unix sockets (C(app_socket_mode)), an octal string such as C("0660").
    type: str
    default: "0660"
  app_switch:
    description:
      - C(auto), C(nginx) or C(none), how traffic switches to the new slot (C(app_switch)).
    type: str
    default: auto
  app_health_path:
    description:
      - The path of the health check (C(app_health_path)); it starts with C(/).
    type: str
    default: /health
  app_processes:
    description:
      - The background processes (C(app_processes)); see M(flaskops.deploy.app_processes) for the meaning of each
        field.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The type's name, C([a-z][a-z0-9_-]*), unique over O(app_processes) and O(app_timers).
        type: str
        required: true
      command:
        description: The command, one line, no shell.
        type: str
        required: true
      instances:
        description: How many instances run, C(0) or more.
        type: int
        default: 1
      stop_signal:
        description: The signal of a graceful stop.
        type: str
        default: SIGTERM
        choices: [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH]
      stop_timeout:
        description: Seconds a stopping instance gets before it is killed, at least 1.
        type: int
        default: 30
      writable_paths:
        description: Absolute paths the process may write.
        type: list
        elements: str
        default: []
  app_timers:
    description:
      - The scheduled jobs (C(app_timers)); see M(flaskops.deploy.app_processes) for the meaning of each field.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The job's name, C([a-z][a-z0-9_-]*), unique over O(app_processes) and O(app_timers).
        type: str
        required: true
      command:
        description: The command, one line, no shell.
        type: str
        required: true
      on_calendar:
        description: When it runs, a systemd calendar expression.
        type: str
        required: true
      randomized_delay:
        description: A random delay of up to this many seconds, C(0) or more.
        type: int
        default: 0
      persistent:
        description: Run at boot a run missed while the host was down.
        type: bool
        default: true
      timeout:
        description: Seconds a run may take, C(0) for no limit.
        type: int
        default: 0
      writable_paths:
        description: Absolute paths the job may write.
        type: list
        elements: str
        default: []
      on_failure:
        description: A command run when a run fails; empty for none.
        type: str
        default: ""
  app_requirements_file:
    description:
      - The requirements file, relative to the source (C(app_requirements_file)); empty for none. Checked with
        O(check_source).
    type: str
    default: requirements.txt
  app_wsgi:
    description:
      - The WSGI entry point, C(module:callable) (C(app_wsgi)). Checked with O(check_source).
    type: str
    default: "wsgi:app"
  app_install_project:
    description:
      - The project itself is installed into the release's venv (C(app_install_project)); the WSGI module may then
        come from it, so only the form of O(app_wsgi) is checked.
    type: bool
    default: false
  check_source:
    description:
      - Check the source on the controller (the requirements file, the WSGI module) when O(app_source_type) is
        C(path) or C(archive) and its variable is set; nothing to check for C(git).
      - The app role passes C(false) where no release is built (C(restart.yml) and C(rollback.yml) check the app role
        without its server role and must not depend on the source as it is now).
    type: bool
    default: true
notes:
  - O(app_secrets), O(app_shared_files) and O(app_git_repo) are C(no_log) options.
  - Controller-side checks of O(app_timers) depend on the controller's C(systemd-analyze), which is not necessarily
    the version the hosts run; without it (a controller without systemd), only the form of each C(on_calendar) is
    checked there (RV(calendars_checked) is false). When the other checks pass, this task then has systemd on the host
    read them (C(flaskops.deploy.app_processes) with C(action=validate), RV(calendars_checked_on_host)), still before
    anything changes.
seealso:
  - module: flaskops.deploy.preflight_secrets
  - module: flaskops.deploy.preflight_source
  - module: flaskops.deploy.app_processes
"""

EXAMPLES = r"""
- name: Check the application's inputs (in the app role, every app_* variable; the source too)
  flaskops.deploy.app_inputs:
    check_source: true

- name: Check an archive source with an application factory, and a worker
  flaskops.deploy.app_inputs:
    app_name: shop
    app_source_type: archive
    app_source_archive: dist/shop-1.4.0.tar.gz
    app_requirements_file: requirements.lock
    app_wsgi: "shop.web:create_app()"
    app_processes:
      - {name: worker, command: "python -m shop.worker", instances: 2}

- name: Check the inputs of a restart, whatever the source holds now
  flaskops.deploy.app_inputs:
    app_name: hello
    app_source_type: git
    app_git_repo: git@git.example.org:hello/hello.git
    app_git_version: v1.4.0
    app_slot_listen: tcp
    app_slot_tcp_ports: {blue: 8001, green: 8002}
    check_source: false
"""

RETURN = r"""
problems:
  description: One message per problem, each naming the inventory variable to change (empty when none).
  returned: always
  type: list
  elements: str
  sample: ["app_keep_releases must be at least 2 (the live release and one to roll back to), got 1"]
secrets_checked:
  description: The names of O(app_secrets) whose strength was checked (sorted).
  returned: always
  type: list
  elements: str
  sample: [FLASK_SECRET_KEY]
secrets_allowed:
  description: The names of O(app_secrets) that look like secrets but are in O(app_secrets_allow_weak), not checked.
  returned: always
  type: list
  elements: str
  sample: []
source_checked:
  description: Whether the source was checked on the controller (O(check_source), a C(path) or C(archive) source set).
  returned: always
  type: bool
  sample: true
calendars_checked:
  description: Whether the C(on_calendar) of O(app_timers) were read by C(systemd-analyze calendar) on the controller.
  returned: always
  type: bool
  sample: false
calendars_checked_on_host:
  description:
    - Whether O(app_timers) were checked on the host by C(flaskops.deploy.app_processes) with C(action=validate), as
      the controller could not read their calendars. Its problems are in RV(problems).
  returned: always
  type: bool
  sample: false
msg:
  description: The problems joined with C( | ), or a summary.
  returned: always
  type: str
  sample: the inputs of the app role hello are valid (1 secret(s) of app_secrets checked, app_source_path checked on the controller)
"""
