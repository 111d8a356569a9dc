# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.preflight_secrets: runs on the controller only (the documentation is in plugins/modules)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.flaskops.deploy.plugins.module_utils import _preflight as preflight


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _requires_connection = False

    ARGUMENT_SPEC = dict(
        secrets=dict(type="dict", required=True, no_log=True),
        allow_weak=dict(type="list", elements="str", default=[]),
        variable=dict(type="str", default="app_secrets"),
        allow_weak_variable=dict(type="str", default="app_secrets_allow_weak"),
    )

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        report = preflight.check_secrets(args["secrets"], args["allow_weak"], args["variable"], args["allow_weak_variable"])
        # Names only: no value of secrets goes into the result.
        result.update(changed=False, checked=report.checked, allowed=report.allowed, problems=report.problems)
        if report.problems:
            result.update(failed=True, msg=" | ".join(report.problems))
        else:
            result["msg"] = "%d secret(s) of %s checked, none weak%s" % (
                len(report.checked),
                args["variable"],
                " (not checked: %s)" % ", ".join(report.allowed) if report.allowed else "",
            )
        return result
