# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.release_build (the documentation is in plugins/modules).

For ``state=unpack`` from a directory or an archive on the controller: a small source (module_utils/_release_build.py,
``inline_source``) is packed (without bytecode and hidden top-level entries) and goes inside the module's arguments, so
that one call to the host unpacks it or finds the release built. A bigger one waits for the host to say whether the
release has to be built (``state=prepare``); only then it is packed, transferred into the remote temporary directory,
unpacked by the module, and both copies are removed. Every other call goes to the module as it is.
"""

from __future__ import annotations

import base64
import os
import tempfile

from ansible.plugins.action import ActionBase

from ansible_collections.flaskops.deploy.plugins.action.preflight_source import find_archive
from ansible_collections.flaskops.deploy.plugins.module_utils import _host_layout as host_layout
from ansible_collections.flaskops.deploy.plugins.module_utils import _preflight as preflight
from ansible_collections.flaskops.deploy.plugins.module_utils import _release_build as rb

MODULE = "flaskops.deploy.release_build"


class ActionModule(ActionBase):
    # The temporary directory is made only for an unpack that transfers a file (a module call with pipelining needs none).
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def _inline_source(self, source_type, src):
        """(the source's path on the controller, its packed bytes) when it is small enough to go inside the module's
        arguments, else None (a source not found too: the host may have the release built already)."""
        source = preflight.resolve_source(source_type, src, lambda needle: find_archive(self, needle))
        if source is None:
            return None
        if source_type == "archive":
            if not os.path.isfile(source) or not rb.inline_source(0, os.path.getsize(source)):
                return None
            with open(source, "rb") as handle:
                return source, handle.read()
        if not os.path.isdir(source) or not rb.inline_source(rb.source_size(source, rb.source_members(source))):
            return None
        handle, local_tmp = tempfile.mkstemp(prefix="flaskops-release-", suffix=".tar.gz")
        os.close(handle)
        try:
            rb.pack_directory(source, local_tmp)
            if not rb.inline_source(0, os.path.getsize(local_tmp)):
                return None
            with open(local_tmp, "rb") as archive:
                return source, archive.read()
        finally:
            os.unlink(local_tmp)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        args = dict(self._task.args)
        # The module takes source_type from the layout too (module_utils/_host_layout.py): decide on the same value.
        source_type = host_layout.option(args, "source_type", "path")
        if args.get("state") != "unpack" or source_type == "git" or self._task.check_mode:
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return result

        inline = self._inline_source(source_type, args.get("src") or "")
        if inline is not None:
            result.update(self._execute_module(module_name=MODULE, task_vars=task_vars, module_args=dict(
                args, src=inline[0], src_content=base64.b64encode(inline[1]).decode("ascii"))))
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
