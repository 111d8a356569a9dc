# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.release_build (the documentation is in plugins/modules).

For ``state=unpack`` from a directory or an archive on the controller, it asks the host whether the release has to be
built (``state=prepare``); only then it packs the directory (without bytecode and hidden top-level entries), transfers
the file into the remote temporary directory, runs the module on it and removes both copies. Every other call goes to the module as it is.
"""

from __future__ import annotations

import os
import tempfile

from ansible.plugins.action import ActionBase

from ansible_collections.flaskops.deploy.plugins.action.preflight_source import find_archive
from ansible_collections.flaskops.deploy.plugins.module_utils import _preflight as preflight
from ansible_collections.flaskops.deploy.plugins.module_utils import _release_build as rb

MODULE = "flaskops.deploy.release_build"


class ActionModule(ActionBase):
    # The temporary directory is made only for an unpack that transfers a file (a module call with pipelining needs none).
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        args = dict(self._task.args)
        source_type = args.get("source_type", "path")
        if args.get("state") != "unpack" or source_type == "git" or self._task.check_mode:
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return result

        # The source goes to the host only when the release has to be built there (it has neither marker).
        plan = self._execute_module(module_name=MODULE, module_args=dict(args, state="prepare"), task_vars=task_vars)
        if plan.get("failed") or not plan.get("build"):
            result.update(plan)
            if not plan.get("failed"):
                result["msg"] = "release %s is built already" % plan.get("release_dir")
            return result
        local_tmp = None
        try:
            # Found the way the input checks found it (an archive also in the role's files/ and next to the playbook).
            source = preflight.resolve_source(source_type, args.get("src") or "",
                                              lambda needle: find_archive(self, needle))
            if source is None:
                result.update(failed=True, msg="%s does not exist on the controller" % args.get("src"))
                return result
            if source_type == "path":
                if not os.path.isdir(source):
                    result.update(failed=True, msg="%s is not a directory on the controller" % source)
                    return result
                handle, local_tmp = tempfile.mkstemp(prefix="flaskops-release-", suffix=".tar.gz")
                os.close(handle)
                rb.pack_directory(source, local_tmp)
                local = local_tmp
            else:
                local = source
            tmpdir = self._make_tmp_path()
            remote = self._connection._shell.join_path(tmpdir, "source.archive")
            self._transfer_file(local, remote)
            self._fixup_perms2((tmpdir, remote))
            args["src"] = remote
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            result["removed"] = plan.get("removed", False)
            if isinstance(result.get("msg"), str):
                result["msg"] = result["msg"].replace(remote, source)
            return result
        finally:
            if local_tmp and os.path.exists(local_tmp):
                os.unlink(local_tmp)
            if self._connection._shell.tmpdir:
                self._remove_tmp_path(self._connection._shell.tmpdir)
