# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where flaskops.deploy.uv_install takes uv from, and which Debian packages the python_venv role needs.

Pure functions on plain data: the action plugin and the module gather the facts (the controller's binaries and their
versions, the host's uname and installed version), these decide.
"""

from __future__ import annotations

import os
import typing as t

SOURCES = ("auto", "controller", "index")

# Names the same machine goes by (uname -m, Python's platform.machine(), Debian's architecture).
_MACHINE_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}

# What ensurepip needs on Debian: the venv module's ensurepip and the pip wheel (python3-pip-whl comes with it).
VENV_PACKAGES = ("python3-venv",)


def normalize_machine(machine: str) -> str:
    value = (machine or "").strip().lower()
    return _MACHINE_ALIASES.get(value, value)


def platform_matches(controller: tuple[str, str], host: tuple[str, str]) -> bool:
    """True when the controller's (system, machine) can run its binary on the host: both Linux, the same machine."""
    (c_system, c_machine), (h_system, h_machine) = controller, host
    if (c_system or "").lower() != "linux" or (h_system or "").lower() != "linux":
        return False
    return bool(c_machine) and normalize_machine(c_machine) == normalize_machine(h_machine)


def controller_candidates(explicit: str | None, scripts_dir: str | None, path_env: str | None,
                          package_binary: str | None = None) -> list[str]:
    """The controller paths to try for a uv binary, in order, without duplicates.

    An explicit path is the only candidate. Otherwise: the binary of the ``uv`` package of the controller's interpreter
    (as ``uv.find_uv_bin()`` reports it, then the interpreter's scripts directory), then each directory of ``PATH``.
    """
    if explicit:
        return [explicit]
    found: list[str] = []
    dirs = [d for d in (path_env or "").split(os.pathsep) if d]
    for candidate in [package_binary] + [os.path.join(d, "uv") for d in [scripts_dir or ""] + dirs if d]:
        if candidate and candidate not in found:
            found.append(candidate)
    return found


def pick_controller_binary(wanted: str, versions: t.Sequence[tuple[str, str]]) -> tuple[str | None, str]:
    """The first (path, version) whose version is ``wanted``: (path, reason), or (None, why none fits).

    ``versions`` holds the candidates that exist, with the version each reported ("" when it did not run)."""
    if not versions:
        return None, "no uv binary on the controller"
    for path, version in versions:
        if version == wanted:
            return path, "uv %s at %s on the controller" % (wanted, path)
    seen = ", ".join("%s (%s)" % (path, version or "does not run") for path, version in versions)
    return None, "no uv %s on the controller, found %s" % (wanted, seen)


def decide(requested: str, wanted: str, host_version: str, binary: str | None, binary_reason: str,
           controller_platform: tuple[str, str], host_platform: tuple[str, str]) -> tuple[str, str]:
    """Where uv comes from: (``present``, ``controller``, ``index`` or ``fail``, the reason).

    ``present``: the host has the wanted version already (nothing to transfer). ``controller``: copy ``binary``.
    ``index``: install from the package index. ``fail``: O(source) is controller and the controller's uv cannot be
    used."""
    if requested not in SOURCES:
        raise ValueError("source must be one of %s, not %r" % (", ".join(SOURCES), requested))
    if host_version == wanted:
        return "present", "uv %s is installed on the host" % wanted
    if requested == "index":
        return "index", "source is index"
    if binary is None:
        why = binary_reason
    elif not platform_matches(controller_platform, host_platform):
        why = "the controller (%s %s) and the host (%s %s) differ" % (controller_platform + host_platform)
    else:
        return "controller", binary_reason
    if requested == "controller":
        return "fail", why
    return "index", why + "; installing from the package index"


def system_packages(always: t.Sequence[str], installer: str, uv_ready: bool,
                    build_packages: t.Sequence[str] = (), venv_packages: t.Sequence[str] = VENV_PACKAGES) -> list[str]:
    """The Debian packages the python_venv role installs, in order and without duplicates.

    ``always`` (python_venv_system_packages) and ``build_packages`` (when the build dependencies are wanted) always;
    the venv packages (ensurepip) only when pip builds venvs: installer pip, or uv not in place (uv from the index runs
    ensurepip's pip, and with installer auto pip builds the venvs when that fails too). uv itself builds venvs with
    ``uv venv --seed``, which needs no ensurepip.
    """
    needs_venv = installer == "pip" or not uv_ready
    packages: list[str] = []
    for name in list(always) + list(build_packages) + (list(venv_packages) if needs_venv else []):
        if name not in packages:
            packages.append(name)
    return packages
