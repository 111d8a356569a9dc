# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.preflight_source: runs on the controller only (the documentation is in plugins/modules)."""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.flaskops.deploy.plugins.module_utils import _preflight as preflight

SOURCE_VARS = {"path": "app_source_path", "archive": "app_source_archive"}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _requires_connection = False

    ARGUMENT_SPEC = dict(
        source_type=dict(type="str", required=True, choices=["path", "archive"]),
        source=dict(type="str", required=True),
        requirements_file=dict(type="str", default=""),
        wsgi=dict(type="str", required=True),
        install_project=dict(type="bool", default=False),
    )

    def _resolve(self, source_type, source):
        """The source on the controller, found the way the app role finds it (None when it does not exist)."""
        path = os.path.expanduser(source)
        if os.path.exists(path):
            return os.path.abspath(path)
        if source_type == "archive":
            # unarchive looks in the role's files/ and next to the playbook too.
            try:
                return self._find_needle("files", source)
            except AnsibleError:
                return None
        return None

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        source_type, source = args["source_type"], args["source"]
        source_var = SOURCE_VARS[source_type]
        result.update(changed=False, source=source, problems=[])

        resolved = self._resolve(source_type, source)
        if resolved is None:
            result.update(failed=True, msg="%s is '%s' but it does not exist on the controller" % (source_var, source))
            return result
        wrapper = None
        if source_type == "path":
            if not os.path.isdir(resolved):
                result.update(failed=True, msg="%s is '%s' but it is not a directory on the controller" % (source_var, source))
                return result

            def exists(relative):
                return os.path.isfile(os.path.join(resolved, relative))

            listing = preflight.directory_files(resolved)
        else:
            try:
                members = preflight.archive_members(resolved)
            except (OSError, ValueError, EOFError) as exc:
                result.update(failed=True, msg="%s is '%s' but it cannot be read: %s" % (source_var, source, to_native(exc)))
                return result
            member_set = set(members)
            exists = member_set.__contains__
            listing = members
            wrapper = preflight.single_top_directory(members)

        problems = preflight.check_source(
            exists,
            source_var,
            source,
            args["requirements_file"],
            args["wsgi"],
            install_project=args["install_project"],
            top_level=preflight.top_level_modules(listing),
            wrapper_dir=wrapper,
        )
        result["problems"] = problems
        if problems:
            result.update(failed=True, msg=" ".join(problems))
        else:
            result["msg"] = "%s has the requirements file and the WSGI module" % source_var
        return result
