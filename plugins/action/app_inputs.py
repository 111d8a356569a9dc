# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.app_inputs: runs on the controller, and on the host only to have systemd read app_timers'
calendars when the controller has no systemd-analyze (the documentation is in plugins/modules)."""

from __future__ import annotations

import shutil
import subprocess
import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.flaskops.deploy.plugins.action.preflight_source import find_archive
from ansible_collections.flaskops.deploy.plugins.module_utils import _app_inputs as app_inputs
from ansible_collections.flaskops.deploy.plugins.module_utils import _preflight as preflight
from ansible_collections.flaskops.deploy.plugins.module_utils._processes import PROCESS_OPTIONS, TIMER_OPTIONS

CALENDAR_TIMEOUT = 30


def calendar_reader(analyze: str) -> t.Callable[[str], str | None]:
    """Ask ``systemd-analyze calendar`` of the controller whether systemd reads an expression: its complaint, or None."""

    def read(expression: str) -> str | None:
        try:
            done = subprocess.run([analyze, "calendar", "--", expression], capture_output=True, text=True,
                                  timeout=CALENDAR_TIMEOUT, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return "systemd-analyze calendar did not answer: %s" % exc
        if done.returncode == 0:
            return None
        return done.stderr.strip() or done.stdout.strip() or "exit code %d" % done.returncode

    return read


def host_calendar_check(args: dict[str, t.Any], problems: list[str], calendars_checked: bool) -> dict[str, t.Any] | None:
    """The arguments of the check of ``app_timers`` on the host (flaskops.deploy.app_processes, action=validate), or
    None: it runs when the other checks passed, there are timers, and the controller could not read their calendars."""
    if problems or not args["app_timers"] or calendars_checked:
        return None
    return {"action": "validate", "app_name": args["app_name"], "processes": args["app_processes"],
            "timers": args["app_timers"]}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    ARGUMENT_SPEC = dict(
        app_name=dict(type="str", required=True),
        app_root=dict(type="str", default=""),
        app_source_type=dict(type="str", default="path", choices=["path", "archive", "git"]),
        app_source_path=dict(type="str", default=""),
        app_source_archive=dict(type="str", default=""),
        app_git_repo=dict(type="str", default="", no_log=True),
        app_git_version=dict(type="str", default=""),
        app_keep_releases=dict(type="int", default=5),
        app_env=dict(type="dict", default={}),
        app_secrets=dict(type="dict", default={}, no_log=True),
        app_secrets_allow_weak=dict(type="list", elements="str", default=[], no_log=False),
        app_shared_files=dict(type="list", elements="dict", default=[], no_log=True),
        app_slot_listen=dict(type="str", default="unix"),
        app_slot_tcp_ports=dict(type="dict", default={"blue": 8001, "green": 8002}),
        app_socket_mode=dict(type="str", default="0660"),
        app_switch=dict(type="str", default="auto"),
        app_health_path=dict(type="str", default="/health"),
        app_processes=dict(type="list", elements="dict", default=[], options=PROCESS_OPTIONS),
        app_timers=dict(type="list", elements="dict", default=[], options=TIMER_OPTIONS),
        app_requirements_file=dict(type="str", default="requirements.txt"),
        app_wsgi=dict(type="str", default="wsgi:app"),
        app_install_project=dict(type="bool", default=False),
        check_source=dict(type="bool", default=True),
    )

    def _from_vars(self, task_vars):
        """The app_* options the task does not pass: the variables of the same name (templated), where they are set."""
        for name in self.ARGUMENT_SPEC:
            if name.startswith("app_") and name not in self._task.args and name in (task_vars or {}):
                self._task.args[name] = self._templar.template(task_vars[name])

    def run(self, tmp=None, task_vars=None):
        self._from_vars(task_vars)
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)

        # On the controller: systemd reads each on_calendar when the controller has systemd-analyze.
        analyze = shutil.which("systemd-analyze") if any(item["on_calendar"].strip() for item in args["app_timers"]) else None
        report = app_inputs.check(args, calendar_reader(analyze) if analyze else None)
        problems = list(report.problems)

        # The requirements file and the WSGI module in the source (a directory, or an archive's member list), when
        # the task asks for it and the source is set (an unset one is a problem above already).
        source_type = args["app_source_type"]
        source_var = preflight.SOURCE_VARS.get(source_type)
        source_checked = bool(args["check_source"] and source_var and args[source_var])
        if source_checked:
            source = args[source_var]
            resolved = preflight.resolve_source(source_type, source, lambda needle: find_archive(self, needle))
            problems += preflight.source_problems(source_type, source, resolved, args["app_requirements_file"],
                                                  args["app_wsgi"], install_project=args["app_install_project"])

        # systemd on the host reads the calendars when the controller could not (it has no systemd-analyze).
        host_check = host_calendar_check(args, problems, bool(analyze))
        if host_check is not None:
            host_result = self._execute_module(module_name="flaskops.deploy.app_processes", module_args=host_check,
                                               task_vars=task_vars)
            if host_result.get("failed") or host_result.get("unreachable"):
                problems += host_result.get("problems") or ["app_timers: the host could not check them: %s"
                                                            % host_result.get("msg", "no answer")]

        # Names only: no value of app_secrets, no content of app_shared_files, no app_git_repo goes into the result.
        result.update(
            changed=False,
            problems=problems,
            secrets_checked=report.secrets_checked,
            secrets_allowed=report.secrets_allowed,
            source_checked=source_checked,
            calendars_checked=bool(analyze),
            calendars_checked_on_host=host_check is not None,
        )
        if problems:
            result.update(failed=True, msg=" | ".join(problems))
        else:
            result["msg"] = "the inputs of the app role %s are valid (%d secret(s) of app_secrets checked%s%s)" % (
                args["app_name"],
                len(report.secrets_checked),
                ", %s checked on the controller" % source_var if source_checked else "",
                ", app_timers' calendars read by systemd-analyze" if analyze else "",
            )
        return result
