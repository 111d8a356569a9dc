#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: release_build
short_description: Build an application release directory from a directory, an archive or a git commit
version_added: 1.0.0
description:
  - The build of a release of the C(flaskops.deploy.app) role, in the steps the role runs around the venv's build
    (the C(flaskops.deploy.python_venv) role).
  - A release directory is I(built) when it has O(built_marker) (code unpacked, shared files linked, venv built,
    bytecode compiled) and I(complete) when it has O(marker) (its hooks ran; the role writes that one).
  - O(state=prepare) reads both markers and returns RV(build) and RV(prepare). When the release has to be built, a
    directory without a marker (left by an interrupted build) is removed and the release directory is created
    (C(0755), root-owned).
  - "O(state=unpack) does what O(state=prepare) does and, when the release has to be built, puts the code into the
    release directory and links the shared files into it (O(links)): from a directory or an archive on the controller
    (the action plugin asks the host first, then packs the directory, transfers the file and removes it afterwards; a
    C(.tar.gz), C(.tar) or C(.zip)), or from commit O(commit) of the bare repository
    O(git_dir) (C(git archive)). Files are owned by root: the application cannot rewrite its code. Members with
    absolute paths or paths through C(..) are refused."
  - O(state=finish) checks that the release's venv can run the slots' server (its version, O(server_min_version); or,
    for a server from the distribution's packages, O(system_server), that the venv runs the system's Python), compiles
    the release's bytecode (the slots cannot write it) and writes O(built_marker).
  - "O(state=static) links, with O(static_dir=auto), the static folder the application declares (O(static_folder), as
    the configuration check read it) as O(static_link) in the release, for nginx; with a directory named in
    O(static_dir), it fails when the release lacks it while the application declares a static folder that exists."
  - "O(state=failed) records a release whose build or hooks failed: it writes C(<release_dir>.failed) (C(0600) root,
    JSON with the release, O(failed_in) and the failed commands of O(failed_result)) and fails with a message that
    names them and says the live release keeps serving (the app role's rescue of the build and of the hooks)."
  - "O(state=stage_env) writes O(env_content) into the transient environment file O(env_file) (C(0640) root:O(group)),
    in check mode too: the release's checks and hooks read it. The content is never returned or logged."
  - "O(state=env) puts the environment file the release's checks and hooks ran with (O(env_file), a transient file)
    in place as the slots' environment file (O(env_dest)) when its content, owner, group or mode differ, and removes
    O(env_file) either way: the file the gates passed with is the one the next slot reads, written once."
  - "O(state=hooks) runs, in the release and as the app user, the O(init_hooks) not run yet on this host (each leaves a
    marker C(init-<sha1 of the command>) in O(init_dir) once it succeeded; one whose C(creates) path exists counts as
    done), then the O(pre_activate_hooks), and writes O(marker): the release is complete. It stops at the first hook
    that fails. Each hook runs through C(systemd-run) in a transient unit that reads O(env_file) itself, so no value
    of the environment is on a command line."
  - "O(state=gate) runs, in one call, the steps between the venv's build and the slots: O(state=finish) when this run
    built the release (O(build)), O(state=stage_env), the Flask configuration check (O(config_check)), O(state=static),
    O(state=hooks) when the release is not complete (O(prepare)) and O(state=env). The configuration check has the
    rules, findings and messages of M(flaskops.deploy.flask_config_validate); it imports the application in the
    release's venv as O(user) (the module drops root's privileges with C(setpriv)), with the environment of
    O(env_content). A failed O(state=finish) or O(state=hooks) is recorded as O(state=failed) records it; a refused
    configuration discards a release this run built. The transient O(env_file) is removed whatever happens."
  - "O(state=config) runs the configuration check of O(state=gate) alone, with the environment file O(env_file) (read,
    never returned), and fails with the same message when it refuses the release (a rollback's check)."
  - "O(state=live) checks the live release: O(release_dir) is the C(current) link of the application. It fails, naming
    O(app_name) and the link, when no release is live there (no link, or no venv in the release it points to); with
    O(config_check), it runs the configuration check of O(state=config) on that release and fails, without changing
    anything, when the check refuses it (the read-only checks of C(validate.yml))."
  - "O(state=gate), O(state=config) and O(state=live) return the findings of a passing configuration check (warnings
    below O(config.fail_on)) one line each in RV(finding_lines), and issue each line as a warning of the task (shown
    even when the task is C(no_log))."
  - A directory source is packed without bytecode (C(__pycache__), C(*.pyc)) and without its hidden top-level entries
    (C(.git), C(.venv), C(.env), ...).
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
  - flaskops.deploy.layout
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the work run on the controller.
    support: full
    details:
      - The action plugin packs a directory source and transfers the source file for O(state=unpack).
  check_mode:
    support: full
    details:
      - In check mode nothing is removed, created, transferred, unpacked, compiled or written. O(state=prepare) returns
        RV(build) and RV(prepare) as a real run would find them; O(state=unpack) and O(state=finish) report
        C(changed) and, in C(msg), what a real run would do.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - A release that has its built marker is not built again (RV(build) is false).
options:
  state:
    description:
      - The step to run.
    type: str
    required: true
    choices: [prepare, unpack, finish, static, hooks, stage_env, env, failed, gate, config, live]
  release_dir:
    description:
      - The release directory, C(<app_root>/releases/<release id>).
    type: path
    required: true
  built_marker:
    description:
      - The name of the file that marks a built release, in O(release_dir).
      - Or a key of O(layout); default V(.flaskops-built) when neither gives it.
    type: str
  marker:
    description:
      - The name of the file that marks a complete release, in O(release_dir) (read only).
      - Or a key of O(layout); default V(.flaskops-release) when neither gives it.
    type: str
  source_type:
    description:
      - With O(state=unpack), where the code comes from. V(path) and V(archive) are files on the controller (O(src)),
        V(git) a commit of O(git_dir) on the host.
      - Or a key of O(layout); default V(path) when neither gives it.
    type: str
    choices: [path, archive, git]
  src:
    description:
      - With O(state=unpack) and O(source_type=path) or V(archive), the directory or the archive on the controller.
    type: path
  src_content:
    description:
      - Set by the action plugin, not by a task. A source of up to 4 MiB of files (1 MiB packed) travels as its
        base64-encoded archive in this option, in the same call that finds the release built or unpacks it; O(src)
        still names it on the controller. A bigger source is transferred as a file once the host said the release has
        to be built.
    type: str
  git_dir:
    description:
      - With O(source_type=git), the bare repository on the host.
    type: path
  commit:
    description:
      - With O(source_type=git), the commit to export.
    type: str
  links:
    description:
      - With O(state=unpack), symbolic links C(<release_dir>/<path>) -> C(<shared_dir>/<target>) to create after the
        code is unpacked, each replacing a file or an empty directory the code has at that path (a directory with
        files in it fails the build).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The link's path, relative to O(release_dir).
        type: str
        required: true
      target:
        description: What the link points to, relative to O(shared_dir).
        type: str
        required: true
  create_layout:
    description:
      - With O(state=prepare) or O(state=unpack), first create or fix the application's system group and user and its
        directories, as M(flaskops.deploy.app_layout) does with the same options, in the same call (RV(layout_changes)).
      - Without it, the layout is left as it is.
    type: dict
    suboptions:
      user:
        description: The application's system user.
        type: str
        required: true
      group:
        description: The application's system group.
        type: str
        required: true
      root:
        description: The application's root directory (releases, shared files), also the user's home.
        type: path
        required: true
      config_dir:
        description: The application's configuration directory.
        type: path
        required: true
      shared_dirs:
        description: Directories under C(<root>/shared) that the application writes (data, uploads, logs).
        type: list
        elements: str
        default: []
      shell:
        description: The user's shell.
        type: path
        default: /usr/sbin/nologin
  shared_dir:
    description:
      - The directory the O(links) point into, C(<app_root>/shared).
      - Or a key of O(layout).
    type: path
  release:
    description:
      - With O(state=finish), the release id written into the marker.
    type: str
  server:
    description:
      - With O(state=finish), the distribution name of the application server the slots run (C(gunicorn), ...). Empty
        skips the server check.
      - Or a key of O(layout); default V("") when neither gives it.
    type: str
  server_min_version:
    description:
      - The oldest version of O(server) the slots can run. Empty accepts any version.
      - Or a key of O(layout); default V("") when neither gives it.
    type: str
  server_default_package:
    description:
      - What the role installs when the requirements do not pin O(server), named in the error message.
      - Or a key of O(layout); default V("") when neither gives it.
    type: str
  system_server:
    description:
      - "O(server) comes from the distribution's packages, not from the venv: check the venv runs the same Python as
        C(/usr/bin/python3) instead of its version."
      - Or a key of O(layout); default V(false) when neither gives it.
    type: bool
  compile:
    description:
      - With O(state=finish), compile the release's bytecode (without the venv's, which the installer compiled).
    type: bool
    default: true
  static_dir:
    description:
      - With O(state=static), C(app_static_dir) of the C(flaskops.deploy.app) role - V(auto), empty, or a directory
        relative to the release.
      - Or a key of O(layout); default V(auto) when neither gives it.
    type: str
  static_folder:
    description:
      - With O(state=static), the absolute path of the static folder the application declares (empty when unknown).
    type: str
    default: ""
  config_checked:
    description:
      - With O(state=static), whether the configuration check ran (and so O(static_folder) is what the application
        declares). Without it, O(static_dir=auto) links C(static), even before it exists.
    type: bool
    default: true
  static_link:
    description:
      - With O(state=static), the name of the link nginx serves in the release.
      - Or a key of O(layout); default V(.flaskops-static) when neither gives it.
    type: str
  init_hooks:
    description:
      - With O(state=hooks), commands run once per host, each a string or a dict with C(cmd) and C(creates) (a path,
        relative to the release or absolute, whose existence counts as the hook having run).
    type: list
    elements: raw
    default: []
  pre_activate_hooks:
    description:
      - With O(state=hooks), commands run in every new release before it goes live.
    type: list
    elements: str
    default: []
  init_dir:
    description:
      - With O(state=hooks), where the markers of the init hooks are.
      - Or a key of O(layout).
    type: path
  env_file:
    description:
      - With O(state=hooks), the environment file the hooks run with (read by systemd, never by this module).
      - With O(state=env), the transient environment file to put in place as O(env_dest) and remove. Its content is
        compared, never returned.
      - With O(state=config) and O(state=live), the environment file the configuration check reads (the slots').
    type: path
  failed_in:
    description:
      - With O(state=failed), the name of the task that failed.
    type: str
  failed_result:
    description:
      - With O(state=failed), the failed task's result (C(ansible_failed_result)); its failed results' C(cmd), C(rc),
        C(msg) and C(stderr) go into the report.
    type: dict
  env_content:
    description:
      - With O(state=stage_env), the content of the environment file (the slots' EnvironmentFile format); a secret,
        never returned or logged.
    type: str
  env_dest:
    description:
      - With O(state=env), the slots' environment file; it gets O(env_file)'s content, owner, group and mode.
      - Or a key of O(layout).
    type: path
  user:
    description:
      - With O(state=hooks), the user the hooks run as.
      - Or a key of O(layout).
    type: str
  group:
    description:
      - With O(state=hooks), the group the hooks run as.
      - With O(state=stage_env), the group of O(env_file).
      - Or a key of O(layout).
    type: str
  app_name:
    description:
      - With O(state=hooks), the application's name, in the description of the hooks' transient units.
      - With O(state=live), the application's name, in the messages.
      - Or a key of O(layout).
    type: str
  build:
    description:
      - With O(state=gate), whether this run built the release (O(state=finish) runs; a refused configuration discards
        the release).
    type: bool
    default: false
  prepare:
    description:
      - With O(state=gate), whether the release is not complete yet (O(state=hooks) runs).
    type: bool
    default: false
  state_file:
    description:
      - With O(state=gate), the slots' state file; whether it exists (a release is live) is said when the
        configuration is refused.
      - Or a key of O(layout).
    type: path
  config_check:
    description:
      - With O(state=gate) and O(state=live), whether to check the release's Flask configuration
        (C(app_config_check)).
    type: bool
    default: false
  config:
    description:
      - The settings of the Flask configuration check (O(state=gate) with O(config_check), O(state=config) and
        O(state=live)), built once by the C(flaskops.deploy.app) role from its C(app_config_check_*) variables.
    type: dict
    default: {}
    suboptions:
      app:
        description:
          - The import string of the application to check (the C(app) option of
            M(flaskops.deploy.flask_config_validate)). Required when the check runs.
        type: str
      https:
        description:
          - Whether the HTTPS rules apply (the site is served over HTTPS).
        type: bool
        default: true
      https_setting:
        description:
          - The C(app_config_check_https) setting O(config.https) was resolved from, named in the refusal's message.
        type: str
        default: auto
      behind_proxy:
        description:
          - Whether a proxy is in front of the application (the ProxyFix rule).
        type: bool
        default: true
      server_name:
        description:
          - The host name the application is served as; empty skips the rule.
        type: str
        default: ""
      body_limit:
        description:
          - The proxy's request body limit in bytes.
        type: int
      skip_rules:
        description:
          - Rules of the configuration check not to run (the rule ids of M(flaskops.deploy.flask_config_validate);
            an unknown one fails the check).
        type: list
        elements: str
        default: []
      fail_on:
        description:
          - The lowest severity of a finding that refuses the release.
        type: str
        choices: [error, warning]
        default: error
      hints:
        description:
          - What to change in the inventory for each rule, by rule id, added to the refusal's message and to
            RV(finding_lines).
        type: dict
        default: {}
      hint_skip:
        description:
          - The hint of a rule that has none in O(config.hints).
        type: str
        default: ""
notes:
  - The release's code is owned by root; its venv is built in between O(state=unpack) and O(state=finish) by the
    C(flaskops.deploy.python_venv) role.
seealso:
  - module: flaskops.deploy.venv_build
    description: Builds the release's venv.
  - module: flaskops.deploy.release
    description: Puts a built release live and removes old ones.
"""

EXAMPLES = r"""
- name: Find out whether release abc123 has to be built (an interrupted build is removed)
  flaskops.deploy.release_build:
    state: prepare
    release_dir: /srv/hello/releases/abc123
  register: hello_build

- name: Unpack the source directory of the controller and link the shared configuration
  flaskops.deploy.release_build:
    state: unpack
    release_dir: /srv/hello/releases/abc123
    source_type: path
    src: "{{ playbook_dir }}/../hello"
    links:
      - path: instance
        target: instance
    shared_dir: /srv/hello/shared
  when: hello_build.build

- name: Export a commit of the bare mirror
  flaskops.deploy.release_build:
    state: unpack
    release_dir: /srv/hello/releases/0f3c2a9d81b7
    source_type: git
    git_dir: /srv/hello/repo.git
    commit: 0f3c2a9d81b7e5a4c3d2b1a0f9e8d7c6b5a4f3e2

- name: Check the server, compile and mark the release built
  flaskops.deploy.release_build:
    state: finish
    release_dir: /srv/hello/releases/abc123
    release: abc123
    server: gunicorn
    server_min_version: "22.0"
    server_default_package: gunicorn==23.0.0

- name: Run the hooks of the release as the app user, then mark it complete
  flaskops.deploy.release_build:
    state: hooks
    release_dir: /srv/hello/releases/abc123
    release: abc123
    app_name: hello
    user: hello
    group: hello
    env_file: /run/flaskops-hello-x1y2.env
    init_dir: /srv/hello/shared/.flaskops
    init_hooks:
      - cmd: flask --app hello_app init-db
        creates: instance/hello.sqlite
    pre_activate_hooks:
      - flask --app hello_app db upgrade

- name: Check the live release's Flask configuration as the app user (fails when no release is live)
  flaskops.deploy.release_build:
    state: live
    release_dir: /srv/hello/current
    # The host layout the app role passes to every call (options of this module; keys it has none for are ignored).
    layout:
      app_name: hello
      user: hello
      group: hello
      slots_dir: /etc/hello/slots
    env_file: /etc/hello/env
    config_check: true
    config:
      app: hello_app:app
      https: true
      body_limit: 10485760
      hints:
        debug-enabled: Remove FLASK_DEBUG from app_env.
  register: hello_live
"""

RETURN = r"""
build:
  description: With O(state=prepare) or O(state=unpack), whether the release has to be built (it has neither marker).
  returned: state=prepare or state=unpack
  type: bool
  sample: true
prepare:
  description: With O(state=prepare) or O(state=unpack), whether the release is not complete yet (its hooks have to run).
  returned: state=prepare or state=unpack
  type: bool
  sample: true
layout_changes:
  description: With O(create_layout), what was (in check mode, would be) changed of the layout, one line each, as
    M(flaskops.deploy.app_layout) returns it as RV(flaskops.deploy.app_layout#module:changes).
  returned: state=prepare or state=unpack, with O(create_layout)
  type: list
  elements: str
  sample: ["group hello: create", "user hello: create", "/srv/hello: create"]
removed:
  description: With O(state=prepare) or O(state=unpack), whether a directory left by an interrupted build was removed.
  returned: state=prepare or state=unpack
  type: bool
  sample: false
files:
  description: With O(state=unpack), how many files and directories were unpacked.
  returned: state=unpack, not in check mode
  type: int
  sample: 42
server_version:
  description: With O(state=finish), the version of O(server) in the venv (empty for a system server).
  returned: state=finish, not in check mode
  type: str
  sample: 23.0.0
python:
  description: With O(state=finish), the Python version of the venv.
  returned: state=finish, not in check mode
  type: str
  sample: "3.11"
duration:
  description: How long the step took, in seconds (the run summary counts the build's steps).
  returned: always
  type: float
  sample: 0.42
link:
  description: With O(state=static) or O(state=gate), the target of the static link, relative to the release (null when none).
  returned: state=static or state=gate
  type: str
  sample: app/static
hooks:
  description: With O(state=hooks) or O(state=gate), the hooks that ran, in order, each with C(hook), C(kind), C(rc) and C(seconds).
  returned: state=hooks or state=gate
  type: list
  elements: dict
would:
  description: With O(state=hooks), the C(init) hooks not run yet on this host and the C(pre_activate) hooks.
  returned: state=hooks or state=gate
  type: dict
env_dest:
  description: With O(state=env) or O(state=gate), the slots' environment file the transient file was compared with (and moved to).
  returned: state=env or state=gate
  type: str
  sample: /etc/hello/env
steps:
  description: With O(state=gate), the steps that ran, in order.
  returned: state=gate, success
  type: list
  elements: str
  sample: [finish, stage_env, config, static, hooks, env]
finish:
  description: With O(state=gate), the result of O(state=finish) (empty when the release was built before).
  returned: state=gate, success
  type: dict
config:
  description:
    - With O(state=gate), the result of the configuration check (empty when it did not run) - C(valid), C(findings),
      C(error_count), C(warning_count), C(facts), C(proxy_fix) and C(duration), as
      M(flaskops.deploy.flask_config_validate) returns them.
  returned: state=gate, success
  type: dict
valid:
  description: With O(state=config), whether no finding refuses the release (also C(findings), C(error_count),
    C(warning_count), C(facts) and C(proxy_fix), as M(flaskops.deploy.flask_config_validate) returns them).
  returned: state=config
  type: bool
env_changed:
  description: With O(state=gate), whether the slots' environment file was (or would be) rewritten.
  returned: state=gate, success
  type: bool
gate_failed:
  description: With O(state=gate), the step that failed.
  returned: state=gate, failure
  type: str
  sample: config
findings:
  description: With O(state=config) or O(state=live), the findings of the check; with O(state=gate), those of a
    refused configuration.
  returned: state=config, state=live when the check ran, or state=gate when the configuration is refused
  type: list
  elements: dict
finding_lines:
  description: With O(state=gate), O(state=config) or O(state=live), the findings of a passing configuration check,
    one line each - the rule id, the severity, the message, the fix and the hint of O(config.hints) (else
    O(config.hint_skip)). Empty when the check did not run or found nothing. Each line is also a warning of the task.
  returned: state=gate, state=config or state=live, success
  type: list
  elements: str
  sample: ["proxy-fix-missing (warning): ... Fix: Wrap the app in ProxyFix. Or set app_config_check_behind_proxy: false."]
release:
  description: With O(state=live), the id of the live release (the name of the directory the link points to).
  returned: state=live, success
  type: str
  sample: abc123
cmd:
  description: The command that failed.
  returned: failure
  type: list
  elements: str
stderr:
  description: The end of the failed command's output.
  returned: failure
  type: str
"""

import grp
import json
import os
import shlex
import base64
import shutil
import stat
import tarfile
import time
import typing as t
import zipfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flaskops.deploy.plugins.module_utils import _config_host as config_host
from ansible_collections.flaskops.deploy.plugins.module_utils import _host_layout as host_layout
from ansible_collections.flaskops.deploy.plugins.module_utils import _layout_host as layout_host
from ansible_collections.flaskops.deploy.plugins.module_utils import _release_build as rb

VERSION_SCRIPT = "import sys; from importlib.metadata import version; print(version(sys.argv[1]))"
PYTHON_SCRIPT = "import sys; print('%d.%d' % sys.version_info[:2])"


def _chown_root(path: str) -> None:
    os.lchown(path, 0, 0)


def prepare(module: AnsibleModule) -> dict[str, t.Any]:
    release_dir = module.params["release_dir"]
    layout_changes = layout_host.ensure(module, **module.params["create_layout"]) if module.params["create_layout"] else None
    built = os.path.exists(os.path.join(release_dir, module.params["built_marker"]))
    complete = os.path.exists(os.path.join(release_dir, module.params["marker"]))
    plan = rb.build_plan(built, complete)
    result: dict[str, t.Any] = dict(plan, changed=bool(layout_changes), removed=False, release_dir=release_dir)
    if layout_changes is not None:
        result["layout_changes"] = layout_changes
    if plan["build"]:
        result["changed"] = True
        result["removed"] = os.path.lexists(release_dir)
        if not module.check_mode:
            if os.path.isdir(release_dir) and not os.path.islink(release_dir):
                shutil.rmtree(release_dir)
            elif os.path.lexists(release_dir):
                os.unlink(release_dir)
            os.makedirs(release_dir, mode=0o755)
            os.chmod(release_dir, 0o755)
            _chown_root(release_dir)
    return result


def _extract_tar(module: AnsibleModule, src: str, dest: str) -> int:
    count = 0
    with tarfile.open(src) as archive:
        for member in archive.getmembers():
            problem = rb.archive_member_problem(member.name, member.linkname if member.islnk() else None)
            if problem is None and not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                problem = "%s: not a file, a directory or a link" % member.name
            if problem:
                module.fail_json(msg="The source archive has a member that cannot go into a release: %s" % problem)
            count += 1
    # GNU tar refuses members that leave the directory through a symbolic link; as root, --no-same-owner makes
    # root the owner of everything, and the modes are kept.
    argv = ["tar", "-x", "-f", src, "-C", dest, "--no-same-owner", "--delay-directory-restore"]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg="Unpacking the source failed", cmd=argv, rc=rc, stderr=err[-2000:])
    return count


def _extract_zip(module: AnsibleModule, src: str, dest: str) -> int:
    count = 0
    with zipfile.ZipFile(src) as archive:
        for info in archive.infolist():
            problem = rb.archive_member_problem(info.filename)
            if problem:
                module.fail_json(msg="The source archive has a member that cannot go into a release: %s" % problem)
        for info in archive.infolist():
            path = archive.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o7777
            if mode and not stat.S_ISLNK(info.external_attr >> 16):
                os.chmod(path, mode & 0o7777)
            _chown_root(path)
            count += 1
    return count


def _export_git(module: AnsibleModule, git_dir: str, commit: str, dest: str) -> int:
    git = module.get_bin_path("git", required=True)
    exported = os.path.join(module.tmpdir, "commit.tar")
    argv = [git, "--git-dir=%s" % git_dir, "archive", "--format=tar", "--output=%s" % exported, commit]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg="Exporting commit %s failed" % commit, cmd=argv, rc=rc, stderr=(err or out)[-2000:])
    try:
        count = _extract_tar(module, exported, dest)
    finally:
        os.unlink(exported)
    return count


def unpack(module: AnsibleModule) -> dict[str, t.Any]:
    plan = prepare(module)
    if not plan["build"]:
        return dict(plan, msg="release %s is built already" % plan["release_dir"])
    return dict(plan, **_unpack(module))


def _unpack(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    release_dir = params["release_dir"]
    source_type = params["source_type"]
    if source_type == "git":
        if not params["git_dir"] or not params["commit"]:
            module.fail_json(msg="state=unpack with source_type=git needs git_dir and commit")
        what = "commit %s of %s" % (params["commit"], params["git_dir"])
    else:
        if not params["src"]:
            module.fail_json(msg="state=unpack with source_type=%s needs src" % source_type)
        what = params["src"]
    if module.check_mode:
        return dict(changed=True, msg="Check mode: %s would be unpacked into %s." % (what, release_dir))
    if not os.path.isdir(release_dir):
        module.fail_json(msg="%s does not exist: run state=prepare first" % release_dir)
    # A small source came inside the arguments (src_content, from the action plugin); src names it on the controller.
    archive = params["src"]
    if source_type != "git" and params["src_content"]:
        archive = os.path.join(module.tmpdir, "source.archive")
        with open(archive, "wb") as handle:
            handle.write(base64.b64decode(params["src_content"]))
    if source_type == "git":
        count = _export_git(module, params["git_dir"], params["commit"], release_dir)
    elif zipfile.is_zipfile(archive):
        count = _extract_zip(module, archive, release_dir)
    else:
        try:
            count = _extract_tar(module, archive, release_dir)
        except tarfile.TarError as exc:
            module.fail_json(msg="%s is neither a tar nor a zip archive: %s" % (params["src"], exc))
    real_release = os.path.realpath(release_dir)
    if params["links"] and not params["shared_dir"]:
        module.fail_json(msg="links need shared_dir")
    for link in params["links"]:
        path = os.path.join(release_dir, link["path"])
        if rb.archive_member_problem(link["path"]) or not os.path.realpath(os.path.dirname(path)).startswith(real_release):
            module.fail_json(msg="The shared link %s is outside the release" % link["path"])
        if os.path.isdir(path) and not os.path.islink(path):
            if os.listdir(path):
                module.fail_json(msg="The release has a directory %s with files in it where a shared link goes (app_shared_links): "
                                 "leave it out of the source, or link another path" % link["path"])
            os.rmdir(path)
        elif os.path.lexists(path):
            os.unlink(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(os.path.join(params["shared_dir"], link["target"]), path)
        _chown_root(path)
    return dict(changed=True, files=count, msg="%d files of %s unpacked into %s" % (count, what, release_dir))


def _run(module: AnsibleModule, argv: list[str], step: str) -> str:
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg="%s failed" % step, cmd=argv, rc=rc, stderr=(err or out)[-2000:])
    return out.strip()


def finish(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    release_dir = params["release_dir"]
    marker_path = os.path.join(release_dir, params["built_marker"])
    if not params["release"]:
        module.fail_json(msg="state=finish needs release")
    if module.check_mode:
        steps = ["check %s" % params["server"]] if params["server"] else []
        steps += ["compile the bytecode"] if params["compile"] else []
        steps.append("write %s" % marker_path)
        return dict(changed=True, msg="Check mode: %s." % ", ".join(steps))
    python = os.path.join(release_dir, ".venv", "bin", "python")
    result: dict[str, t.Any] = dict(changed=True, server_version="", python="")
    result["python"] = _run(module, [python, "-c", PYTHON_SCRIPT], "Reading the Python version of the release's venv")
    server = params["server"]
    if server and params["system_server"]:
        system = _run(module, ["/usr/bin/python3", "-c", PYTHON_SCRIPT], "Reading the system's Python version")
        problem = rb.server_python_problem(server, result["python"], system)
        if problem:
            module.fail_json(msg=problem, python=result["python"], system_python=system)
    elif server:
        rc, out, err = module.run_command([python, "-c", VERSION_SCRIPT, server])
        result["server_version"] = out.strip() if rc == 0 else ""
        problem = rb.server_version_problem(server, result["server_version"], params["server_min_version"],
                                            params["server_default_package"])
        if problem:
            module.fail_json(msg=problem, server_version=result["server_version"])
    if params["compile"]:
        # The service cannot write bytecode (its code is read-only); the venv's was compiled by the installer.
        _run(module, [python, "-m", "compileall", "-q", "-x", r"/\.venv/", release_dir],
             "Compiling the release's bytecode")
    _write_root_file(marker_path, rb.marker(params["release"], params["source_type"]))
    result["msg"] = "release %s built (%s)" % (
        params["release"],
        ("%s %s" % (server, result["server_version"]) if result["server_version"] else "Python %s" % result["python"]),
    )
    return result


def _write_root_file(path: str, content: str) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(path + ".tmp", 0o644)
    _chown_root(path + ".tmp")
    os.replace(path + ".tmp", path)


def static(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    release_dir, static_dir, folder = params["release_dir"], params["static_dir"], params["static_folder"]
    named = static_dir not in ("auto", "") and os.path.isdir(os.path.join(release_dir, static_dir))
    plan = rb.static_plan(static_dir, folder, release_dir, params["config_checked"], named_exists=named,
                          declared_exists=bool(folder) and os.path.isdir(folder))
    if plan["problem"]:
        module.fail_json(msg=plan["problem"])
    result: dict[str, t.Any] = dict(changed=False, link=plan["link"])
    if plan["link"] is None:
        result["msg"] = "no static link (app_static_dir %s)" % (static_dir or "empty")
        return result
    path = os.path.join(release_dir, params["static_link"])
    current = os.readlink(path) if os.path.islink(path) else None
    if current != plan["link"]:
        result["changed"] = True
        if not module.check_mode:
            if os.path.lexists(path):
                os.unlink(path)
            os.symlink(plan["link"], path)
            _chown_root(path)
    result["msg"] = "%s -> %s" % (path, plan["link"])
    return result


def _run_hook(module: AnsibleModule, ran: list[dict[str, t.Any]], argv: list[str], kind: str, command: str) -> None:
    started = time.monotonic()
    rc, out, err = module.run_command(argv, cwd=module.params["release_dir"])
    done = dict(hook=command, kind=kind, rc=rc, seconds=round(time.monotonic() - started, 3))
    if rc != 0:
        module.fail_json(msg="%s hook '%s' failed with rc %d" % (kind, command, rc), cmd=argv, rc=rc,
                         stderr=(err or out)[-2000:], hooks=ran + [done])
    ran.append(done)


def hooks(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    release_dir, init_dir = params["release_dir"], params["init_dir"]
    for name in ("release", "env_file", "user", "group", "app_name"):
        if not params[name]:
            module.fail_json(msg="state=hooks needs %s" % name)
    if params["init_hooks"] and not init_dir:
        module.fail_json(msg="init_hooks need init_dir")
    pending = []
    for hook in params["init_hooks"]:
        marker_path = os.path.join(init_dir, rb.init_marker_name(hook))
        if os.path.exists(marker_path):
            continue
        creates = hook.get("creates") if isinstance(hook, dict) else None
        if creates and os.path.exists(os.path.join(release_dir, creates)):
            pending.append((hook, marker_path, False))
        else:
            pending.append((hook, marker_path, True))
    complete = os.path.join(release_dir, params["marker"])
    would = dict(init=[rb.hook_command(h) for h, dummy, run in pending if run],
                 pre_activate=list(params["pre_activate_hooks"]))
    if module.check_mode:
        steps = ["init hooks: %s" % "; ".join(would["init"])] if would["init"] else []
        steps += ["pre-activation hooks: %s" % "; ".join(would["pre_activate"])] if would["pre_activate"] else []
        return dict(changed=bool(pending) or not os.path.exists(complete), would=would, hooks=[],
                    msg="Check mode: %s would run in %s, then the release would be marked complete." % (
                        ", ".join(steps) or "no hook", release_dir))
    ran: list[dict[str, t.Any]] = []
    if pending and not os.path.isdir(init_dir):
        os.makedirs(init_dir, mode=0o755)
        _chown_root(init_dir)
    for hook, marker_path, run in pending:
        command = rb.hook_command(hook)
        if run:
            argv = rb.hook_argv(params["app_name"], params["release"], release_dir, params["user"], params["group"],
                                params["env_file"], shlex.split(command))
            _run_hook(module, ran, argv, "Init", command)
        # A hook whose own creates path exists counts as done too.
        _write_root_file(marker_path, json.dumps({"command": command, "release": params["release"]}, indent=4,
                                                 sort_keys=True) + "\n")
    for command in params["pre_activate_hooks"]:
        argv = rb.hook_argv(params["app_name"], params["release"], release_dir, params["user"], params["group"],
                            params["env_file"], shlex.split(command))
        _run_hook(module, ran, argv, "Pre-activation", command)
    _write_root_file(complete, rb.marker(params["release"], params["source_type"]))
    return dict(changed=True, hooks=ran, would=would,
                msg="%d hook(s) ran, release %s complete" % (len(ran), params["release"]))


def _same_file(src: os.stat_result, dest: str, content: bytes) -> bool:
    """Whether ``dest`` exists with ``content`` and the owner, group and mode of ``src``."""
    try:
        info = os.stat(dest)
        with open(dest, "rb") as handle:
            current = handle.read()
    except FileNotFoundError:
        return False
    return current == content and (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (
        src.st_uid, src.st_gid, stat.S_IMODE(src.st_mode))


def _record_failure(module: AnsibleModule, failed_in: str, failed_result: t.Mapping[str, t.Any]) -> tuple[str, str]:
    """Write ``<release_dir>.failed`` (0600 root, not in check mode); return its path and the message that stops
    the run."""
    params = module.params
    report, message = rb.build_failure(params["release"], failed_in, failed_result)
    path = params["release_dir"].rstrip("/") + ".failed"
    if not module.check_mode:
        try:
            fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(report, indent=4, sort_keys=True) + "\n")
            os.chmod(path + ".tmp", 0o600)
            _chown_root(path + ".tmp")
            os.replace(path + ".tmp", path)
        except OSError as error:
            message += "\n(the report %s could not be written: %s)" % (path, error.strerror)
    return path, message


def failed(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    if not params["release"] or not params["failed_in"]:
        module.fail_json(msg="state=failed needs release and failed_in")
    path, message = _record_failure(module, params["failed_in"], params["failed_result"] or {})
    module.fail_json(msg=message, report=path, changed=not module.check_mode)


def stage_env(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    path, content, group = params["env_file"], params["env_content"], params["group"]
    if not path or content is None or not group:
        module.fail_json(msg="state=stage_env needs env_file, env_content and group")
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        module.fail_json(msg="state=stage_env: no group %s on the host" % group)
    tmp = path + ".flaskops-tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8"))
        os.chown(tmp, 0, gid)
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    # A transient file the checks read, written in check mode too: no change to report.
    return dict(changed=False, msg="%s written" % path)


def env(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    src, dest = params["env_file"], params["env_dest"]
    if not src or not dest:
        module.fail_json(msg="state=env needs env_file and env_dest")
    try:
        info = os.stat(src)
        with open(src, "rb") as handle:
            content = handle.read()
    except OSError as error:
        module.fail_json(msg="cannot read the environment file %s: %s" % (src, error.strerror))
    changed = not _same_file(info, dest, content)
    try:
        if changed and not module.check_mode:
            tmp = os.path.join(os.path.dirname(dest), ".%s.flaskops-tmp" % os.path.basename(dest))
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(content)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chown(tmp, info.st_uid, info.st_gid)
                os.chmod(tmp, stat.S_IMODE(info.st_mode))
                os.replace(tmp, dest)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    finally:
        # The transient file goes in check mode too: the role writes it in check mode (its gates read it).
        os.unlink(src)
    if not changed:
        outcome = "unchanged"
    else:
        outcome = "would be written" if module.check_mode else "written"
    return dict(changed=changed, env_dest=dest, msg="%s %s" % (dest, outcome))


class _StepFailed(Exception):
    """A step of ``state=gate`` failed; ``result`` is what its ``fail_json`` was given."""

    def __init__(self, result: dict[str, t.Any]) -> None:
        super().__init__(result.get("msg"))
        self.result = result


def _step(module: AnsibleModule, step: t.Callable[[AnsibleModule], dict[str, t.Any]]) -> dict[str, t.Any]:
    """Run one step of the gate; its ``fail_json`` raises :class:`_StepFailed` instead of ending the module."""
    def stop(**result: t.Any) -> t.NoReturn:
        raise _StepFailed(result)

    module.fail_json = stop  # type: ignore[method-assign]
    started = time.monotonic()
    try:
        result = step(module)
    finally:
        del module.fail_json
    result["duration"] = round(time.monotonic() - started, 3)
    return result


def config_check(module: AnsibleModule) -> dict[str, t.Any]:
    """The Flask configuration check of the release (the rules of flaskops.deploy.flask_config_validate), run as
    the app user with the environment of the transient file."""
    params = module.params
    env = config_host.read_env(module, params["env_file"], params["env_content"])
    report, refusal = config_host.check(module, params["release_dir"], env, params["user"], params["group"],
                                        params["config"])
    if refusal:
        raise _StepFailed(dict(report, msg=refusal))
    return dict(report, changed=False)


GATE_FAILED_IN = {
    "finish": "Check the release's venv can run the server, compile the bytecode and mark the release built",
    "hooks": "Run the init and pre-activation hooks in the new release and mark it complete",
}
"""The steps whose failure is recorded in ``<release_dir>.failed``, with the name the report gives them."""


def _refused(module: AnsibleModule, result: dict[str, t.Any]) -> str:
    """Discard a release this run built and return the message of a refused configuration."""
    params = module.params
    discarded = params["build"] and not module.check_mode
    if discarded:
        shutil.rmtree(params["release_dir"], ignore_errors=True)
    live = bool(params["state_file"]) and os.path.exists(params["state_file"])
    app_root = os.path.dirname(os.path.dirname(params["release_dir"].rstrip("/")))
    first_run = "packages, firewall, nginx, certificate, the user %s, %s and %s" % (
        params["user"], app_root, os.path.dirname(params["env_dest"] or params["env_file"]))
    settings = params["config"]
    return rb.config_refusal(params["release"], discarded, live, result.get("msg", ""), result.get("findings", []),
                             settings["hints"], settings["hint_skip"], settings["https"], settings["https_setting"],
                             first_run)


def _finding_lines(module: AnsibleModule, result: dict[str, t.Any]) -> list[str]:
    settings = module.params["config"]
    return rb.finding_lines(result.get("findings") or [], settings["hints"], settings["hint_skip"])


def config(module: AnsibleModule) -> dict[str, t.Any]:
    """The configuration check alone, with the environment of O(env_file) (a rollback's: the slots' file)."""
    params = module.params
    for name in ("release", "env_file", "user", "group"):
        if not params[name]:
            module.fail_json(msg="state=config needs %s" % name)
    try:
        result = _step(module, config_check)
        del result["duration"]  # main's
        return dict(result, finding_lines=_finding_lines(module, result))
    except _StepFailed as stopped:
        module.fail_json(**dict(stopped.result, msg=_refused(module, stopped.result)))


def live(module: AnsibleModule) -> dict[str, t.Any]:
    """The live release (the ``current`` link of O(release_dir)): fail when there is none, else its configuration
    check (O(config_check)) with the slots' environment file; nothing is changed."""
    params = module.params
    link = params["release_dir"].rstrip("/")
    for name in ("app_name", "user", "group", "env_file"):
        if not params[name]:
            module.fail_json(msg="state=live needs %s" % name)
    target = os.path.realpath(link)
    if not os.path.exists(os.path.join(target, ".venv", "bin", "python")):
        module.fail_json(msg="%s has no live release on this host (%s): run site.yml or deploy.yml first"
                         % (params["app_name"], link))
    release = os.path.basename(target)
    if not params["config_check"]:
        return dict(changed=False, release=release, finding_lines=[], msg="release %s is live" % release)
    params["release_dir"] = target
    try:
        result = _step(module, config_check)
    except _StepFailed as stopped:
        settings = params["config"]
        module.fail_json(**dict(stopped.result, release=release, msg=rb.live_refusal(
            params["app_name"], release, stopped.result.get("msg", ""), stopped.result.get("findings", []),
            settings["hints"], settings["hint_skip"], settings["https"], settings["https_setting"])))
    del result["duration"]  # main's
    return dict(result, release=release, finding_lines=_finding_lines(module, result))


def gate(module: AnsibleModule) -> dict[str, t.Any]:
    """The steps between the venv's build and the slots (:func:`rb.gate_steps`) in one call: a failure records the
    release's ``.failed`` report (finish, hooks) or discards a release built by this run (the configuration check),
    and the transient environment file never outlives the call."""
    params = module.params
    for name in ("release", "env_file", "env_content", "env_dest", "user", "group", "app_name"):
        if params[name] is None or params[name] == "":
            module.fail_json(msg="state=gate needs %s" % name)
    fail = module.fail_json
    steps = rb.gate_steps(params["build"], params["prepare"], module.check_mode, params["config_check"])
    done: dict[str, dict[str, t.Any]] = {}
    current = ""
    try:
        for current in steps:
            if current == "static":
                params["static_folder"] = (done.get("config", {}).get("facts") or {}).get("static_folder") or ""
                params["config_checked"] = params["config_check"]
            step = {"finish": finish, "stage_env": stage_env, "config": config_check, "static": static,
                    "hooks": hooks, "env": env}[current]
            done[current] = _step(module, step)
    except _StepFailed as stopped:
        result = dict(stopped.result, gate_failed=current)
        if current in GATE_FAILED_IN:
            failure = dict(stopped.result, failed=True)
            result["report"], result["msg"] = _record_failure(module, GATE_FAILED_IN[current], failure)
            result["changed"] = not module.check_mode
        elif current == "config":
            result["msg"] = _refused(module, stopped.result)
        fail(**result)
    finally:
        # Moved into place by the env step, else removed here: a refused release leaves no secret in /run.
        if os.path.lexists(params["env_file"]):
            os.unlink(params["env_file"])
    config = done.get("config", {})
    return dict(
        changed=any(result.get("changed") for result in done.values()),
        steps=steps,
        finish=done.get("finish", {}),
        config=dict(config, facts=config.get("facts", {})) if config else {},
        link=done.get("static", {}).get("link"),
        hooks=done.get("hooks", {}).get("hooks", []),
        would=done.get("hooks", {}).get("would", {}),
        env_dest=params["env_dest"],
        env_changed=bool(done["env"].get("changed")),
        finding_lines=_finding_lines(module, config),
        msg="; ".join("%s: %s" % (name, result.get("msg", "ok")) for name, result in done.items()),
    )


# The options a layout may fill (flaskops.deploy's host layout), with their defaults.
LAYOUT_OPTIONS = {
    "app_name": None, "user": None, "group": None, "state_file": None, "marker": ".flaskops-release",
    "built_marker": ".flaskops-built", "source_type": "path", "server": "", "server_min_version": "", "server_default_package": "",
    "system_server": False, "static_dir": "auto", "static_link": ".flaskops-static", "init_dir": None,
    "shared_dir": None, "env_dest": None,
}


def _merge_layout(module: AnsibleModule) -> None:
    """Complete the parameters from O(layout), then check what the argument spec cannot check before that."""
    params, problems = host_layout.merge(module.params, module.params["layout"], LAYOUT_OPTIONS)
    if params["state"] == "gate":
        missing = host_layout.missing(params, ("release", "env_file", "env_dest", "user", "group", "app_name"))
        if missing:
            problems.append("state is gate but all of the following are missing: %s" % ", ".join(missing))
    if problems:
        module.fail_json(msg="; ".join(problems))
    module.params.update(params)


def main() -> t.NoReturn:
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", required=True,
                       choices=["prepare", "unpack", "finish", "static", "hooks", "stage_env", "env", "failed", "gate", "config",
                                "live"]),
            release_dir=dict(type="path", required=True),
            layout=dict(type="dict", default={}),
            built_marker=dict(type="str"),
            marker=dict(type="str"),
            source_type=dict(type="str", choices=["path", "archive", "git"]),
            src=dict(type="path"),
            git_dir=dict(type="path"),
            commit=dict(type="str"),
            links=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="str", required=True),
                target=dict(type="str", required=True),
            )),
            create_layout=dict(type="dict", options=layout_host.LAYOUT_OPTIONS),
            shared_dir=dict(type="path"),
            release=dict(type="str"),
            server=dict(type="str"),
            server_min_version=dict(type="str"),
            server_default_package=dict(type="str"),
            system_server=dict(type="bool"),
            compile=dict(type="bool", default=True),
            static_dir=dict(type="str"),
            static_folder=dict(type="str", default=""),
            config_checked=dict(type="bool", default=True),
            static_link=dict(type="str"),
            init_hooks=dict(type="list", elements="raw", default=[]),
            pre_activate_hooks=dict(type="list", elements="str", default=[]),
            init_dir=dict(type="path"),
            env_file=dict(type="path"),
            failed_in=dict(type="str"),
            failed_result=dict(type="dict"),
            env_content=dict(type="str", no_log=True),
            src_content=dict(type="str", no_log=True),
            env_dest=dict(type="path"),
            user=dict(type="str"),
            group=dict(type="str"),
            app_name=dict(type="str"),
            build=dict(type="bool", default=False),
            prepare=dict(type="bool", default=False),
            state_file=dict(type="path"),
            config_check=dict(type="bool", default=False),
            config=dict(type="dict", default={}, options=config_host.CONFIG_OPTIONS),
        ),
        supports_check_mode=True,
    )
    _merge_layout(module)
    step = {"prepare": prepare, "unpack": unpack, "finish": finish, "static": static, "hooks": hooks,
            "stage_env": stage_env, "env": env, "failed": failed, "gate": gate, "config": config, "live": live}[
        module.params["state"]]
    if (module.params["state"] == "config" or module.params["config_check"]) and not module.params["config"]["app"]:
        module.fail_json(msg="the configuration check needs config.app")
    started = time.monotonic()
    result = step(module)
    for line in result.get("finding_lines") or []:
        module.warn(line)
    module.exit_json(duration=round(time.monotonic() - started, 3), **result)


if __name__ == "__main__":
    main()
