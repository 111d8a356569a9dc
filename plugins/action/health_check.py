# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.health_check (the documentation is in plugins/modules): the keys of ``check`` go under the
options the task gives (a key set to null counts as absent), then the module runs where the task runs."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.plugins.action import ActionBase

MODULE = "flaskops.deploy.health_check"


def merge_check(args):
    """The module's arguments: ``check``'s keys that are set, then the task's own options over them."""
    args = dict(args)
    check = args.pop("check", None) or {}
    if not isinstance(check, Mapping):
        raise TypeError("check must be a dict, got %s" % type(check).__name__)
    merged = {key: value for key, value in check.items() if value is not None}
    merged.update(args)
    return merged


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        try:
            module_args = merge_check(self._task.args)
        except TypeError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        result.update(self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars))
        return result
