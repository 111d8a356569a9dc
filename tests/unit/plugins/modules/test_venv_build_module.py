# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of flaskops.deploy.venv_build in tmp_path, with a stand-in uv that records its calls.

The stand-in's ``uv venv`` makes a venv whose ``bin/python`` runs this interpreter, so the module's own reads (the
interpreter's identity, the installed distributions) are real; ``uv pip install`` only records its arguments, or
fails when told to.
"""

from __future__ import annotations

import json
import os
import sys
import typing as t

import pytest
import yaml

from ansible_collections.flaskops.deploy.plugins.module_utils import _venv as venv
from ansible_collections.flaskops.deploy.plugins.modules import venv_build
from ansible_collections.flaskops.deploy.tests.unit.plugins.modules.utils import run_module, run_module_failing

FAKE_UV = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open({calls!r}, "a") as handle:
    handle.write(json.dumps({{"argv": args, "env": {{k: v for k, v in os.environ.items() if k.startswith("UV_")}}}}) + "\\n")
if args[0] == "venv" and "--offline" in args and os.path.exists({fail!r} + "-offline"):
    os.makedirs(args[-1], exist_ok=True)
    sys.stderr.write("error: pip is not in the cache and --offline was given\\n")
    sys.exit(2)
if args[0] == "venv":
    path = args[-1]
    os.makedirs(os.path.join(path, "bin"), exist_ok=True)
    with open(os.path.join(path, "pyvenv.cfg"), "w") as handle:
        handle.write("home = /usr/bin\\n")
    python = os.path.join(path, "bin", "python")
    with open(python, "w") as handle:
        handle.write("#!/bin/sh\\nexec {python} \\"$@\\"\\n")
    os.chmod(python, 0o755)
    sys.exit(0)
if os.path.exists({fail!r}):
    sys.stderr.write("Resolved 3 packages\\nerror: Hash mismatch for `flask==3.1.2`\\n")
    sys.exit(1)
"""


class Host:
    def __init__(self, root: t.Any) -> None:
        self.root = str(root)
        self.calls_file = os.path.join(self.root, "uv-calls")
        self.fail_file = os.path.join(self.root, "uv-fails")
        self.uv = os.path.join(self.root, "uv")
        with open(self.uv, "w", encoding="utf-8") as handle:
            handle.write(FAKE_UV.format(python=sys.executable, calls=self.calls_file, fail=self.fail_file))
        os.chmod(self.uv, 0o755)
        self.release = os.path.join(self.root, "srv/hello/releases/r1")
        os.makedirs(self.release)
        self.path = os.path.join(self.release, ".venv")
        self.requirements = os.path.join(self.release, "requirements.txt")
        self.write(self.requirements, "flask==3.1.2\n")
        self.cache = os.path.join(self.root, "cache/uv")

    @staticmethod
    def write(path: str, text: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)

    def args(self, **extra: t.Any) -> dict[str, t.Any]:
        args = {"path": self.path, "python": sys.executable, "requirements": self.requirements, "installer": "uv",
                "uv_binary": self.uv, "uv_cache_dir": self.cache, "pip_cache_dir": os.path.join(self.root, "cache/pip")}
        args.update(extra)
        return args

    def calls(self) -> list[list[str]]:
        if not os.path.exists(self.calls_file):
            return []
        with open(self.calls_file, encoding="utf-8") as handle:
            return [json.loads(line)["argv"] for line in handle]

    def envs(self) -> list[dict[str, str]]:
        with open(self.calls_file, encoding="utf-8") as handle:
            return [json.loads(line)["env"] for line in handle]

    def record(self) -> dict[str, t.Any] | None:
        path = os.path.join(self.path, venv.FINGERPRINT_FILE)
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)


@pytest.fixture
def host(tmp_path: t.Any) -> Host:
    return Host(tmp_path)


def test_first_run_creates_and_installs_then_a_second_run_does_nothing(host: Host) -> None:
    result = run_module(venv_build.main, host.args())
    assert result["changed"] and result["action"] == "create" and not result["rebuilt"]
    assert result["installer"] == "uv"
    py = host.path + "/bin/python"
    assert host.calls() == [
        ["venv", "--offline", "--seed", "--no-project", "--quiet", "--python", sys.executable, host.path],
        ["pip", "install", "--python", py, "--requirement", host.requirements],
    ]
    assert result["commands"] == [[host.uv] + call for call in host.calls()]
    assert host.envs()[0]["UV_CACHE_DIR"] == host.cache and host.envs()[0]["UV_PYTHON_DOWNLOADS"] == "never"
    assert os.path.isdir(host.cache)
    record = host.record()
    assert record is not None and record["fingerprint"] == result["fingerprint"]
    assert record["inputs"]["interpreter"] == result["interpreter"]

    again = run_module(venv_build.main, host.args())
    assert not again["changed"] and again["action"] == "none" and again["commands"] == []
    assert again["fingerprint"] == result["fingerprint"]
    assert len(host.calls()) == 2


def test_a_new_release_directory_with_the_same_files_is_the_same_input(host: Host) -> None:
    first = run_module(venv_build.main, host.args())
    other = os.path.join(host.root, "srv/hello/releases/r2")
    os.makedirs(other)
    host.write(os.path.join(other, "requirements.txt"), "flask==3.1.2\n")
    second = run_module(venv_build.main, host.args(path=os.path.join(other, ".venv"),
                                                   requirements=os.path.join(other, "requirements.txt")))
    assert second["action"] == "create" and second["fingerprint"] == first["fingerprint"]


def test_changed_requirements_install_into_the_venv(host: Host) -> None:
    run_module(venv_build.main, host.args())
    host.write(host.requirements, "flask==3.1.1\n")
    result = run_module(venv_build.main, host.args())
    assert result["changed"] and result["action"] == "install"
    assert result["reason"] == "the inputs changed: requirements"
    assert [call[0] for call in host.calls()] == ["venv", "pip", "pip"]
    assert host.record()["fingerprint"] == result["fingerprint"]


def test_project_wheels_packages_and_constraints(host: Host) -> None:
    constraints = os.path.join(host.release, "constraints.txt")
    host.write(constraints, "six<2\n")
    host.write(os.path.join(host.release, "pyproject.toml"), "[project]\nname = 'hello'\n")
    wheel = os.path.join(host.release, "toy-1.0-py3-none-any.whl")
    host.write(wheel, "not really a zip")
    args = host.args(project=host.release, constraints=constraints, wheels=[wheel], packages=["six==1.16.0"],
                     require_hashes=True)
    first = run_module(venv_build.main, args)
    py = host.path + "/bin/python"
    assert host.calls()[1:] == [
        ["pip", "install", "--python", py, "--require-hashes", "--constraint", constraints, "--requirement",
         host.requirements],
        ["pip", "install", "--python", py, "--constraint", constraints, host.release],
        ["pip", "install", "--python", py, "--constraint", constraints, wheel, "six==1.16.0"],
    ]
    # The venv inside the project, bytecode and the role's markers do not change the project's hash.
    os.makedirs(os.path.join(host.release, "__pycache__"))
    host.write(os.path.join(host.release, "__pycache__", "wsgi.cpython-311.pyc"), "x")
    host.write(os.path.join(host.release, ".flaskops-built"), "{}")
    assert not run_module(venv_build.main, args)["changed"]
    # A change of the project's code does.
    host.write(os.path.join(host.release, "wsgi.py"), "app = None\n")
    result = run_module(venv_build.main, args)
    assert result["action"] == "install" and result["reason"] == "the inputs changed: project"
    assert result["fingerprint"] != first["fingerprint"]
    host.write(wheel, "another wheel")  # the wheel lies in the project too
    assert run_module(venv_build.main, args)["reason"] == "the inputs changed: project, wheels"


def test_fallback_packages_only_install_what_the_venv_lacks(host: Host) -> None:
    # The stand-in venv runs this interpreter: pytest is installed, flaskops-no-such-dist is not.
    result = run_module(venv_build.main, host.args(fallback_packages=["PyTest==0.0.1", "flaskops_no.such-dist==1.0"]))
    assert result["fallback_installed"] == ["flaskops_no.such-dist==1.0"]
    assert host.calls()[-1] == ["pip", "install", "--python", host.path + "/bin/python", "flaskops_no.such-dist==1.0"]


def test_check_mode_reports_and_runs_nothing(host: Host) -> None:
    result = run_module(venv_build.main, host.args(fallback_packages=["gunicorn==23.0.0"]), check_mode=True)
    assert result["changed"] and result["action"] == "create"
    assert result["commands"][0][:2] == [host.uv, "venv"]
    assert result["commands"][-1][-1] == "gunicorn==23.0.0"
    assert host.calls() == [] and not os.path.exists(host.path) and not os.path.exists(host.cache)

    run_module(venv_build.main, host.args())
    assert not run_module(venv_build.main, host.args(), check_mode=True)["changed"]
    host.write(host.requirements, "flask==3.1.1\n")
    result = run_module(venv_build.main, host.args(), check_mode=True)
    assert result["changed"] and result["action"] == "install" and len(result["commands"]) == 1
    assert len(host.calls()) == 2


def test_check_mode_before_the_release_is_unpacked(host: Host) -> None:
    result = run_module(venv_build.main, host.args(requirements=os.path.join(host.root, "nowhere/requirements.txt")),
                        check_mode=True)
    assert result["changed"] and result["action"] == "create" and host.calls() == []


def test_failure_reports_the_installer_and_leaves_no_record(host: Host) -> None:
    run_module(venv_build.main, host.args())
    assert host.record() is not None
    host.write(host.requirements, "flask==3.1.1\n")
    host.write(host.fail_file, "")
    result = run_module_failing(venv_build.main, host.args())
    assert "requirements failed" in result["msg"] and "Hash mismatch" in result["msg"]
    assert result["rc"] == 1 and "Hash mismatch" in result["stderr"]
    assert result["cmd"][:3] == [host.uv, "pip", "install"]
    assert host.record() is None
    # The next run installs again, even with the inputs of the last good build.
    os.unlink(host.fail_file)
    host.write(host.requirements, "flask==3.1.2\n")
    assert run_module(venv_build.main, host.args())["action"] == "install"


def test_a_venv_of_another_interpreter_is_rebuilt(host: Host) -> None:
    run_module(venv_build.main, host.args())
    record = host.record()
    record["inputs"]["interpreter"] = "/usr/bin/python3.9 3.9.2"
    host.write(os.path.join(host.path, venv.FINGERPRINT_FILE), json.dumps(record))
    host.write(os.path.join(host.path, "stale"), "left by the old venv")
    result = run_module(venv_build.main, host.args())
    assert result["action"] == "rebuild" and result["rebuilt"]
    assert not os.path.exists(os.path.join(host.path, "stale"))
    assert host.record()["inputs"]["interpreter"] == result["interpreter"]


def test_a_venv_whose_python_is_gone_is_rebuilt(host: Host) -> None:
    run_module(venv_build.main, host.args())
    os.unlink(os.path.join(host.path, "bin/python"))
    assert run_module(venv_build.main, host.args())["action"] == "rebuild"


def test_the_legacy_record_is_read_and_replaced(host: Host) -> None:
    first = run_module(venv_build.main, host.args())
    os.unlink(os.path.join(host.path, venv.FINGERPRINT_FILE))
    host.write(os.path.join(host.path, venv.LEGACY_FILE), first["interpreter"] + "\n")
    result = run_module(venv_build.main, host.args())
    assert result["action"] == "install"
    assert not os.path.exists(os.path.join(host.path, venv.LEGACY_FILE)) and host.record() is not None
    host.write(os.path.join(host.path, venv.LEGACY_FILE), "/usr/bin/python2.7 2.7.18\n")
    os.unlink(os.path.join(host.path, venv.FINGERPRINT_FILE))
    assert run_module(venv_build.main, host.args())["action"] == "rebuild"


def test_a_directory_that_is_not_a_venv_is_not_removed(host: Host) -> None:
    os.makedirs(host.path)
    host.write(os.path.join(host.path, "precious"), "data")
    result = run_module_failing(venv_build.main, host.args())
    assert "not a virtual environment" in result["msg"]
    assert os.path.exists(os.path.join(host.path, "precious"))


def test_installer_choice(host: Host) -> None:
    result = run_module(venv_build.main, host.args(installer="auto", uv_binary=os.path.join(host.root, "no-uv")),
                        check_mode=True)
    assert result["installer"] == "pip"
    assert result["commands"][0] == [sys.executable, "-m", "venv", host.path]
    assert result["commands"][1] == [host.path + "/bin/python", "-m", "pip", "install", "--requirement",
                                     host.requirements]
    assert run_module(venv_build.main, host.args(installer="auto"), check_mode=True)["installer"] == "uv"
    failed = run_module_failing(venv_build.main, host.args(uv_binary=os.path.join(host.root, "no-uv")))
    assert "no uv binary" in failed["msg"]


def test_a_broken_interpreter_fails_clearly(host: Host) -> None:
    result = run_module_failing(venv_build.main, host.args(python=os.path.join(host.root, "no-python")))
    assert result["msg"] == f"the interpreter {host.root}/no-python does not exist or is not executable"


def test_documentation_matches_the_argument_spec() -> None:
    documentation = yaml.safe_load(venv_build.DOCUMENTATION)
    assert documentation["module"] == "venv_build"
    for option, spec in documentation["options"].items():
        descriptions = spec["description"] if isinstance(spec["description"], list) else [spec["description"]]
        assert all(isinstance(text, str) for text in descriptions), option
    options = set(documentation["options"])
    for task in yaml.safe_load(venv_build.EXAMPLES):
        assert task["name"]
        assert set(task["flaskops.deploy.venv_build"]) <= options
    returns = yaml.safe_load(venv_build.RETURN)
    assert {"changed", "action", "rebuilt", "installer", "fingerprint", "commands", "duration"} <= set(returns)


def test_owner_and_group_by_id(host: Host) -> None:
    ids = {"owner": str(os.getuid()), "group": str(os.getgid())}
    assert run_module(venv_build.main, host.args(**ids))["changed"]
    assert not run_module(venv_build.main, host.args(**ids))["changed"]
    failed = run_module_failing(venv_build.main, host.args(owner="flaskops-no-such-user"))
    assert "unknown owner or group" in failed["msg"]


def _release_with_same_requirements(host: Host, name: str) -> tuple[str, str]:
    other = os.path.join(host.root, "srv/hello/releases", name)
    os.makedirs(other)
    host.write(os.path.join(other, "requirements.txt"), "flask==3.1.2\n")
    return os.path.join(other, ".venv"), os.path.join(other, "requirements.txt")


def _installed_files(host: Host) -> str:
    """What an install leaves that names the venv's path: a script and activate; a package file that does not."""
    host.write(os.path.join(host.path, "bin", "gunicorn"), "#!%s/bin/python\nimport gunicorn\n" % host.path)
    os.chmod(os.path.join(host.path, "bin", "gunicorn"), 0o755)
    host.write(os.path.join(host.path, "bin", "activate"), "VIRTUAL_ENV='%s'\nexport VIRTUAL_ENV\n" % host.path)
    package = os.path.join(host.path, "lib", "python3", "site-packages", "flask")
    os.makedirs(package)
    host.write(os.path.join(package, "__init__.py"), "# flask\n")
    os.symlink("lib", os.path.join(host.path, "lib64"))
    return os.path.join(package, "__init__.py")


def test_a_new_venv_from_the_same_inputs_is_a_copy_of_the_live_one(host: Host) -> None:
    first = run_module(venv_build.main, host.args())
    package_file = _installed_files(host)
    current = os.path.join(host.root, "srv/hello/current")
    os.symlink(host.release, current)
    path, requirements = _release_with_same_requirements(host, "r2")
    calls = len(host.calls())

    planned = run_module(venv_build.main, host.args(path=path, requirements=requirements,
                                                    reuse_from=[current + "/.venv"]), check_mode=True)
    assert planned["changed"] and planned["action"] == "copy" and planned["copied_from"] == host.path
    assert not os.path.exists(path)

    result = run_module(venv_build.main, host.args(path=path, requirements=requirements,
                                                   reuse_from=["/nonexistent/.venv", current + "/.venv"]))
    assert result["changed"] and result["action"] == "copy" and result["copied_from"] == host.path
    assert result["fingerprint"] == first["fingerprint"] and result["installer"] == "uv"
    assert len(host.calls()) == calls, "a copy runs no installer"
    with open(os.path.join(path, "bin", "gunicorn"), encoding="utf-8") as handle:
        assert handle.read() == "#!%s/bin/python\nimport gunicorn\n" % path
    assert os.access(os.path.join(path, "bin", "gunicorn"), os.X_OK)
    with open(os.path.join(path, "bin", "activate"), encoding="utf-8") as handle:
        assert "VIRTUAL_ENV='%s'" % path in handle.read()
    copied = os.path.join(path, "lib", "python3", "site-packages", "flask", "__init__.py")
    assert os.stat(copied).st_ino == os.stat(package_file).st_ino, "package files are hard links"
    assert os.readlink(os.path.join(path, "lib64")) == "lib"
    with open(os.path.join(path, venv.FINGERPRINT_FILE), encoding="utf-8") as handle:
        record = json.load(handle)
    assert record["path"] == path and record["fingerprint"] == first["fingerprint"]
    # The live venv is as it was.
    with open(os.path.join(host.path, "bin", "gunicorn"), encoding="utf-8") as handle:
        assert host.path in handle.read()

    again = run_module(venv_build.main, host.args(path=path, requirements=requirements, reuse_from=[current + "/.venv"]))
    assert not again["changed"] and again["action"] == "none"


def test_a_copy_by_copy_link_mode_shares_no_file(host: Host) -> None:
    run_module(venv_build.main, host.args())
    package_file = _installed_files(host)
    path, requirements = _release_with_same_requirements(host, "r2")
    result = run_module(venv_build.main, host.args(path=path, requirements=requirements, reuse_from=[host.path],
                                                   link_mode="copy"))
    assert result["action"] == "copy"
    copied = os.path.join(path, "lib", "python3", "site-packages", "flask", "__init__.py")
    assert os.stat(copied).st_ino != os.stat(package_file).st_ino


def test_other_inputs_a_project_or_wheels_are_installed_not_copied(host: Host) -> None:
    run_module(venv_build.main, host.args())
    path, requirements = _release_with_same_requirements(host, "r2")
    host.write(requirements, "flask==3.1.1\n")
    changed = run_module(venv_build.main, host.args(path=path, requirements=requirements, reuse_from=[host.path]))
    assert changed["action"] == "create" and changed["copied_from"] == ""

    project = host.args(project=host.release)
    run_module(venv_build.main, project)
    path3, requirements3 = _release_with_same_requirements(host, "r3")
    with_project = run_module(venv_build.main, host.args(path=path3, requirements=requirements3, project=host.release,
                                                         reuse_from=[host.path]))
    assert with_project["action"] == "create" and with_project["copied_from"] == ""


def test_the_seed_comes_from_uvs_cache_first_and_from_the_index_when_the_cache_lacks_it(host: Host) -> None:
    host.write(host.fail_file + "-offline", "")
    result = run_module(venv_build.main, host.args())
    assert result["action"] == "create" and result["changed"]
    seed = ["venv", "--seed", "--no-project", "--quiet", "--python", sys.executable, host.path]
    assert host.calls() == [seed[:1] + ["--offline"] + seed[1:], seed,
                            ["pip", "install", "--python", host.path + "/bin/python", "--requirement", host.requirements]]
    # What ran is what succeeded: the index seed and the install.
    assert result["commands"] == [[host.uv] + call for call in host.calls()[1:]]
    assert host.record() is not None
