# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""flaskops.deploy.release_build's unpack through ansible-playbook: a directory packed on the controller and an archive
transferred into the release, found the way the input checks find them, nothing done in check mode (the module's
steps: modules/test_release_build_module.py)."""

from __future__ import annotations

import os
import tarfile

import pytest

from ansible_collections.flaskops.deploy.tests.unit.plugins.action.playbook import task_runner


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A small application directory on the controller, with what packing leaves out (bytecode, hidden entries)."""
    root = tmp_path_factory.mktemp("source")
    for path, text in {"wsgi.py": "from app import app\n", "requirements.txt": "flask\n", "app/__init__.py": "app = 1\n",
                       "app/__pycache__/x.pyc": "", ".env": "SECRET=dev\n"}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return task_runner(tmp_path_factory, "release_build", ignore_errors=True)


def _release(tmp_path):
    release = tmp_path / "releases" / "r1"
    release.mkdir(parents=True)
    return str(release)


def test_a_directory_is_packed_on_the_controller_and_unpacked_into_the_release(run, source, tmp_path):
    release = _release(tmp_path)
    proc, out = run({"state": "unpack", "release_dir": release, "src": str(source),
                     "links": [{"path": "instance", "target": "instance"}], "shared_dir": str(tmp_path / "shared")})
    assert proc.returncode == 0 and not out.get("failed"), proc.stdout + proc.stderr
    assert out["msg"] == "4 files of %s unpacked into %s" % (source, release)
    assert sorted(os.listdir(release)) == ["app", "instance", "requirements.txt", "wsgi.py"]
    assert os.listdir(os.path.join(release, "app")) == ["__init__.py"]
    assert os.readlink(os.path.join(release, "instance")) == str(tmp_path / "shared" / "instance")


def test_an_archive_next_to_the_playbook_is_found_and_transferred(run, source, tmp_path):
    release = _release(tmp_path)

    def prepare(work):
        with tarfile.open(str(work / "app.tar.gz"), "w:gz") as archive:
            archive.add(str(source / "requirements.txt"), arcname="requirements.txt")

    proc, out = run({"state": "unpack", "release_dir": release, "src": "app.tar.gz", "source_type": "archive"},
                    prepare=prepare)
    assert proc.returncode == 0 and not out.get("failed"), proc.stdout + proc.stderr
    assert os.listdir(release) == ["requirements.txt"]


def test_a_missing_source_fails_naming_it(run, tmp_path):
    proc, out = run({"state": "unpack", "release_dir": _release(tmp_path), "src": "/no/such/app",
                     "source_type": "archive"})
    assert out["failed"] and out["msg"] == "/no/such/app does not exist on the controller"


def test_check_mode_transfers_and_unpacks_nothing(run, source, tmp_path):
    release = _release(tmp_path)
    proc, out = run({"state": "unpack", "release_dir": release, "src": str(source)}, check_mode=True)
    assert out["changed"] and "would be unpacked" in out["msg"]
    assert os.listdir(release) == []


def test_a_built_release_is_neither_packed_nor_transferred_again(run, tmp_path):
    release = _release(tmp_path)
    (tmp_path / "releases" / "r1" / ".flaskops-built").write_text("{}")
    # The source does not exist: a transfer would fail; the host says the release is built, so none is tried.
    proc, out = run({"state": "unpack", "release_dir": release, "src": "/no/such/app", "source_type": "archive"})
    assert proc.returncode == 0 and not out.get("failed"), proc.stdout + proc.stderr
    assert out["build"] is False and out["prepare"] is True and out["changed"] is False
    assert out["msg"] == "release %s is built already" % release
    assert os.listdir(release) == [".flaskops-built"]


def transferred(output):
    """The source archives put on the host as files (-vvv prints each PUT)."""
    return [line for line in output.splitlines() if " PUT " in line and line.rstrip().endswith("/source.archive")]


def test_a_small_source_goes_inside_the_arguments_a_big_one_as_a_file(run, source, tmp_path, monkeypatch):
    """One call to the host for a small source (no file transferred, no temporary directory); a source above the limit
    is transferred as a file once the host said the release has to be built. Either way the same release results."""
    monkeypatch.setenv("ANSIBLE_VERBOSITY", "3")
    small = _release(tmp_path)
    proc, out = run({"state": "unpack", "release_dir": small, "src": str(source)})
    assert proc.returncode == 0 and not out.get("failed"), proc.stdout + proc.stderr
    assert out["msg"] == "4 files of %s unpacked into %s" % (source, small)
    assert not transferred(proc.stdout), "a small source is not transferred as a file"
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in proc.stdout or "src_content" not in proc.stdout

    big_source = tmp_path / "big"
    big_source.mkdir()
    (big_source / "wsgi.py").write_text("app = None\n")
    (big_source / "data.bin").write_bytes(os.urandom(5 << 20))  # above the 4 MiB of files that go inline
    big = str(tmp_path / "releases" / "r2")
    os.makedirs(big)
    proc, out = run({"state": "unpack", "release_dir": big, "src": str(big_source)})
    assert proc.returncode == 0 and not out.get("failed"), proc.stdout[-3000:]
    assert out["msg"] == "2 files of %s unpacked into %s" % (big_source, big)
    assert transferred(proc.stdout), "a big source is transferred as a file"
    assert os.path.getsize(os.path.join(big, "data.bin")) == 5 << 20


def test_a_transferred_source_leaves_no_temporary_directory_and_needs_no_chmod(run, tmp_path):
    big_source = tmp_path / "big"
    big_source.mkdir()
    (big_source / "wsgi.py").write_text("app = None\n")
    (big_source / "data.bin").write_bytes(os.urandom(5 << 20))
    for pipelining in ("1", "0"):
        remote_tmp = tmp_path / ("remote-tmp-" + pipelining)
        release = str(tmp_path / "releases" / ("p" + pipelining))
        os.makedirs(release)
        proc, out = run({"state": "unpack", "release_dir": release, "src": str(big_source)},
                        env={"ANSIBLE_REMOTE_TMP": str(remote_tmp), "ANSIBLE_VERBOSITY": "3",
                             "ANSIBLE_PIPELINING": pipelining})
        assert proc.returncode == 0 and not out.get("failed"), proc.stdout[-3000:]
        assert transferred(proc.stdout) and os.path.getsize(os.path.join(release, "data.bin")) == 5 << 20
        # Without pipelining the plan's call made a directory: the archive went into it, and none is left behind.
        assert not [p for p in remote_tmp.iterdir() if p.name.startswith("ansible-tmp-")], pipelining
        task = proc.stdout.split("TASK [flaskops.deploy.release_build]", 1)[1].split("TASK [ansible.builtin.copy]", 1)[0]
        assert (task.count("umask 77") == 1) and (("chmod" in task) is (pipelining == "0")), task[-3000:]


def test_the_source_type_of_the_layout_is_the_one_unpacked(run, source, tmp_path):
    """The app role gives source_type in its layout: an archive named there is unpacked as an archive (the action
    plugin decides on the value the module sees)."""
    release = _release(tmp_path)

    def prepare(work):
        with tarfile.open(str(work / "app.tar.gz"), "w:gz") as archive:
            archive.add(str(source / "wsgi.py"), arcname="wsgi.py")

    proc, out = run({"state": "unpack", "release_dir": release, "src": "app.tar.gz",
                     "layout": {"source_type": "archive"}}, prepare=prepare)
    assert proc.returncode == 0 and not out.get("failed"), proc.stdout + proc.stderr
    assert os.listdir(release) == ["wsgi.py"]
