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

from ansible_collections.flaskops.deploy.tests.unit.plugins.action.playbook import REPO, task_runner

MIGRATE_APP = REPO / "tests" / "apps" / "migrate"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return task_runner(tmp_path_factory, "release_build", ignore_errors=True)


def _release(tmp_path):
    release = tmp_path / "releases" / "r1"
    release.mkdir(parents=True)
    return str(release)


def test_a_directory_is_packed_on_the_controller_and_unpacked_into_the_release(run, tmp_path):
    release = _release(tmp_path)
    proc, out = run({"state": "unpack", "release_dir": release, "src": str(MIGRATE_APP),
                     "links": [{"path": "instance", "target": "instance"}], "shared_dir": str(tmp_path / "shared")})
    assert proc.returncode == 0 and not out.get("failed"), proc.stdout + proc.stderr
    assert out["msg"] == "%d files of %s unpacked into %s" % (out["files"], MIGRATE_APP, release)
    assert sorted(os.listdir(release)) == sorted(["instance"] + [n for n in os.listdir(MIGRATE_APP)
                                                                 if not n.startswith(".") and n != "__pycache__"])
    assert os.readlink(os.path.join(release, "instance")) == str(tmp_path / "shared" / "instance")


def test_an_archive_next_to_the_playbook_is_found_and_transferred(run, tmp_path):
    release = _release(tmp_path)

    def prepare(work):
        with tarfile.open(str(work / "app.tar.gz"), "w:gz") as archive:
            archive.add(str(MIGRATE_APP / "requirements.txt"), arcname="requirements.txt")

    proc, out = run({"state": "unpack", "release_dir": release, "src": "app.tar.gz", "source_type": "archive"},
                    prepare=prepare)
    assert proc.returncode == 0 and not out.get("failed"), proc.stdout + proc.stderr
    assert os.listdir(release) == ["requirements.txt"]


def test_a_missing_source_fails_naming_it(run, tmp_path):
    proc, out = run({"state": "unpack", "release_dir": _release(tmp_path), "src": "/no/such/app",
                     "source_type": "archive"})
    assert out["failed"] and out["msg"] == "/no/such/app does not exist on the controller"


def test_check_mode_transfers_and_unpacks_nothing(run, tmp_path):
    release = _release(tmp_path)
    proc, out = run({"state": "unpack", "release_dir": release, "src": str(MIGRATE_APP)}, check_mode=True)
    assert out["changed"] and "would be unpacked" in out["msg"]
    assert os.listdir(release) == []
