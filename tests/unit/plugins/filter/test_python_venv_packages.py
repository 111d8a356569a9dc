# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filter flaskops.deploy.python_venv_packages, which hands the python_venv role its Debian packages (a controller
plugin: its test lives apart from the module_utils tests, which run without ansible-core's controller code)."""

from __future__ import annotations

from ansible_collections.flaskops.deploy.plugins.filter.python_venv_packages import python_venv_packages


def test_the_filter_reads_the_source_of_the_copy():
    assert python_venv_packages([], "auto", "controller") == []
    assert python_venv_packages([], "auto", "present") == []
    assert python_venv_packages([], "auto", "none") == ["python3-venv"]
    assert python_venv_packages([], "auto") == ["python3-venv"]
    assert python_venv_packages([], "auto", "controller", ["build-essential"], False) == []
    assert python_venv_packages([], "auto", "controller", ["build-essential"], "true") == ["build-essential"]
