# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.run_summary: runs on the controller only (the documentation is in plugins/modules)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.flaskops.deploy.plugins.module_utils import _summary

STATS_KEY = "flaskops_summary"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    ARGUMENT_SPEC = dict(
        operation=dict(type="str", required=True),
        app_name=dict(type="str", required=True),
        status=dict(type="dict"),
        status_args=dict(type="dict"),
        plan=dict(type="dict", default={}),
        flip=dict(type="dict", default={}),
        builds=dict(type="list", elements="raw", default=[]),
        config=dict(type="dict", default={}),
        health=dict(type="dict", default={}),
        url=dict(type="str", default=""),
        version_field=dict(type="str", default="version"),
    )

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        host = task_vars.get("inventory_hostname", "")
        status = args["status"]
        if status is None:
            if args["status_args"] is None:
                return dict(result, failed=True, msg="one of status or status_args is required")
            # The live slot and its release, read on the host (read-only, in check mode too).
            status = self._execute_module(module_name="flaskops.deploy.release", task_vars=task_vars,
                                          module_args=dict(args["status_args"], action="status"))
            if status.get("failed"):
                return dict(result, failed=True, msg="reading the live slot failed: %s" % status.get("msg", ""))
        # The check through the proxy that the same call made (status_args with proxy_check), unless the task gives one.
        checked = {} if args["health"] else (status.get("health") or {})
        summary = _summary.summarise(
            host=host,
            operation=args["operation"],
            app_name=args["app_name"],
            status=status,
            plan=args["plan"],
            flip=args["flip"],
            builds=args["builds"],
            config=args["config"],
            health=args["health"] or checked,
            url=args["url"],
            check_mode=bool(self._task.check_mode),
            version_field=args["version_field"],
        )
        stats = {STATS_KEY: {host: summary}}
        # What ansible.builtin.set_stats returns (aggregate, not per host): the run's custom stats carry the summary.
        result.update(changed=False, summary=summary, lines=_summary.lines(summary), stats=stats,
                      ansible_stats={"data": stats, "per_host": False, "aggregate": True})
        if checked and not checked.get("healthy"):
            # The site does not answer through the proxy: the run fails, as the check's own task would fail it.
            result.update(failed=True, health=checked, msg=checked.get("msg") or "the check through the proxy failed")
        return result
