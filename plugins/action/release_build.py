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

    @staticmethod
    def _small(source_type, source):
        """Whether a found source may go inside the module's arguments (module_utils/_release_build.py,
        inline_source): an archive is judged by its size below, a directory by its files before it is packed."""
        if source_type == "archive":
            return os.path.isfile(source)
        return os.path.isdir(source) and rb.inline_source(rb.source_size(source, rb.source_members(source)))

    @staticmethod
    def _archive_of(source_type, source):
        """(the archive to send, the temporary file to remove or None): a directory is packed (without bytecode and
        hidden top-level entries), an archive is sent as it is."""
        if source_type == "archive":
            return source, None
        handle, local_tmp = tempfile.mkstemp(prefix="flaskops-release-", suffix=".tar.gz")
        os.close(handle)
        rb.pack_directory(source, local_tmp)
        return local_tmp, local_tmp

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        args = dict(self._task.args)
        # The module takes source_type from the layout too (module_utils/_host_layout.py): decide on the same value.
        source_type = host_layout.option(args, "source_type", "path")
        if args.get("state") != "unpack" or source_type == "git" or self._task.check_mode:
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return result

        # Found the way the input checks found it (an archive also in the role's files/ and next to the playbook).
        source = preflight.resolve_source(source_type, args.get("src") or "", lambda needle: find_archive(self, needle))
        local = local_tmp = None
        try:
            if source is not None and self._small(source_type, source):
                local, local_tmp = self._archive_of(source_type, source)
                if rb.inline_source(0, os.path.getsize(local)):
                    with open(local, "rb") as archive:
                        content = base64.b64encode(archive.read()).decode("ascii")
                    result.update(self._execute_module(module_name=MODULE, task_vars=task_vars,
                                                       module_args=dict(args, src=source, src_content=content)))
                    return result

            # The source goes to the host only when the release has to be built there (it has neither marker).
            plan = self._execute_module(module_name=MODULE, module_args=dict(args, state="prepare"), task_vars=task_vars)
            if plan.get("failed") or not plan.get("build"):
                result.update(plan)
                if not plan.get("failed"):
                    result["msg"] = "release %s is built already" % plan.get("release_dir")
                return result
            if source is None:
                result.update(failed=True, msg="%s does not exist on the controller" % args.get("src"))
                return result
            if source_type == "path" and not os.path.isdir(source):
                result.update(failed=True, msg="%s is not a directory on the controller" % source)
                return result
            if local is None:
                local, local_tmp = self._archive_of(source_type, source)
            # Without pipelining the plan's call made the directory already: the archive goes next to its module.
            tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
            remote = self._connection._shell.join_path(tmpdir, "source.archive")
            self._transfer_file(local, remote)
            # The module only reads the archive: a chmod only for a become to an unprivileged user (its ACLs).
            self._fixup_perms2((tmpdir, remote), execute=self._is_become_unprivileged())
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
