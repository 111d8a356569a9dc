# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""flaskops.deploy.uv_install through ansible-playbook on localhost (the controller and the host are one machine): a
controller binary of the wanted version is copied, a host that has it gets nothing transferred, a controller binary
that does not fit or does not run on the host falls back to the index (auto) or fails (controller), check mode copies
nothing (the module's steps: modules/test_uv_install_module.py)."""

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.flaskops.deploy.tests.unit.plugins.action.playbook import task_runner

UV = "#!/bin/sh\necho 'uv {version} (x86_64-unknown-linux-gnu)'\n"
# Runs on the controller (for its version), not once staged on the host: a binary for another platform.
UV_FOREIGN = ("#!/bin/sh\ncase \"$0\" in *.flaskops-new) echo 'Exec format error' >&2; exit 126;; esac\n"
              "echo 'uv 0.13.9 (aarch64-unknown-linux-gnu)'\n")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return task_runner(tmp_path_factory, "uv_install", ignore_errors=True)


def _script(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def _args(tmp_path, binary, **extra):
    # An interpreter that fails: an index install stops at once, without a network.
    python = _script(tmp_path / "no-python", "#!/bin/sh\necho 'no index here' >&2\nexit 1\n")
    return dict({"path": str(tmp_path / "uv"), "version": "0.13.9", "controller_binary": binary, "python": python},
                **extra)


def test_the_controllers_binary_is_copied_and_not_transferred_again(run, tmp_path):
    binary = _script(tmp_path / "controller-uv", UV.format(version="0.13.9"))
    proc, out = run(_args(tmp_path, binary))
    assert proc.returncode == 0 and not out.get("failed"), proc.stdout + proc.stderr
    assert out["changed"] and out["source"] == "controller" and out["version"] == "0.13.9"
    assert out["reason"] == "uv 0.13.9 at %s on the controller" % binary
    copied = tmp_path / "uv" / "bin" / "uv"
    assert copied.read_text() == UV.format(version="0.13.9") and os.access(copied, os.X_OK)
    # Another binary of the same version on the controller: the host has the version, nothing is transferred.
    _script(tmp_path / "controller-uv", UV.format(version="0.13.9") + "# another build\n")
    proc, out = run(_args(tmp_path, binary))
    assert not out["changed"] and out["source"] == "present", proc.stdout
    assert copied.read_text() == UV.format(version="0.13.9")


def test_the_transfer_cleans_up_in_the_modules_call_without_a_call_of_its_own(run, tmp_path):
    binary = _script(tmp_path / "controller-uv", UV.format(version="0.13.9"))
    for pipelining, removed in (("1", True), ("0", False)):
        # Without pipelining the module itself lies in the directory: the module leaves it, the action removes it.
        remote_tmp = tmp_path / ("remote-tmp-" + pipelining)
        shutil.rmtree(str(tmp_path / "uv"), ignore_errors=True)
        proc, out = run(_args(tmp_path, binary), env={"ANSIBLE_REMOTE_TMP": str(remote_tmp), "ANSIBLE_VERBOSITY": "3",
                                                      "ANSIBLE_PIPELINING": pipelining})
        assert proc.returncode == 0 and out["changed"] and out["src_removed"] is removed, proc.stdout + proc.stderr
        task = proc.stdout.split("TASK [flaskops.deploy.uv_install]", 1)[1].split("TASK [ansible.builtin.copy]", 1)[0]
        # Pipelined: the directory is made, the file transferred, the module called: no chmod, no rm of their own.
        assert "mkdir" in task and ("rm -f -r" in task) is not removed and ("chmod" in task) is not removed
        assert not [p for p in remote_tmp.iterdir() if p.name.startswith("ansible-tmp-")]


def test_another_version_on_the_controller_fails_with_source_controller(run, tmp_path):
    binary = _script(tmp_path / "controller-uv", UV.format(version="0.12.0"))
    proc, out = run(_args(tmp_path, binary, source="controller"))
    assert out["failed"] and out["source"] == "none"
    assert out["msg"] == "uv 0.13.9 cannot be copied from the controller: no uv 0.13.9 on the controller, found %s (0.12.0)" % (
        binary)
    assert not (tmp_path / "uv").exists()


def test_auto_goes_to_the_index_when_the_controller_has_another_version(run, tmp_path):
    binary = _script(tmp_path / "controller-uv", UV.format(version="0.12.0"))
    proc, out = run(_args(tmp_path, binary))
    # The index install ran (and failed, with no interpreter): the controller's binary was not copied.
    assert out["failed"] and out["commands"][0][:2] == [str(tmp_path / "no-python"), "-m"]
    assert not (tmp_path / "uv" / "bin" / "uv").exists()


def test_a_binary_that_does_not_run_on_the_host_fails_or_falls_back(run, tmp_path):
    binary = _script(tmp_path / "controller-uv", UV_FOREIGN)
    proc, out = run(_args(tmp_path, binary, source="controller"))
    assert out["failed"] and "does not run on the host as uv 0.13.9: Exec format error" in out["msg"]
    assert os.listdir(tmp_path / "uv" / "bin") == []
    proc, out = run(_args(tmp_path, binary))
    assert out["failed"] and out["commands"][0][0] == str(tmp_path / "no-python")
    assert out["reason"].startswith("the controller's uv does not run on the host as uv 0.13.9")
    assert out["reason"].endswith("; from the package index instead")


def test_a_missing_explicit_binary_is_named(run, tmp_path):
    proc, out = run(_args(tmp_path, str(tmp_path / "nowhere" / "uv"), source="controller"))
    assert out["failed"] and out["msg"].endswith("%s is not an executable file on the controller" % (
        tmp_path / "nowhere" / "uv"))


def test_index_does_not_look_at_the_controller(run, tmp_path):
    binary = _script(tmp_path / "controller-uv", UV.format(version="0.13.9"))
    proc, out = run(_args(tmp_path, binary, source="index"))
    assert out["failed"] and out["source"] == "none" and out["commands"][0][0] == str(tmp_path / "no-python")


def test_internal_options_are_refused(run, tmp_path):
    proc, out = run(dict(_args(tmp_path, ""), src="/tmp/uv", checksum="0"))
    assert out["failed"] and out["msg"] == "src, checksum are set by the action plugin, not by a task"
    proc, out = run(dict(_args(tmp_path, ""), compressed=True))
    assert out["failed"] and out["msg"] == "compressed are set by the action plugin, not by a task"


def test_without_probe_the_binary_goes_in_the_first_call_and_a_host_that_has_it_keeps_it(run, tmp_path):
    binary = _script(tmp_path / "controller-uv", UV.format(version="0.13.9"))
    proc, out = run(_args(tmp_path, binary, probe=False))
    assert proc.returncode == 0 and not out.get("failed"), proc.stdout + proc.stderr
    assert out["changed"] and out["source"] == "controller" and out["version"] == "0.13.9"
    copied = tmp_path / "uv" / "bin" / "uv"
    assert copied.read_text() == UV.format(version="0.13.9")
    # The host has the version: transferred without a probe (source controller, not present), and kept as it is.
    _script(tmp_path / "controller-uv", UV.format(version="0.13.9") + "# another build\n")
    proc, out = run(_args(tmp_path, binary, probe=False))
    assert not out["changed"] and out["source"] == "controller" and out["version"] == "0.13.9", proc.stdout
    assert copied.read_text() == UV.format(version="0.13.9")
    # With the probe (the default), the host is asked first and nothing is transferred.
    proc, out = run(_args(tmp_path, binary))
    assert not out["changed"] and out["source"] == "present"


def test_without_probe_a_binary_that_does_not_run_fails_or_falls_back_the_same_way(run, tmp_path):
    binary = _script(tmp_path / "controller-uv", UV_FOREIGN)
    proc, out = run(_args(tmp_path, binary, source="controller", probe=False))
    assert out["failed"] and "does not run on the host as uv 0.13.9: Exec format error" in out["msg"]
    proc, out = run(_args(tmp_path, binary, probe=False))
    assert out["failed"] and out["commands"][0][0] == str(tmp_path / "no-python")


@pytest.mark.parametrize("args, facts, check_mode, expected", [
    ({"probe": False}, {}, False, True),
    ({"probe": False}, {"system": "Linux", "machine": "x86_64"}, False, True),
    ({"probe": "no"}, {}, False, True),
    ({}, {}, False, False),
    ({"probe": True}, {}, False, False),
    ({"probe": False}, {}, True, False),
    ({"probe": False}, {"system": "Linux", "machine": "aarch64"}, False, False),
    ({"probe": False}, {"system": "Darwin"}, False, False),
    ({"probe": False, "controller": {"binary": "", "system": "Linux", "machine": "x86_64"}}, {}, False, False),
])
def test_the_binary_goes_at_once_only_without_probe_outside_check_mode_to_the_controllers_platform(
        args, facts, check_mode, expected):
    from ansible_collections.flaskops.deploy.plugins.action import uv_install as action
    args = dict({"controller": {"binary": "/usr/bin/uv", "system": "Linux", "machine": "x86_64"}}, **args)
    assert action.transfer_at_once(args, facts, check_mode) is expected


def test_check_mode_reports_the_copy_and_transfers_nothing(run, tmp_path):
    binary = _script(tmp_path / "controller-uv", UV.format(version="0.13.9"))
    proc, out = run(_args(tmp_path, binary), check_mode=True)
    assert out["changed"] and out["source"] == "controller"
    assert out["msg"] == "uv 0.13.9 would be copied from %s on the controller" % binary
    assert not (tmp_path / "uv").exists()


def test_the_compressed_copy_is_made_once_and_decompresses_to_the_binary(tmp_path):
    import gzip
    from ansible_collections.flaskops.deploy.plugins.action import uv_install as action
    binary = tmp_path / "uv"
    binary.write_bytes(b"\x7fELF" + os.urandom(4096) + b"\0" * 65536)
    digest = action.sha256(str(binary))
    packed = action.compressed_copy(str(binary), digest, str(tmp_path))
    assert gzip.decompress(open(packed, "rb").read()) == binary.read_bytes()
    assert os.path.getsize(packed) < binary.stat().st_size
    made = os.stat(packed).st_mtime_ns
    assert action.compressed_copy(str(binary), digest, str(tmp_path)) == packed
    assert os.stat(packed).st_mtime_ns == made and sorted(os.listdir(tmp_path)) == ["uv", os.path.basename(packed)]


def test_the_compressed_copy_is_cached_on_the_controller_or_made_in_the_runs_temporary_directory(tmp_path, monkeypatch):
    from ansible_collections.flaskops.deploy.plugins.action import uv_install as action
    binary = tmp_path / "uv"
    binary.write_bytes(b"\x7fELF" + b"\0" * 4096)
    digest = action.sha256(str(binary))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    packed = action.compressed_copy(str(binary), digest)
    assert packed == str(tmp_path / "cache" / "flaskops" / "uv" / ("uv-%s.gz" % digest[:32]))
    assert oct(os.stat(tmp_path / "cache" / "flaskops" / "uv").st_mode & 0o777) == "0o700"
    # A cache that cannot be written (a file where the directory would be): the run's temporary directory.
    (tmp_path / "blocked").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "blocked"))
    monkeypatch.setattr(action.C, "DEFAULT_LOCAL_TMP", str(tmp_path / "run-tmp"))
    assert action.compressed_copy(str(binary), digest) == str(tmp_path / "run-tmp" / ("uv-%s.gz" % digest[:32]))
