# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""flaskops.deploy.app_inputs through ansible-playbook: what the app role gets back, every problem at once naming the
variables and never a secret, the source on the controller only when asked, check mode (the checks themselves:
module_utils/test_app_inputs.py)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile

import pytest

from ansible_collections.flaskops.deploy.tests.unit.plugins.action.playbook import REPO, task_runner

HELLO_APP = REPO / "examples" / "hello_app"
STRONG = "Zq3vN8xK1pL6tR0wB5yH2mJ7cF4gD9sA-never-printed"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return task_runner(tmp_path_factory, "app_inputs", ignore_errors=True)


def test_good_inputs_pass_with_the_source_checked_in_check_mode(run):
    proc, out = run({"app_name": "hello", "app_source_path": str(HELLO_APP),
                     "app_secrets": {"FLASK_SECRET_KEY": STRONG, "DATABASE_URL": "sqlite:///x"}}, check_mode=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["failed"] is False and out["changed"] is False and out["problems"] == []
    assert out["secrets_checked"] == ["FLASK_SECRET_KEY"] and out["secrets_allowed"] == []
    assert out["source_checked"] is True and out["calendars_checked"] is False
    assert out["msg"] == ("the inputs of the app role hello are valid (1 secret(s) of app_secrets checked, "
                          "app_source_path checked on the controller)")
    assert STRONG not in proc.stdout + proc.stderr + json.dumps(out)


def test_every_problem_at_once_naming_the_variables_never_a_value(run, tmp_path):
    token = "ghp_0123456789abcdefNOTREAL"
    weak = "your-secret-key-for-hello-app"
    source = tmp_path / "src"
    shutil.copytree(HELLO_APP, source, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "tests"))
    (source / "wsgi.py").rename(source / "web.py")
    proc, out = run({
        "app_name": "Hello",
        "app_root": "/srv/hello",
        "app_source_path": str(source),
        "app_git_repo": "https://deploy:%s@git.example.org/a/b.git" % token,
        "app_keep_releases": 1,
        "app_secrets": {"FLASK_SECRET_KEY": weak, "BAD-NAME": STRONG},
        "app_shared_files": [{"path": "instance/config.py", "content": weak, "secret": True, "mode": "0644"}],
        "app_switch": "haproxy",
    })
    assert proc.returncode == 0, proc.stdout + proc.stderr  # ignore_errors: the play goes on to record the result
    assert out["failed"] is True and out["changed"] is False
    starts = ["app_name must match ^[a-z][a-z0-9_-]*$ (got 'Hello')",
              "app_git_repo holds a password or token (https://user:secret@...): git would show it on its command line "
              "and keep it in /srv/hello/repo.git/config.",
              "app_keep_releases must be at least 2 (the live release and one to roll back to), got 1",
              "app_env and app_secrets keys must be environment variable names ([A-Za-z_][A-Za-z0-9_]*), got "
              "BAD-NAME (app_secrets)",
              "app_shared_files: a file with secret true must not be accessible to other users (mode like 0640 or "
              "0600), got instance/config.py with modes 0644",
              "app_secrets.FLASK_SECRET_KEY is a well-known placeholder.",
              "app_switch must be auto, nginx or none (got 'haproxy')",
              "app_wsgi is 'wsgi:app' but %s (app_source_path) has neither wsgi.py nor wsgi/__init__.py." % source]
    assert len(out["problems"]) == len(starts), out["problems"]
    for problem, start in zip(out["problems"], starts):
        assert problem.startswith(start), (problem, start)
    assert out["msg"] == " | ".join(out["problems"])
    everything = proc.stdout + proc.stderr + json.dumps(out)
    assert token not in everything and weak not in everything and STRONG not in everything


def test_the_source_is_checked_only_when_asked(run, tmp_path):
    missing = str(tmp_path / "no-such-source")
    proc, out = run({"app_name": "hello", "app_source_path": missing, "check_source": False})
    assert out["failed"] is False and out["source_checked"] is False, out
    proc, out = run({"app_name": "hello", "app_source_path": missing})
    assert out["problems"] == ["app_source_path is '%s' but it does not exist on the controller" % missing]
    proc, out = run({"app_name": "hello", "app_source_type": "git", "app_git_repo": "git@git.example.org:a/b.git",
                     "app_git_version": "v1"})
    assert out["failed"] is False and out["source_checked"] is False, out


def test_a_relative_archive_is_found_where_unarchive_looks(run):
    def prepare(work):
        (work / "files").mkdir()
        with tarfile.open(work / "files" / "hello.tar.gz", "w:gz") as archive:
            archive.add(str(HELLO_APP), arcname="hello")

    proc, out = run({"app_name": "hello", "app_source_type": "archive", "app_source_archive": "hello.tar.gz"},
                    prepare=prepare)
    assert out["source_checked"] is True, out
    assert len(out["problems"]) == 2, out["problems"]
    assert all("hello.tar.gz (app_source_archive)" in problem and "Every file of the archive is under hello/" in problem
               for problem in out["problems"])


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="the controller has no systemd-analyze")
def test_timers_are_read_by_systemd_on_the_controller(run):
    timers = [{"name": "report", "command": "flask --app hello_app report", "on_calendar": "*-*-* 03:00:00"},
              {"name": "never", "command": "true", "on_calendar": "sometimes"}]
    proc, out = run({"app_name": "hello", "app_source_type": "git", "app_git_repo": "git@host:a/b.git",
                     "app_git_version": "v1", "app_timers": timers, "app_processes": [{"name": "report", "command": "x"}]})
    assert out["calendars_checked"] is True, out
    assert out["problems"][0].startswith("app_timers[0] (report): the name report is used by app_processes[0]")
    assert out["problems"][1].startswith("app_timers[1] (never).on_calendar: systemd does not read 'sometimes': ")
    assert len(out["problems"]) == 2, out["problems"]


def test_a_bad_item_is_refused_by_the_argument_spec_naming_the_variable(run):
    proc, out = run({"app_name": "hello", "app_source_path": str(HELLO_APP),
                     "app_processes": [{"name": "worker", "command": "x", "stop_signal": "SIGKILL"}]})
    assert out["failed"] is True
    assert "app_processes" in out["msg"] and "stop_signal" in out["msg"], out["msg"]


def test_the_app_variables_the_task_does_not_pass_are_read_templated_and_a_passed_option_wins(run):
    """The app role's tasks/validate.yml passes no app_* option: the action reads the variables of the same name."""
    proc, out = run({"check_source": False, "app_keep_releases": 3}, play_vars={
        "app_name": "Hello",
        "__base": "/srv",
        "app_root": "{{ __base }}/hello",
        "app_git_repo": "https://deploy:ghp_0123456789abcdefNOTREAL@git.example.org/a/b.git",
        "app_keep_releases": 1,
        "app_secrets": {"FLASK_SECRET_KEY": STRONG},
    })
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["failed"] is True
    # app_name and app_root (templated) come from the play; app_keep_releases=1 does not, the task's 3 wins.
    for problem in ["app_name must match ^[a-z][a-z0-9_-]*$ (got 'Hello')",
                    "app_git_repo holds a password or token (https://user:secret@...): git would show it on its command "
                    "line and keep it in /srv/hello/repo.git/config."]:
        assert any(found.startswith(problem) for found in out["problems"]), problem
    assert not any("app_keep_releases" in problem for problem in out["problems"])
    assert out["secrets_checked"] == ["FLASK_SECRET_KEY"]
    assert "NOTREAL" not in proc.stdout + proc.stderr + json.dumps(out) and STRONG not in json.dumps(out)


def test_every_app_option_is_a_variable_the_app_role_declares():
    """The options the action reads from the role's variables are inputs of the app role's argument spec."""
    import yaml

    from ansible_collections.flaskops.deploy.plugins.action.app_inputs import ActionModule

    specs = yaml.safe_load((REPO / "roles" / "app" / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    declared = set(specs["argument_specs"]["main"]["options"])
    options = {name for name in ActionModule.ARGUMENT_SPEC if name.startswith("app_")}
    assert options and options <= declared, sorted(options - declared)


def test_the_host_reads_the_calendars_only_when_the_controller_could_not_and_nothing_else_failed():
    from ansible_collections.flaskops.deploy.plugins.action.app_inputs import host_calendar_check

    timers = [{"name": "report", "command": "true", "on_calendar": "daily"}]
    args = {"app_name": "hello", "app_processes": [], "app_timers": timers}
    assert host_calendar_check(args, [], calendars_checked=False) == {
        "action": "validate", "app_name": "hello", "processes": [], "timers": timers}
    assert host_calendar_check(args, [], calendars_checked=True) is None
    assert host_calendar_check(args, ["app_name must match ..."], calendars_checked=False) is None
    assert host_calendar_check(dict(args, app_timers=[]), [], calendars_checked=False) is None


def test_without_systemd_analyze_on_the_controller_systemd_on_the_host_reads_the_calendars(run, tmp_path):
    """The controller's PATH has no systemd-analyze; the host's (the module's environment) has one that refuses
    'sometimes': the task reports that problem, found on the host, before anything changes."""
    host_bin = tmp_path / "host-bin"
    host_bin.mkdir()
    analyze = host_bin / "systemd-analyze"
    analyze.write_text('#!/bin/sh\n[ "$3" = sometimes ] && { echo "Failed to parse calendar specification" >&2; exit 1; }\n'
                       'exit 0\n')
    analyze.chmod(0o755)
    timers = [{"name": "report", "command": "true", "on_calendar": "*-*-* 03:00:00"},
              {"name": "never", "command": "true", "on_calendar": "sometimes"}]
    args = {"app_name": "hello", "app_source_type": "git", "app_git_repo": "git@host:a/b.git", "app_git_version": "v1",
            "app_timers": timers}
    # The controller's commands but systemd-analyze.
    controller_bin = tmp_path / "controller-bin"
    controller_bin.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        for name in os.listdir(directory) if os.path.isdir(directory) else []:
            if name != "systemd-analyze" and not (controller_bin / name).exists():
                (controller_bin / name).symlink_to(os.path.join(directory, name))
    controller_path = {"PATH": "%s:%s" % (os.path.dirname(sys.executable), controller_bin)}
    host_path = {"environment": {"PATH": "%s:/usr/bin:/bin" % host_bin}}

    proc, out = run(args, keywords=host_path, env=controller_path)
    assert out is not None, proc.stdout + proc.stderr
    assert out["calendars_checked"] is False and out["calendars_checked_on_host"] is True, proc.stdout + proc.stderr
    assert out["failed"] is True and len(out["problems"]) == 1, out
    assert "sometimes" in out["problems"][0] and "Failed to parse calendar specification" in out["problems"][0]

    timers.pop()
    proc, out = run(args, keywords=host_path, env=controller_path)
    assert out["failed"] is False and out["calendars_checked_on_host"] is True, out
