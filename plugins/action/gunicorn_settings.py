# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.gunicorn_settings: runs on the controller only (the documentation is in plugins/modules)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.flaskops.deploy.plugins.module_utils import _gunicorn as gunicorn


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _requires_connection = False

    ARGUMENT_SPEC = dict(
        worker_class=dict(type="str", required=True),
        workers=dict(type="raw", default=""),
        formula_workers=dict(type="int", required=True),
        max_requests=dict(type="raw", default=""),
        max_requests_jitter=dict(type="int", default=0),
        socketio=dict(type="bool", default=False),
        warn=dict(type="bool", default=True),
        positive=dict(type="dict", default={}),
    )

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        try:
            gunicorn.check_positive(args["positive"])
            settings = gunicorn.worker_settings(
                args["worker_class"],
                args["workers"],
                args["formula_workers"],
                args["max_requests"],
                args["max_requests_jitter"],
                args["socketio"],
            )
        except gunicorn.SettingsError as error:
            result.update(failed=True, changed=False, msg=str(error))
            return result
        messages = settings.pop("warnings")
        result.update(changed=False, notes=messages, **settings)
        if args["warn"] and messages:
            result["warnings"] = result.get("warnings", []) + messages
        result["msg"] = "%d %s worker(s), %s" % (
            settings["workers"],
            args["worker_class"],
            "recycled after %d requests (+ up to %d)" % (settings["max_requests"], settings["max_requests_jitter"])
            if settings["max_requests"]
            else "never recycled",
        )
        return result
