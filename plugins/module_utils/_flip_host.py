# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The side effects of :mod:`._flip` on a real host, for the modules that flip (``slot_flip``, ``release``)."""

from __future__ import annotations

import os
import tempfile
import time
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.flaskops.deploy.plugins.module_utils._flip import HostError
from ansible_collections.flaskops.deploy.plugins.module_utils._health_client import CHECK_OPTIONS, check
from ansible_collections.flaskops.deploy.plugins.module_utils._nginx_upstream import (
    UpstreamError,
    render_slot,
    upstream_path,
)

WORKERS = ["pgrep", "--full", "^nginx: worker process"]
WORKER_TITLE = b"nginx: worker process"


def nginx_workers(proc: str = "/proc") -> set[str]:
    """The process ids of nginx's workers that take new connections, read from ``proc``: their master titles them
    "nginx: worker process", and "nginx: worker process is shutting down" once a reload tells them to finish."""
    pids = set()
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "cmdline"), "rb") as handle:
                title = handle.read(256)
        except OSError:
            continue
        if title.rstrip(b"\0 ") == WORKER_TITLE:
            pids.add(name)
    return pids


def wait_new_workers(old: t.Iterable[str], timeout: float = 2.0, interval: float = 0.01,
                     workers: t.Callable[[], set[str]] = nginx_workers,
                     clock: t.Callable[[], float] = time.monotonic,
                     sleep: t.Callable[[float], None] = time.sleep) -> bool:
    """After a graceful reload, whose command returns once nginx's master got the signal: wait until the workers that
    take new connections are all new ones (the master has loaded the new configuration and the workers of ``old``
    are shutting down or gone). False without ``old`` (nothing to compare with) or after ``timeout`` (the checks
    through nginx retry in any case)."""
    old = set(old)
    if not old:
        return False
    deadline = clock() + timeout
    while True:
        active = workers()
        if active and not active & old:
            return True
        if clock() >= deadline:
            return False
        sleep(interval)


class ModuleHost:
    """The flip's side effects on this host."""

    def __init__(self, module: AnsibleModule, upstream_dir: str) -> None:
        self.module = module
        self.upstream_dir = upstream_dir

    def now(self) -> float:
        return time.monotonic()

    def _run(self, argv: list[str]) -> str:
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            raise HostError(f"{' '.join(argv)} failed (rc {rc}): {(err or out).strip()}")
        return out

    def systemctl(self, *args: str) -> None:
        self._run([self.module.get_bin_path("systemctl", required=True)] + list(args))

    def _attributes(self, path: str, owner: str, group: str, mode: int, changed: bool) -> bool:
        file_args = {"path": path, "owner": owner, "group": group, "mode": mode, "secontext": None,
                     "attributes": None}
        return self.module.set_fs_attributes_if_different(file_args, changed)

    def ensure_directory(self, path: str, owner: str, group: str, mode: int) -> bool:
        changed = not os.path.isdir(path)
        if changed:
            os.makedirs(path, mode)
        return self._attributes(path, owner, group, mode, changed)

    def _write_bytes(self, path: str, data: bytes, owner: str, group: str, mode: int) -> bool:
        try:
            with open(path, "rb") as handle:
                changed = handle.read() != data
        except FileNotFoundError:
            changed = True
        if changed:
            fd, tmp = tempfile.mkstemp(prefix=".flip-", dir=os.path.dirname(path))
            try:
                os.fchmod(fd, mode)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                self._attributes(tmp, owner, group, mode, True)
                os.rename(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return self._attributes(path, owner, group, mode, changed)

    def copy_file(self, src: str, dest: str, owner: str, group: str, mode: int) -> bool:
        try:
            with open(src, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise HostError(f"cannot read {src}: {to_native(error)}") from error
        return self._write_bytes(dest, data, owner, group, mode)

    def write_file(self, path: str, content: str, owner: str, group: str, mode: int) -> bool:
        return self._write_bytes(path, to_bytes(content), owner, group, mode)

    def remove_file(self, path: str) -> bool:
        if os.path.lexists(path):
            os.unlink(path)
            return True
        return False

    def symlink(self, path: str, target: str) -> bool:
        if os.path.islink(path) and os.readlink(path) == target:
            return False
        tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.flip-{os.getpid()}")
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.rename(tmp, path)
        return True

    def health(self, options: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        return check(options, warn=self.module.warn)

    def journal(self, unit: str, lines: int) -> list[str]:
        journalctl = self.module.get_bin_path("journalctl")
        if not journalctl:
            return []
        dummy, out, dummy_err = self.module.run_command([journalctl, "--no-pager", "-o", "cat", "-n", str(lines),
                                                         "-u", unit])
        return out.splitlines()

    def switch_upstream(self, site: str, address: str) -> list[str]:
        try:
            path = upstream_path(site, self.upstream_dir)
            content = render_slot(address)
        except UpstreamError as error:
            raise HostError(to_native(error)) from error
        try:
            with open(path, "rb") as handle:
                previous: str | None = to_text(handle.read(), errors="surrogate_or_strict")
        except FileNotFoundError:
            previous = None
        if previous == content:
            return []
        pids: list[str] = []
        if self.module.get_bin_path(WORKERS[0]):
            rc, out, dummy = self.module.run_command(WORKERS)
            pids = [line.strip() for line in out.splitlines() if line.strip()] if rc == 0 else []
        self._write_bytes(path, to_bytes(content), "root", "root", 0o644)
        for argv, what in ((["nginx", "-t", "-q"], "nginx rejected its configuration with the new {path}, so the "
                            "previous file was put back and nginx was not reloaded"),
                           (["systemctl", "reload", "nginx"], "reloading nginx failed, so the previous {path} was put "
                            "back")):
            rc, out, err = self.module.run_command(argv)
            if rc != 0:
                if previous is None:
                    os.unlink(path)
                else:
                    self._write_bytes(path, to_bytes(previous), "root", "root", 0o644)
                raise HostError(f"{what.format(path=path)}: {(err or out).strip()}")
        # The gate through nginx then asks the new workers at its first attempt, not after a retry's delay.
        wait_new_workers(pids)
        return pids

    def wait_gone(self, pids: t.Sequence[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while any(os.path.exists(f"/proc/{pid}") for pid in pids):
            if time.monotonic() >= deadline:
                return False
            time.sleep(1)
        return True

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def check_options(module: AnsibleModule, name: str, value: dict[str, t.Any]) -> dict[str, t.Any]:
    """The options of a health check, validated and completed with their defaults as health_check does."""
    result = ArgumentSpecValidator(CHECK_OPTIONS).validate(value or {})
    if result.error_messages:
        module.fail_json(msg=f"{name}: " + "; ".join(result.error_messages))
    return result.validated_parameters


# The options flaskops.deploy.slot_flip and flaskops.deploy.release (action=activate) pass to flip() as they are.
SPEC_OPTIONS = ("app_name", "server", "group", "config_dir", "config_files", "slots_dir", "unit_dir", "app_root",
                "state_file", "drain_timeout", "drain_grace")


def flip_spec(module: AnsibleModule, plan: dict[str, t.Any], state: dict[str, t.Any], slot_check: dict[str, t.Any],
              proxy_check: dict[str, t.Any], **given: t.Any) -> dict[str, t.Any]:
    """The spec of :func:`~._flip.flip` from a module's parameters, the plan and state it flips, and its checks.

    ``given`` holds what each module decides itself (slot, release, release_dir, exec_start, site). The health checks
    are validated and completed like health_check's; an empty ``proxy_check`` means no gate through nginx.
    """
    params = module.params
    spec = {name: params[name] for name in SPEC_OPTIONS}
    spec.update(
        plan=plan,
        state=state,
        live_release_dir=(state.get("live_record") or {}).get("release_dir", ""),
        slot_addresses={slot: str(value) for slot, value in params["slot_addresses"].items()},
        slot_sockets={slot: str(value) for slot, value in params["slot_sockets"].items()},
        link=params["link"] or "",
        tmpfiles=params["tmpfiles"] or "",
        slot_check=check_options(module, "slot_check", slot_check),
        proxy_check=check_options(module, "proxy_check", proxy_check) if proxy_check else {},
    )
    spec.update(given)
    return spec
