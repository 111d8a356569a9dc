# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where uv comes from and which Debian packages the python_venv role installs (module_utils/_uv_source.py; the filter
that hands the latter to the role: tests/unit/plugins/filter)."""

from __future__ import annotations

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _uv_source as uv_source

LINUX = ("Linux", "x86_64")
FOUND = "uv 0.13.9 at /c/bin/uv on the controller"


@pytest.mark.parametrize("controller, host, matches", [
    (("Linux", "x86_64"), ("Linux", "x86_64"), True),
    (("Linux", "amd64"), ("linux", "x86_64"), True),
    (("Linux", "arm64"), ("Linux", "aarch64"), True),
    (("Linux", "aarch64"), ("Linux", "x86_64"), False),
    (("Darwin", "x86_64"), ("Linux", "x86_64"), False),
    (("Linux", "x86_64"), ("FreeBSD", "x86_64"), False),
    (("Linux", ""), ("Linux", ""), False),
])
def test_platform_matches(controller, host, matches):
    assert uv_source.platform_matches(controller, host) is matches


def test_an_explicit_controller_binary_is_the_only_candidate():
    assert uv_source.controller_candidates("/x/uv", "/venv/bin", "/usr/bin:/bin", "/venv/bin/uv") == ["/x/uv"]


def test_the_package_then_the_scripts_dir_then_path_without_duplicates():
    assert uv_source.controller_candidates(None, "/venv/bin", "/venv/bin::/usr/local/bin", "/venv/lib/uv/uv") == [
        "/venv/lib/uv/uv", "/venv/bin/uv", "/usr/local/bin/uv"]
    assert uv_source.controller_candidates("", None, None, None) == []


def test_the_first_binary_of_the_wanted_version_is_picked():
    assert uv_source.pick_controller_binary("0.13.9", [("/a/uv", "0.12.0"), ("/b/uv", "0.13.9"), ("/c/uv", "0.13.9")]) == (
        "/b/uv", "uv 0.13.9 at /b/uv on the controller")


def test_no_binary_of_the_wanted_version_says_what_was_found():
    assert uv_source.pick_controller_binary("0.13.9", []) == (None, "no uv binary on the controller")
    assert uv_source.pick_controller_binary("0.13.9", [("/a/uv", "0.12.0"), ("/b/uv", "")]) == (
        None, "no uv 0.13.9 on the controller, found /a/uv (0.12.0), /b/uv (does not run)")


@pytest.mark.parametrize("requested", ["auto", "controller", "index"])
def test_a_host_with_the_version_needs_nothing_from_any_source(requested):
    assert uv_source.decide(requested, "0.13.9", "0.13.9", None, "none", LINUX, LINUX)[0] == "present"


def test_the_controllers_binary_is_copied_when_it_fits():
    for requested in ("auto", "controller"):
        assert uv_source.decide(requested, "0.13.9", "0.12.0", "/c/bin/uv", FOUND, LINUX, LINUX) == ("controller", FOUND)


def test_index_never_copies():
    assert uv_source.decide("index", "0.13.9", "", "/c/bin/uv", FOUND, LINUX, LINUX) == ("index", "source is index")


def test_auto_falls_back_to_the_index_and_controller_fails_saying_why():
    assert uv_source.decide("auto", "0.13.9", "", None, "no uv binary on the controller", LINUX, LINUX) == (
        "index", "no uv binary on the controller; installing from the package index")
    assert uv_source.decide("controller", "0.13.9", "", "/c/bin/uv", FOUND, ("Linux", "aarch64"), LINUX) == (
        "fail", "the controller (Linux aarch64) and the host (Linux x86_64) differ")
    assert uv_source.decide("controller", "0.13.9", "", None, "no uv 0.13.9 on the controller", LINUX, LINUX) == (
        "fail", "no uv 0.13.9 on the controller")


def test_an_unknown_source_is_refused():
    with pytest.raises(ValueError, match="source must be one of auto, controller, index, not 'pypi'"):
        uv_source.decide("pypi", "0.13.9", "", None, "", LINUX, LINUX)


@pytest.mark.parametrize("installer, uv_ready, expected", [
    ("auto", True, []),
    ("uv", True, []),
    ("auto", False, ["python3-venv"]),  # uv from the index (ensurepip), and pip when that fails
    ("uv", False, ["python3-venv"]),  # uv from the index
    ("pip", False, ["python3-venv"]),
    ("pip", True, ["python3-venv"]),
])
def test_python3_venv_only_when_pip_or_ensurepip_runs(installer, uv_ready, expected):
    assert uv_source.system_packages([], installer, uv_ready) == expected


def test_packages_always_installed_and_build_packages_come_first_without_duplicates():
    assert uv_source.system_packages(["python3-venv", "git"], "auto", True, ["build-essential"]) == [
        "python3-venv", "git", "build-essential"]
    assert uv_source.system_packages(["git"], "pip", True, ["git", "python3-dev"]) == ["git", "python3-dev", "python3-venv"]
