# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""python_venv_fallback_packages: the script that decides which fallback packages a venv still lacks."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import yaml

VARS = pathlib.Path(__file__).resolve().parents[4] / "roles" / "python_venv" / "vars" / "main.yml"


def missing(*specs: str) -> list[str]:
    script = yaml.safe_load(VARS.read_text(encoding="utf-8"))["__python_venv_missing_script"]
    completed = subprocess.run([sys.executable, "-c", script, *specs], capture_output=True, text=True, check=True)
    return completed.stdout.splitlines()


def test_an_installed_distribution_is_not_installed_again_whatever_its_version() -> None:
    # pytest is installed here: a pin of another version must not replace it (the app's own pin wins).
    assert missing("pytest==0.0.1", "PyTest>=1") == []


def test_missing_distributions_are_printed_as_given() -> None:
    assert missing("flaskops-no-such-dist==1.0", "pytest") == ["flaskops-no-such-dist==1.0"]


def test_names_compare_as_pip_does() -> None:
    # PEP 503: case, "-", "_" and "." are alike.
    # ansible-core runs these tests.
    assert missing("Ansible_Core", "ansible.core==2.0", "flaskops_no.such-dist") == ["flaskops_no.such-dist"]
