# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filter flaskops.deploy.python_venv_packages (documented in python_venv_packages.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.flaskops.deploy.plugins.module_utils import _uv_source as uv_source

# Sources of flaskops.deploy.uv_install that leave uv in place.
UV_READY = ("present", "controller")


def python_venv_packages(always, installer, uv_source_name="none", build_packages=None, build_deps=False):
    """The Debian packages the python_venv role installs (module_utils/_uv_source.py: system_packages)."""
    if not isinstance(always, (list, tuple)):
        raise AnsibleFilterError("python_venv_packages expects a list of package names, got %r" % (always,))
    return uv_source.system_packages(always, installer, uv_source_name in UV_READY,
                                     list(build_packages or []) if boolean(build_deps, strict=False) else [])


class FilterModule:
    def filters(self):
        return {"python_venv_packages": python_venv_packages}
