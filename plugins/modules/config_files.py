#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: config_files
short_description: Write a role's configuration files, directories and links in one call, check them, put them back
version_added: 1.0.0
description:
  - "Brings a set of paths to the state each entry of O(files) asks for, in one call to the host: directories,
    files with their contents, symbolic links, paths that must not exist, and regular-expression line edits of a file
    the role does not own."
  - "On the controller, the action renders the entries with O(files[].template) through the role's C(templates/)
    with the task's variables (like M(ansible.builtin.template)), and reads O(files[].src) from the role's C(files/)
    (like M(ansible.builtin.copy)); the contents travel in the module's arguments, so there is no file transfer."
  - A file is written atomically (a temporary file in its directory renamed over it), and only when its content, mode,
    owner or group differ.
  - "When anything changed and O(validate) is given, the command runs once, after every entry is in place (it checks
    the whole set, not one file). When it fails, every changed path is put back exactly as it was: the previous
    content, mode and owner of a file, the previous target of a link, a removed file or link comes back, and what did
    not exist before is removed again. The module then fails with the command's error and names the restored paths."
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module reads the host and returns C(changed), RV(changed_paths) and (with C(--diff)) the
        diffs exactly as a real run would, without changing anything or running O(validate).
  diff_mode:
    support: full
    details:
      - Returns one diff per changed path, the contents of files (unless O(files[].hide_content)) or a description
        of a directory or link.
  idempotent:
    support: full
options:
  files:
    description:
      - The paths, in the order they are applied (a directory before the files in it).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - The absolute path on the host. Each path appears once.
        type: path
        required: true
      state:
        description:
          - V(file), a file with the content of O(files[].template), O(files[].src) or O(files[].content).
          - V(directory), a directory (created with its parents when missing).
          - V(link), a symbolic link to O(files[].src) (a file or another link at the path is replaced).
          - V(absent), no file or link at the path (a directory is refused).
          - V(lines), an existing file whose lines that O(files[].regexp) matches become O(files[].line) (with
            back-references); other lines stay, and a file with no matching line is left unchanged.
        type: str
        choices: [file, directory, link, absent, lines]
        default: file
      template:
        description:
          - With O(files[].state=file), a Jinja2 template found like the O(ansible.builtin.template#module:src) of
            M(ansible.builtin.template) (the role's C(templates/) first), rendered on the controller with the
            task's variables, C(ansible_managed) and O(files[].template_vars).
        type: path
      template_vars:
        description:
          - Variables added to the task's variables for this entry's template only (for example the item of a list of
            units rendered from one template).
        type: dict
      src:
        description:
          - With O(files[].state=file), a file found like the O(ansible.builtin.copy#module:src) of
            M(ansible.builtin.copy) (the role's C(files/) first), sent as it is (a file that is not UTF-8 text travels
            as O(files[].content_base64)).
          - With O(files[].state=link), the target of the link.
        type: str
      content:
        description:
          - With O(files[].state=file), the content itself.
          - One of O(files[].template), O(files[].src) and O(files[].content) is required with state V(file).
        type: str
      content_base64:
        description:
          - With O(files[].state=file), the content encoded in base64, for a file that is not text. The action sets it
            for a O(files[].src) that is not UTF-8.
        type: str
      regexp:
        description:
          - With O(files[].state=lines), the Python regular expression searched in each line (without its newline).
        type: str
      line:
        description:
          - With O(files[].state=lines), the replacement of a matching line; V(\\1) and V(\\g<name>) refer to the
            groups of O(files[].regexp).
        type: str
      mode:
        description:
          - The octal mode of a file or directory, a quoted string such as V("0644"). Without it a new path gets the
            default of the umask and an existing one keeps its mode.
        type: raw
      owner:
        description:
          - The owner of a file or directory (name or uid). Without it a new path is the connecting user's and an
            existing one keeps its owner.
        type: str
      group:
        description:
          - The group of a file or directory (name or gid), like O(files[].owner).
        type: str
      hide_content:
        description:
          - Keep this file's content out of the diff (a file that holds a secret). Use C(no_log) on the task too.
        type: bool
        default: false
        aliases: [secret]
  validate:
    description:
      - A command, as an argument list, that checks the paths once every entry is in place (for example
        V([nginx, -t, -q])). It runs only when something changed, and not in check mode.
      - There is no C(%s) placeholder; the command sees the files at their real paths. For a single file, name it in
        the list (V([/usr/bin/python3, -m, py_compile, /etc/app/gunicorn.conf.py])).
      - When it exits non-zero, every changed path is put back and the module fails with the command's stderr.
    type: list
    elements: str
  on_change:
    description:
      - A command, as an argument list, run once after the entries are in place when anything changed (and
        O(validate), when given, passed), for example V([systemctl, daemon-reload]) after unit files changed. It
        runs neither when nothing changed nor in check mode.
      - When it exits non-zero, the module fails with the command's stderr; the paths stay as written (they passed
        O(validate)).
    type: list
    elements: str
  base:
    description:
      - A directory the paths of O(files) are relative to (without C(..)); each path is then joined to it.
    type: path
  defaults:
    description:
      - The owner, group and mode of an entry of O(files) that sets none of its own.
    type: dict
    suboptions:
      owner:
        description: The owner.
        type: str
      group:
        description: The group.
        type: str
      mode:
        description: The octal mode, a quoted string such as V("0640").
        type: raw
  parents:
    description:
      - With O(base), a directory entry for every directory above the paths of O(files) (owner, group and mode as
        given here), applied before them, except the directories of O(parents.exclude), those above them (another
        task or role manages them) and the paths O(files) names itself.
    type: dict
    suboptions:
      owner:
        description: The owner of the directories.
        type: str
      group:
        description: The group of the directories.
        type: str
      mode:
        description: The octal mode of the directories, a quoted string such as V("0750").
        type: raw
      exclude:
        description: Directories, relative to O(base), that get no entry, nor do the directories above them.
        type: list
        elements: str
        default: []
  validator_name:
    description:
      - The name of the checker in the failure message (V(<name> rejected the new configuration ...)). By default the
        program's name, the base name of the first element of O(validate).
    type: str
notes:
  - "Not for large or binary files: the contents travel in the module's arguments."
  - "Ownership changes need privileges (C(become))."
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.file
  - module: ansible.builtin.lineinfile
"""

EXAMPLES = r"""
- name: Write nginx's configuration in one call, check it, put back the last good files when nginx rejects it
  flaskops.deploy.config_files:
    files:
      - path: /etc/nginx/flaskops
        state: directory
        owner: root
        group: root
        mode: "0755"
      - path: /etc/nginx/sites-available/hello.conf
        template: site.conf.j2
        owner: root
        group: root
        mode: "0644"
      - path: /etc/nginx/sites-enabled/hello.conf
        state: link
        src: /etc/nginx/sites-available/hello.conf
      - path: /etc/nginx/sites-enabled/default
        state: absent
      - path: /etc/nginx/nginx.conf
        state: lines
        regexp: '^(\s*)ssl_protocols\s'
        line: '\1ssl_protocols TLSv1.2 TLSv1.3;'
    validate: [nginx, -t, -q]
  notify: flaskops nginx reload

- name: Write the units, and make systemd read them when one changed
  flaskops.deploy.config_files:
    files:
      - path: /etc/systemd/system/hello.service
        template: unit.j2
        mode: "0644"
    on_change: [systemctl, daemon-reload]

- name: Write a file that holds a secret
  flaskops.deploy.config_files:
    files:
      - path: /etc/hello/secret.env
        content: "SECRET_KEY={{ hello_secret_key }}\n"
        owner: root
        group: hello
        mode: "0640"
        hide_content: true
  no_log: true
"""

RETURN = r"""
changed_paths:
  description: The paths that changed (or would change in check mode), in the order of O(files).
  returned: success
  type: list
  elements: str
  sample: [/etc/nginx/sites-available/hello.conf, /etc/nginx/sites-enabled/hello.conf]
changes:
  description: For each changed path, what differed.
  returned: success
  type: dict
  sample: {"/etc/nginx/sites-available/hello.conf": ["content"], "/etc/nginx/flaskops": ["missing"]}
restored_paths:
  description: When O(validate) failed, the paths that were put back as they were before this run.
  returned: failure
  type: list
  elements: str
validate_rc:
  description: The exit code of O(validate) when it ran.
  returned: when O(validate) ran
  type: int
  sample: 0
validate_stderr:
  description: The standard error of O(validate) when it ran.
  returned: when O(validate) ran
  type: str
on_change_rc:
  description: The exit code of O(on_change) when it ran.
  returned: when O(on_change) ran
  type: int
  sample: 0
"""

import base64
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.flaskops.deploy.plugins.module_utils import _config_files as cf

FILE_OPTIONS = dict(
    path=dict(type="path", required=True),
    state=dict(type="str", default="file", choices=list(cf.STATES)),
    template=dict(type="path"),
    template_vars=dict(type="dict"),
    src=dict(type="str"),
    content=dict(type="str", no_log=False),
    content_base64=dict(type="str", no_log=False),
    regexp=dict(type="str"),
    line=dict(type="str"),
    mode=dict(type="raw"),
    owner=dict(type="str"),
    group=dict(type="str"),
    hide_content=dict(type="bool", default=False, aliases=["secret"]),
)

ARGUMENT_SPEC = dict(
    files=dict(type="list", elements="dict", required=True, options=FILE_OPTIONS),
    validate=dict(type="list", elements="str"),
    on_change=dict(type="list", elements="str"),
    validator_name=dict(type="str"),
    base=dict(type="path"),
    defaults=dict(type="dict", options=dict(owner=dict(type="str"), group=dict(type="str"), mode=dict(type="raw"))),
    parents=dict(type="dict", options=dict(owner=dict(type="str"), group=dict(type="str"), mode=dict(type="raw"),
                                           exclude=dict(type="list", elements="str", default=[]))),
)


def normalize(item):
    """An entry of the module's argument as module_utils wants it (raises ConfigFilesError naming the path)."""
    path, state = item["path"], item["state"]
    if item.get("content_base64") is not None:
        try:
            item = dict(item, content=base64.b64decode(item["content_base64"], validate=True))
        except (TypeError, ValueError) as error:
            raise cf.ConfigFilesError("%s: content_base64 is not base64: %s" % (path, error))
    if state == "file" and item.get("content") is None:
        raise cf.ConfigFilesError("%s: state file needs content (or template or src through the action)" % path)
    if state == "link" and not item.get("src"):
        raise cf.ConfigFilesError("%s: state link needs src, the link's target" % path)
    if state == "lines" and (item.get("regexp") is None or item.get("line") is None):
        raise cf.ConfigFilesError("%s: state lines needs regexp and line" % path)
    return {
        "path": path,
        "state": state,
        "content": to_bytes(item["content"], errors="surrogate_or_strict") if item.get("content") is not None else None,
        "src": item.get("src"),
        "regexp": item.get("regexp"),
        "line": item.get("line"),
        "mode": cf.parse_mode(item.get("mode"), path),
        "uid": cf.resolve_user(item.get("owner"), path),
        "gid": cf.resolve_group(item.get("group"), path),
        "hide_content": item.get("hide_content"),
    }


def run_validate(module, argv):
    rc, out, err = module.run_command(argv)
    return rc, out, err


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    validate = module.params["validate"] or []
    try:
        files = cf.expand(module.params["files"], module.params["base"], module.params["defaults"], module.params["parents"])
        entries = [normalize(item) for item in files]
        changes = cf.plan(entries)
    except cf.ConfigFilesError as error:
        module.fail_json(msg=to_native(error))
    changed = bool(changes)
    result = {
        "changed_paths": [change["path"] for change in changes],
        "changes": dict((change["path"], change["reasons"]) for change in changes),
    }
    if module._diff:
        result["diff"] = [cf.diff(change) for change in changes]
    if not changes or module.check_mode:
        module.exit_json(changed=changed, **result)

    # A failure puts every path back: nothing changed.
    failed = dict(result)
    try:
        undo = cf.apply(changes)
    except cf.ConfigFilesError as error:
        restored, errors = cf.restore(getattr(error, "undo", []))
        module.fail_json(msg="could not apply the entries (%s); put back: %s%s" % (
            to_native(error), ", ".join(restored) or "nothing",
            "; could NOT put back: %s" % "; ".join(errors) if errors else ""), restored_paths=restored, changed=False, **failed)

    if validate:
        rc, out, err = run_validate(module, validate)
        result.update(validate_rc=rc, validate_stderr=err)
        failed.update(validate_rc=rc, validate_stderr=err)
        if rc != 0:
            restored, errors = cf.restore(undo)
            again, dummy, dummy2 = run_validate(module, validate)
            name = module.params["validator_name"] or os.path.basename(validate[0])
            complaint = (err or out or "exit code %d" % rc).strip()
            module.fail_json(
                msg="%s rejected the new configuration, so the paths this run changed were put back as they were "
                    "(%s; the restored files %s the check%s). Fix the input behind this error: %s" % (
                        name, ", ".join(restored) or "none", "pass" if again == 0 else "FAIL",
                        "; could NOT put back: %s" % "; ".join(errors) if errors else "", complaint),
                restored_paths=restored, changed=False, **failed)
    if cf.runs_on_change(changes, module.params["on_change"], module.check_mode):
        rc, out, err = module.run_command(module.params["on_change"])
        result.update(on_change_rc=rc)
        if rc != 0:
            module.fail_json(msg="%s failed after the paths changed: %s" % (
                " ".join(module.params["on_change"]), (err or out or "exit code %d" % rc).strip()), changed=True, **result)
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
