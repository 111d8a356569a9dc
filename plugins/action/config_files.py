# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.config_files: render the templates and read the files on the controller, then one
module call on the host carries every content. The documentation is in plugins/modules/config_files.py."""

from __future__ import annotations

import base64
import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.action import ActionBase

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core before 2.19 trusts every template
    def trust_as_template(value):
        return value

try:
    from ansible._internal._templating._template_vars import generate_ansible_template_vars
except ImportError:  # pragma: no cover - older ansible-core
    from ansible.template import generate_ansible_template_vars

MODULE = "flaskops.deploy.config_files"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def _render(self, entry, task_vars):
        name = entry["template"]
        try:
            source = self._find_needle("templates", name)
        except AnsibleError as error:
            raise AnsibleActionFail("%s: template %s: %s" % (entry.get("path"), name, to_native(error)))
        data = trust_as_template(self._loader.get_text_file_contents(source))
        searchpath = list(task_vars.get("ansible_search_path", [])) + [self._loader._basedir, os.path.dirname(source)]
        paths = []
        for path in searchpath:
            paths.extend([os.path.join(path, "templates"), path])
        variables = dict(task_vars)
        variables.update(generate_ansible_template_vars(
            path=name, fullpath=source, dest_path=entry.get("path"),
            include_ansible_managed="ansible_managed" not in variables))
        variables.update(entry.get("template_vars") or {})
        templar = self._templar.copy_with_new_env(searchpath=paths, available_variables=variables)
        try:
            rendered = templar.template(data, escape_backslashes=False)
        except AnsibleError as error:
            raise AnsibleActionFail("%s: template %s: %s" % (entry.get("path"), name, to_native(error)))
        return "" if rendered is None else to_text(rendered)

    def _read(self, entry):
        try:
            source = self._find_needle("files", entry["src"])
            with open(source, "rb") as handle:
                data = handle.read()
        except AnsibleError as error:
            raise AnsibleActionFail("%s: src %s: %s" % (entry.get("path"), entry["src"], to_native(error)))
        except OSError as error:
            raise AnsibleActionFail("%s: src %s is not readable: %s" % (entry.get("path"), entry["src"], to_native(error)))
        try:
            return {"content": data.decode("utf-8")}
        except UnicodeDecodeError:
            return {"content_base64": to_text(base64.b64encode(data))}

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        files = args.get("files")
        if not isinstance(files, list):
            raise AnsibleActionFail("config_files: files must be a list of entries")
        entries = []
        for item in files:
            if not isinstance(item, dict):
                raise AnsibleActionFail("config_files: each entry of files must be a dict, not %r" % (item,))
            entry = dict(item)
            state = entry.get("state") or "file"
            if state == "file":
                given = [key for key in ("template", "src", "content", "content_base64") if entry.get(key) is not None]
                if len(given) != 1:
                    raise AnsibleActionFail("%s: state file needs exactly one of template, src and content (got %s)"
                                            % (entry.get("path"), ", ".join(given) or "none"))
                if "template" in given:
                    entry["content"] = self._render(entry, task_vars)
                elif "src" in given:
                    entry.update(self._read(entry))
                entry.pop("template", None)
                entry.pop("src", None)
            elif entry.get("template") is not None:
                raise AnsibleActionFail("%s: template goes with state file only" % entry.get("path"))
            entry.pop("template_vars", None)
            entries.append(entry)
        args["files"] = entries
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
