# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filter flaskops.deploy.python_venv_packages."""

from __future__ import annotations

DOCUMENTATION = r"""
name: python_venv_packages
short_description: The Debian packages the python_venv role installs
version_added: 1.0.0
description:
- The packages given (always installed), then the build packages when O(build_deps) is true, then C(python3-venv) only when
  pip builds venvs (O(installer=pip)) or uv is not in place (O(uv_source_name) is neither V(present) nor V(controller)),
  as an index install of uv runs ensurepip's pip and, with O(installer=auto), pip builds the venvs when that fails.
- In order, without duplicates.
options:
  _input:
    description: Packages always installed (C(python_venv_system_packages)).
    type: list
    elements: str
    required: true
  installer:
    description: C(python_venv_installer), V(auto), V(uv) or V(pip).
    type: str
    required: true
  uv_source_name:
    description: The RV(flaskops.deploy.uv_install#module:source) of the copy from the controller, V(none) when it failed
      or did not run.
    type: str
    default: none
  build_packages:
    description: Build dependencies.
    type: list
    elements: str
  build_deps:
    description: Whether the build dependencies are installed.
    type: bool
    default: false
"""

EXAMPLES = r"""
__python_venv_packages: >-
  {{ python_venv_system_packages | flaskops.deploy.python_venv_packages(python_venv_installer,
     __python_venv_uv_copy.source | default('none')) }}
"""

RETURN = r"""
_value:
  description: The package names.
  type: list
  elements: str
"""

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
