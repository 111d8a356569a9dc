# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.uv_install (the documentation is in plugins/modules).

Unless ``source=index``, it looks for a uv binary of the wanted version on the controller and tells the module what it
found; the module compares with the host (its version, its uname) and decides (module_utils/_uv_source.py). Only when
the module asks for it is the binary checksummed and transferred into the remote temporary directory, and the module
called again to put it in place. With ``source=auto``, a copy that fails on the host is followed by an index install.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import platform
import shutil
import subprocess
import sysconfig

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.flaskops.deploy.plugins.module_utils import _uv_source as uv_source
from ansible_collections.flaskops.deploy.plugins.module_utils import _venv as venv

MODULE = "flaskops.deploy.uv_install"
INTERNAL = ("controller", "src", "checksum", "compressed", "remove_src")


def package_binary() -> str | None:
    """The binary of the ``uv`` Python package of the controller's interpreter, when it is installed."""
    try:
        import uv  # pylint: disable=import-outside-toplevel
        return uv.find_uv_bin()
    except Exception:  # pylint: disable=broad-except  # not installed, or its binary is missing
        return None


def binary_version(path: str) -> str:
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return venv.parse_uv_version(proc.stdout) if proc.returncode == 0 else ""


def find_controller_uv(explicit: str | None, wanted: str) -> dict[str, str]:
    """What the module needs to know of the controller: the binary that fits (or ""), why, and the platform."""
    explicit = os.path.expanduser(explicit) if explicit else None
    seen = []
    binary, reason = None, "no uv binary on the controller"
    for candidate in uv_source.controller_candidates(explicit, sysconfig.get_path("scripts"), os.environ.get("PATH"),
                                                     None if explicit else package_binary()):
        if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
            continue
        seen.append((candidate, binary_version(candidate)))
        binary, reason = uv_source.pick_controller_binary(wanted, seen)
        if binary:
            break
    if explicit and not seen:
        reason = "%s is not an executable file on the controller" % explicit
    return dict(binary=binary or "", reason=reason, system=platform.system(), machine=platform.machine())


def transfer_at_once(args: dict, facts: dict, check_mode: bool) -> bool:
    """Whether the binary goes to the host in the first call (O(probe=false)): never in check mode, nor without a
    controller binary, nor when the play's facts name another system or machine than the controller's."""
    controller = args.get("controller") or {}
    if check_mode or boolean(args.get("probe", True), strict=False) or not controller.get("binary"):
        return False
    for fact, mine in (("system", controller.get("system")), ("machine", controller.get("machine"))):
        if facts.get(fact) and mine and facts[fact] != mine:
            return False
    return True


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> str:
    """The controller's cache of compressed binaries: $XDG_CACHE_HOME/flaskops/uv (~/.cache/flaskops/uv)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "flaskops", "uv")


def compressed_copy(path: str, digest: str, directory: str | None = None) -> str:
    """A gzip copy of the binary (the fastest level: it halves the transfer), named by the binary's SHA-256 and made
    once per controller in its cache (cache_dir), or in the run's local temporary directory when the cache cannot be
    written."""
    for place in ([directory] if directory else [cache_dir(), C.DEFAULT_LOCAL_TMP]):
        target = os.path.join(place, "uv-%s.gz" % digest[:32])
        if os.path.exists(target):
            return target
        partial = "%s.%d" % (target, os.getpid())
        try:
            os.makedirs(place, mode=0o700, exist_ok=True)
            with open(path, "rb") as source, gzip.open(partial, "wb", compresslevel=1) as packed:
                shutil.copyfileobj(source, packed, 1 << 20)
            os.replace(partial, target)
            return target
        except OSError:
            if os.path.exists(partial):
                os.unlink(partial)
    raise OSError("no directory to write the compressed copy of %s into" % path)


class ActionModule(ActionBase):
    # The temporary directory is made only when the binary is transferred (a module call with pipelining needs none).
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        args = dict(self._task.args)
        given = [name for name in INTERNAL if name in args]
        if given:
            result.update(failed=True, source="none",
                          msg="%s are set by the action plugin, not by a task" % ", ".join(given))
            return result
        if args.get("source", "auto") != "index":
            args["controller"] = find_controller_uv(args.get("controller_binary"), str(args.get("version", "")))
        facts = (task_vars or {}).get("ansible_facts") or {}
        if transfer_at_once(args, facts, self._task.check_mode):
            first = dict(changed=True, transfer=True, source="controller", reason="copied without asking the host first")
        else:
            first = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        if first.get("failed") or not first.get("transfer"):
            result.update(first)
            return result

        local = args["controller"]["binary"]
        if self._task.check_mode:
            result.update(first, msg="uv %s would be copied from %s on the controller" % (args["version"], local))
            return result
        copied = {}
        try:
            checksum = sha256(local)
            packed = compressed_copy(local, checksum)
            # Without pipelining the module's first call made the directory already: the binary goes next to it.
            tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
            remote = self._connection._shell.join_path(tmpdir, "uv.gz")
            self._transfer_file(packed, remote)
            # The module only reads the file: a chmod only for a become to an unprivileged user (its ACLs).
            self._fixup_perms2((tmpdir, remote), execute=self._is_become_unprivileged())
            # The module removes the file and the directory once it has read them: no call of the action's own.
            copied = self._execute_module(module_name=MODULE, task_vars=task_vars,
                                          module_args=dict(args, src=remote, checksum=checksum, compressed=True,
                                                           remove_src=True))
        except (AnsibleError, OSError) as exc:
            copied = dict(first, failed=True, changed=False, transfer=False, source="none",
                          msg="the transfer of %s to the host failed: %s" % (local, to_native(exc)))
        finally:
            if copied.get("src_removed"):
                self._connection._shell.tmpdir = None
            elif self._connection._shell.tmpdir:
                self._remove_tmp_path(self._connection._shell.tmpdir)
        if copied.get("failed") and args.get("source", "auto") == "auto":
            why = copied.get("msg", "")
            without_controller = {k: v for k, v in args.items() if k != "controller"}
            copied = self._execute_module(module_name=MODULE, task_vars=task_vars,
                                          module_args=dict(without_controller, source="index"))
            copied["reason"] = "%s; from the package index instead" % why
        result.update(copied)
        return result
