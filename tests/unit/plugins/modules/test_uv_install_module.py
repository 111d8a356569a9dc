# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of flaskops.deploy.uv_install in tmp_path, with a stand-in interpreter that records its calls.

The stand-in's ``-m venv`` makes a venv whose ``bin/python`` is the stand-in itself; its ``-m pip install uv==X`` writes a
``bin/uv`` that prints ``uv X``, or fails when told to.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _venv as venv
from ansible_collections.flaskops.deploy.plugins.modules import uv_install
from ansible_collections.flaskops.deploy.tests.unit.plugins.modules.utils import run_module, run_module_failing

FAKE_PYTHON = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open({calls!r}, "a") as handle:
    handle.write(json.dumps({{"argv": [sys.argv[0]] + args, "pythonpath": os.environ.get("PYTHONPATH", "")}}) + "\\n")
if args[:1] == ["-c"]:
    print({stdlib!r})
elif args[:2] == ["-m", "venv"]:
    path = args[-1]
    os.makedirs(os.path.join(path, "bin"), exist_ok=True)
    open(os.path.join(path, "pyvenv.cfg"), "w").close()
    if not os.path.lexists(os.path.join(path, "bin", "python")):
        os.symlink(sys.argv[0], os.path.join(path, "bin", "python"))
elif args[:3] == ["-m", "pip", "install"]:
    if os.path.exists({fail!r}):
        sys.stderr.write("ERROR: No matching distribution found for " + args[3] + "\\n")
        sys.exit(1)
    version = args[3].split("==")[1]
    uv = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "uv")
    with open(uv, "w") as handle:
        handle.write("#!/bin/sh\\necho 'uv %s (x86_64-unknown-linux-gnu)'\\n" % version)
    os.chmod(uv, 0o755)
"""


@pytest.fixture(name="host")
def fixture_host(tmp_path, monkeypatch):
    stdlib = tmp_path / "stdlib"
    (stdlib / "ensurepip" / "_bundled").mkdir(parents=True)
    python = tmp_path / "python3"
    calls = tmp_path / "calls.jsonl"
    python.write_text(FAKE_PYTHON.format(python=sys.executable, calls=str(calls), stdlib=str(stdlib),
                                         fail=str(tmp_path / "fail")))
    python.chmod(0o755)
    wheels = tmp_path / "python-wheels"
    wheels.mkdir()
    monkeypatch.setattr(uv_install, "WHEEL_GLOBS", (str(wheels / "pip-*.whl"), "{stdlib}/ensurepip/_bundled/pip-*.whl"))

    class Host:
        path = str(tmp_path / "uv")
        bundled = stdlib / "ensurepip" / "_bundled"

        def __init__(self):
            self.python = str(python)
            self.wheels = wheels
            self.tmp = tmp_path

        def calls(self):
            if not calls.exists():
                return []
            return [json.loads(line) for line in calls.read_text().splitlines()]

        def args(self, version="0.13.9"):
            return {"path": self.path, "version": version, "python": self.python}

    return Host()


def test_installs_into_a_venv_without_pip_with_the_distributions_pip_wheel(host):
    (host.wheels / "pip-23.0.1-py3-none-any.whl").write_text("")
    (host.wheels / "pip-9.0.1-py3-none-any.whl").write_text("")
    result = run_module(uv_install.main, host.args())
    assert result["changed"] and result["version"] == "0.13.9" and result["previous_version"] == ""
    wheel = str(host.wheels / "pip-23.0.1-py3-none-any.whl")
    installs = [c for c in host.calls() if c["argv"][1:3] == ["-m", "pip"]]
    assert [c["argv"][1:] for c in host.calls() if c["argv"][1:3] == ["-m", "venv"]] == [
        ["-m", "venv", "--without-pip", host.path]]
    assert installs == [{"argv": [host.path + "/bin/python", "-m", "pip", "install", "uv==0.13.9"], "pythonpath": wheel}]
    assert result["commands"] == [[host.python, "-m", "venv", "--without-pip", host.path],
                                  [host.path + "/bin/python", "-m", "pip", "install", "uv==0.13.9"]]


def test_takes_the_interpreters_own_bundle_and_makes_a_venv_with_pip_without_any(host):
    (host.bundled / "pip-24.0-py3-none-any.whl").write_text("")
    run_module(uv_install.main, host.args())
    assert [c["pythonpath"] for c in host.calls() if c["argv"][1:3] == ["-m", "pip"]] == [
        str(host.bundled / "pip-24.0-py3-none-any.whl")]
    os.remove(host.bundled / "pip-24.0-py3-none-any.whl")
    result = run_module(uv_install.main, host.args("0.14.0"))
    assert result["changed"] and result["previous_version"] == "0.13.9" and result["version"] == "0.14.0"
    assert result["commands"][0] == [host.python, "-m", "venv", host.path]


def test_the_same_version_runs_nothing(host):
    run_module(uv_install.main, host.args())
    before = len(host.calls())
    result = run_module(uv_install.main, host.args())
    assert not result["changed"] and result["commands"] == [] and result["version"] == "0.13.9"
    assert len(host.calls()) == before


def test_check_mode_reports_the_commands_and_runs_none(host):
    result = run_module(uv_install.main, host.args(), check_mode=True)
    assert result["changed"] and result["commands"][0][1:3] == ["-m", "venv"]
    assert not os.path.exists(host.path)
    assert [c["argv"][1] for c in host.calls()] == ["-c"]  # only the stdlib lookup


def test_a_failed_install_fails_with_pips_message(host):
    (host.tmp / "fail").write_text("")
    result = run_module_failing(uv_install.main, host.args())
    assert "No matching distribution found for uv==0.13.9" in result["msg"] and result["rc"] == 1


def test_refuses_a_directory_that_is_not_a_venv(host):
    os.makedirs(host.path)
    (host.tmp / "uv" / "data").write_text("")
    result = run_module_failing(uv_install.main, host.args())
    assert "is not a venv" in result["msg"]
    assert host.calls() == []


@pytest.mark.parametrize("output, version", [
    ("uv 0.13.9 (x86_64-unknown-linux-gnu)\n", "0.13.9"), ("uv 0.5.0\n", "0.5.0"), ("", ""), ("error", "")])
def test_parse_uv_version(output, version):
    assert venv.parse_uv_version(output) == version


def test_newest_wheel():
    assert venv.newest_wheel(["/a/pip-9.0.1-py3-none-any.whl", "/b/pip-23.0.1-py3-none-any.whl",
                              "/c/setuptools-66.1.1-py3-none-any.whl", "/d/pip-10.0-py3-none-any.whl"]) == (
        "/b/pip-23.0.1-py3-none-any.whl")
    assert venv.newest_wheel([]) is None


# --- a binary from the controller (the action plugin's two calls; the plugin itself: action/test_uv_install_action.py)

UV_SCRIPT = "#!/bin/sh\necho 'uv {version} (x86_64-unknown-linux-gnu)'\n"


def _controller(binary="/c/bin/uv", machine=None):
    return {"binary": binary, "reason": "uv 0.13.9 at /c/bin/uv on the controller" if binary else "no uv binary",
            "system": "Linux", "machine": machine or os.uname().machine}


def _transferred(host, text):
    src = host.tmp / "transferred-uv"
    src.write_text(text)
    return str(src), hashlib.sha256(text.encode()).hexdigest()


def test_a_fitting_controller_binary_is_asked_for_and_nothing_else_runs(host):
    result = run_module(uv_install.main, dict(host.args(), source="auto", controller=_controller()))
    assert result["transfer"] and result["changed"] and result["source"] == "controller"
    assert result["reason"] == "uv 0.13.9 at /c/bin/uv on the controller"
    assert result["host_platform"] == [os.uname().sysname, os.uname().machine]
    assert host.calls() == [] and not os.path.exists(host.path)


def test_a_host_with_the_version_asks_for_no_transfer(host):
    os.makedirs(host.path + "/bin")
    with open(host.path + "/bin/uv", "w") as handle:
        handle.write(UV_SCRIPT.format(version="0.13.9"))
    os.chmod(host.path + "/bin/uv", 0o755)
    result = run_module(uv_install.main, dict(host.args(), source="controller", controller=_controller()))
    assert not result["changed"] and not result["transfer"] and result["source"] == "present"


def test_the_transferred_binary_is_put_in_place_after_it_ran(host):
    src, digest = _transferred(host, UV_SCRIPT.format(version="0.13.9"))
    result = run_module(uv_install.main, dict(host.args(), source="controller", controller=_controller(), src=src,
                                              checksum=digest))
    assert result["changed"] and result["source"] == "controller" and result["version"] == "0.13.9"
    assert os.listdir(host.path) == ["bin"] and os.listdir(host.path + "/bin") == ["uv"]
    assert os.stat(host.path + "/bin/uv").st_mode & 0o777 == 0o755
    assert host.calls() == []  # no interpreter, no pip


def test_the_transferred_file_and_its_directory_are_removed_once_read_even_when_refused(host):
    os.makedirs(str(host.tmp / "ansible-tmp-1"))
    text = UV_SCRIPT.format(version="0.13.9")
    src = host.tmp / "ansible-tmp-1" / "uv"
    src.write_text(text)
    result = run_module(uv_install.main, dict(host.args(), controller=_controller(), src=str(src),
                                              checksum=hashlib.sha256(text.encode()).hexdigest(), remove_src=True))
    assert result["changed"] and result["src_removed"] and not os.path.exists(str(host.tmp / "ansible-tmp-1"))
    # Refused: the file is gone all the same; a directory that holds anything else stays (the action removes it).
    shutil.rmtree(host.path)
    os.makedirs(str(host.tmp / "ansible-tmp-2"))
    src = host.tmp / "ansible-tmp-2" / "uv"
    src.write_text(text)
    (host.tmp / "ansible-tmp-2" / "other").write_text("")
    result = run_module_failing(uv_install.main, dict(host.args(), controller=_controller(), src=str(src),
                                                      checksum="0" * 64, remove_src=True))
    assert "does not have the controller's SHA-256" in result["msg"]
    assert os.listdir(str(host.tmp / "ansible-tmp-2")) == ["other"]
    assert uv_install.discard(str(host.tmp / "ansible-tmp-2" / "uv")) is False
    # Without remove_src (a task of an older action), the file stays where the action put it.
    src.write_text(text)
    result = run_module(uv_install.main, dict(host.args(), controller=_controller(), src=str(src),
                                              checksum=hashlib.sha256(text.encode()).hexdigest()))
    assert "src_removed" not in result and src.exists()


def test_a_transferred_binary_with_another_checksum_is_refused(host):
    src, dummy = _transferred(host, UV_SCRIPT.format(version="0.13.9"))
    result = run_module_failing(uv_install.main, dict(host.args(), controller=_controller(), src=src, checksum="0" * 64))
    assert "does not have the controller's SHA-256" in result["msg"] and result["source"] == "none"
    assert not os.path.exists(host.path + "/bin/uv")


def test_a_transferred_binary_that_does_not_run_leaves_the_old_one(host):
    os.makedirs(host.path + "/bin")
    with open(host.path + "/bin/uv", "w") as handle:
        handle.write(UV_SCRIPT.format(version="0.12.0"))
    os.chmod(host.path + "/bin/uv", 0o755)
    src, digest = _transferred(host, "#!/bin/sh\necho 'cannot execute binary file' >&2\nexit 126\n")
    result = run_module_failing(uv_install.main, dict(host.args(), controller=_controller(), src=src, checksum=digest))
    assert "does not run on the host as uv 0.13.9: cannot execute binary file" in result["msg"]
    assert os.listdir(host.path + "/bin") == ["uv"]
    assert "0.12.0" in (host.tmp / "uv" / "bin" / "uv").read_text()


def test_controller_fails_and_auto_installs_from_the_index_when_the_platforms_differ(host):
    other = _controller(machine="riscv64")
    result = run_module_failing(uv_install.main, dict(host.args(), source="controller", controller=other))
    assert result["msg"].startswith("uv 0.13.9 cannot be copied from the controller: the controller (Linux riscv64)")
    assert result["source"] == "none" and host.calls() == []
    result = run_module(uv_install.main, dict(host.args(), source="auto", controller=other))
    assert result["source"] == "index" and result["changed"] and result["version"] == "0.13.9"
    assert "differ; installing from the package index" in result["reason"]


def test_an_index_install_replaces_a_copy_from_the_controller(host):
    src, digest = _transferred(host, UV_SCRIPT.format(version="0.12.0"))
    run_module(uv_install.main, dict(host.args("0.12.0"), controller=_controller(), src=src, checksum=digest))
    result = run_module(uv_install.main, dict(host.args(), source="index"))
    assert result["changed"] and result["source"] == "index" and result["previous_version"] == "0.12.0"
    assert result["version"] == "0.13.9"


def test_check_mode_reports_the_copy_and_changes_nothing(host):
    result = run_module(uv_install.main, dict(host.args(), controller=_controller()), check_mode=True)
    assert result["changed"] and result["transfer"] and result["source"] == "controller"
    assert not os.path.exists(host.path)


def test_a_compressed_transfer_is_decompressed_checked_and_put_in_place(host):
    import gzip
    text = UV_SCRIPT.format(version="0.13.9")
    src = host.tmp / "transferred-uv.gz"
    src.write_bytes(gzip.compress(text.encode(), compresslevel=1))
    digest = hashlib.sha256(text.encode()).hexdigest()
    result = run_module(uv_install.main, dict(host.args(), controller=_controller(), src=str(src), checksum=digest,
                                              compressed=True))
    assert result["changed"] and result["version"] == "0.13.9"
    with open(host.path + "/bin/uv", encoding="utf-8") as handle:
        assert handle.read() == text
    # The checksum is the binary's, not the compressed file's; a truncated file is refused, nothing left behind.
    shutil.rmtree(host.path)
    wrong = run_module_failing(uv_install.main, dict(host.args(), controller=_controller(), src=str(src),
                                                     checksum=hashlib.sha256(src.read_bytes()).hexdigest(),
                                                     compressed=True))
    assert "does not have the controller's SHA-256" in wrong["msg"]
    src.write_bytes(gzip.compress(text.encode())[:12])
    broken = run_module_failing(uv_install.main, dict(host.args(), controller=_controller(), src=str(src),
                                                      checksum=digest, compressed=True))
    assert "cannot be read" in broken["msg"] and not os.path.exists(host.path + "/bin/uv")
    assert os.listdir(host.path + "/bin") == []
