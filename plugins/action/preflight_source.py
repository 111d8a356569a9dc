# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.preflight_source: runs on the controller only (the documentation is in plugins/modules)."""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.flaskops.deploy.plugins.module_utils import _preflight as preflight


def find_archive(action: ActionBase, source: str) -> str | None:
    """A relative archive where ansible.builtin.unarchive looks for it too (the role's files/, next to the playbook)."""
    try:
        return action._find_needle("files", source)
    except AnsibleError:
        return None


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

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        source_type, source = args["source_type"], args["source"]
        resolved = preflight.resolve_source(source_type, source, lambda needle: find_archive(self, needle))
        problems = preflight.source_problems(
            source_type, source, resolved, args["requirements_file"], args["wsgi"], install_project=args["install_project"]
        )
        result.update(changed=False, source=source, problems=problems)
        if problems:
            result.update(failed=True, msg=" ".join(problems))
        else:
            result["msg"] = "%s has the requirements file and the WSGI module" % preflight.SOURCE_VARS[source_type]
        return result
