# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the app role's input checks (module_utils/_app_inputs.py, behind flaskops.deploy.app_inputs): each check
with an input it accepts and one it refuses, the messages naming the variable, and never a secret's value."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _app_inputs as ai

STRONG = "Zq3vN8xK1pL6tR0wB5yH2mJ7cF4gD9sA"  # 32 random characters


def inputs(**extra: t.Any) -> dict[str, t.Any]:
    """The role's defaults, with a source directory and a strong secret key."""
    base = {
        "app_name": "hello",
        "app_root": "/srv/hello",
        "app_source_type": "path",
        "app_source_path": "/src/hello",
        "app_source_archive": "",
        "app_git_repo": "",
        "app_git_version": "",
        "app_keep_releases": 5,
        "app_env": {"FLASK_DEBUG": "0"},
        "app_secrets": {"FLASK_SECRET_KEY": STRONG},
        "app_secrets_allow_weak": [],
        "app_shared_files": [],
        "app_slot_listen": "unix",
        "app_slot_tcp_ports": {"blue": 8001, "green": 8002},
        "app_socket_mode": "0660",
        "app_switch": "auto",
        "app_health_path": "/health",
        "app_processes": [],
        "app_timers": [],
    }
    base.update(extra)
    return base


# --- each check: accepted, refused -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["hello", "a", "shop-api_2"])
def test_name_accepted(name: str) -> None:
    assert ai.check_name(name) == []


@pytest.mark.parametrize("name", ["Hello", "2shop", "my app", "", "hello\n", None])
def test_name_refused(name: t.Any) -> None:
    assert ai.check_name(name) == ["app_name must match ^[a-z][a-z0-9_-]*$ (got '%s')" % name]


@pytest.mark.parametrize("settings", [
    ("path", "/src/hello", "", "", ""),
    ("archive", "", "dist/hello.tar.gz", "", ""),
    ("git", "", "", "git@git.example.org:a/b.git", "v1"),
    ("git", "/src/ignored", "", "git@git.example.org:a/b.git", "main"),
])
def test_source_settings_accepted(settings: tuple) -> None:
    assert ai.check_source_settings(*settings) == []


@pytest.mark.parametrize("settings, variable", [
    (("path", "", "dist/hello.tar.gz", "", ""), "app_source_path"),
    (("archive", "/src/hello", "", "", ""), "app_source_archive"),
    (("git", "", "", "git@git.example.org:a/b.git", ""), "app_git_repo and app_git_version"),
    (("git", "", "", "", "v1"), "app_git_repo and app_git_version"),
])
def test_source_settings_refused(settings: tuple, variable: str) -> None:
    assert ai.check_source_settings(*settings) == [
        "app_source_type is '%s' but its source is not set: set %s" % (settings[0], variable)
    ]


@pytest.mark.parametrize("repo", ["", "git@git.example.org:a/b.git", "https://git.example.org/a/b.git",
                                  "https://deploy@git.example.org/a/b.git", "ssh://git@host:2222/a/b.git",
                                  "/srv/git/hello.git"])
def test_git_url_without_credentials_accepted(repo: str) -> None:
    assert ai.check_git_credentials(repo, "/srv/hello") == []


@pytest.mark.parametrize("repo", ["https://deploy:ghp_0123456789abcdefNOTREAL@git.example.org/a/b.git",
                                  "http://:Tk9-NOT-REAL@git.example.org/a/b.git", "git+https://u:Pw7-NOT-REAL@host/x.git"])
def test_git_url_with_credentials_refused_without_quoting_it(repo: str) -> None:
    problems = ai.check_git_credentials(repo, "/srv/hello/")
    assert problems == [
        "app_git_repo holds a password or token (https://user:secret@...): git would show it on its command line and "
        "keep it in /srv/hello/repo.git/config. Use an SSH deploy key (git@host:org/repo.git) or a credential helper."
    ]
    secret = repo.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert secret not in problems[0]


@pytest.mark.parametrize("keep", [2, 5, "3"])
def test_keep_releases_accepted(keep: t.Any) -> None:
    assert ai.check_keep_releases(keep) == []


@pytest.mark.parametrize("keep", [1, 0, -4, "one"])
def test_keep_releases_refused(keep: t.Any) -> None:
    assert ai.check_keep_releases(keep) == [
        "app_keep_releases must be at least 2 (the live release and one to roll back to), got %s" % keep
    ]


def test_env_names_accepted() -> None:
    assert ai.check_env_names({"FLASK_DEBUG": "0", "_X": "1", "lower_case9": ""}, {"SECRET_KEY": "v"}) == []
    assert ai.check_env_names(None, None) == []


def test_env_names_refused_by_name_only() -> None:
    problems = ai.check_env_names({"BAD-NAME": "x", "OK": "1"}, {"9LIVES": "hidden-value", 7: "v"})
    assert problems == [
        "app_env and app_secrets keys must be environment variable names ([A-Za-z_][A-Za-z0-9_]*), got "
        "BAD-NAME (app_env), 7 (app_secrets), 9LIVES (app_secrets)"
    ]
    assert "hidden-value" not in problems[0]


@pytest.mark.parametrize("files", [
    [],
    [{"path": "instance/config.py", "content": "SECRET_KEY = 'x'", "secret": True, "mode": "0600"}],
    [{"path": "instance/config.py", "secret": True}],  # the default mode, 0640
    [{"path": "instance/config.py", "secret": True, "mode": "640"}],
    [{"path": "public.txt", "content": "hello", "mode": "0644"}, {"path": "b.txt", "secret": False, "mode": "0666"}],
])
def test_secret_file_modes_accepted(files: list) -> None:
    assert ai.check_secret_file_modes(files) == []


def test_secret_file_modes_refused_naming_the_files_never_the_content() -> None:
    files = [{"path": "instance/config.py", "content": "SECRET_KEY = 'x'", "secret": True, "mode": "0644"},
             {"path": "instance/public.txt", "content": "hello", "mode": "0644"},
             {"path": "instance/ok.py", "secret": True, "mode": "0600"},
             {"path": "instance/token", "secret": "yes", "mode": "0604"}]
    problems = ai.check_secret_file_modes(files)
    assert problems == [
        "app_shared_files: a file with secret true must not be accessible to other users (mode like 0640 or 0600), got "
        "instance/config.py, instance/token with modes 0644, 0604"
    ]
    assert "SECRET_KEY" not in problems[0]


@pytest.mark.parametrize("files", [
    [],
    [{"path": "instance/config.py", "content": "SECRET_KEY = 'x'", "secret": True}],
    [{"path": "a/b/c.txt", "template": "c.txt.j2"}, {"path": "b..txt", "src": "b.txt"}],
])
def test_shared_files_accepted(files: list) -> None:
    assert ai.check_shared_files(files) == []


def test_shared_files_refused_one_message_per_item_never_the_content() -> None:
    files = [{"path": "/etc/passwd", "content": "hidden-value"},
             {"path": "instance/../../x", "src": "x"},
             {"path": "ok.txt", "content": "hidden-value"},
             {"path": "two.txt", "content": "hidden-value", "template": "two.j2"},
             {"path": "none.txt"},
             {"content": "hidden-value"}]
    problems = ai.check_shared_files(files)
    got = ["got path '/etc/passwd' with content", "got path 'instance/../../x' with src",
           "got path 'two.txt' with content, template", "got path 'none.txt' with none of them", "got path '' with content"]
    assert [problem.split("; ")[1] for problem in problems] == got
    assert problems[0].startswith("app_shared_files[0]: each item needs a path relative to app_root/shared (no '..') "
                                  "and exactly one of content, template or src")
    assert [problem.split(":")[0] for problem in problems] == ["app_shared_files[%d]" % i for i in (0, 1, 3, 4, 5)]
    assert "hidden-value" not in " ".join(problems)


@pytest.mark.parametrize("listen, ports", [
    ("unix", {"blue": 8001, "green": 8002}),
    ("unix", {}),
    ("tcp", {"blue": 8001, "green": 8002}),
    ("tcp", {"blue": "9001", "green": "9002"}),
])
def test_slots_accepted(listen: str, ports: dict) -> None:
    assert ai.check_slots(listen, ports) == []


@pytest.mark.parametrize("listen, ports", [
    ("udp", {"blue": 8001, "green": 8002}),
    ("tcp", {"blue": 8001, "green": 8001}),
    ("tcp", {"blue": 8001}),
    ("tcp", {"blue": 0, "green": 8002}),
    ("tcp", {"blue": "x", "green": 8002}),
])
def test_slots_refused(listen: str, ports: dict) -> None:
    assert ai.check_slots(listen, ports) == [
        "app_slot_listen must be unix or tcp, and with tcp app_slot_tcp_ports needs two different ports for blue and "
        "green (got %s, %s)" % (listen, ports)
    ]


@pytest.mark.parametrize("mode", ["0660", "660", "0600", "0777"])
def test_socket_mode_accepted(mode: str) -> None:
    assert ai.check_socket_mode(mode) == []


@pytest.mark.parametrize("mode", ["0680", "rw-rw----", "06600", "", "u=rw,g=rw"])
def test_socket_mode_refused(mode: str) -> None:
    assert ai.check_socket_mode(mode) == ["app_socket_mode must be an octal mode string such as \"0660\", got '%s'" % mode]


@pytest.mark.parametrize("switch", ["auto", "nginx", "none"])
def test_switch_accepted(switch: str) -> None:
    assert ai.check_switch(switch, "/health") == []


def test_switch_and_health_path_refused_each_by_name() -> None:
    assert ai.check_switch("haproxy", "/health") == ["app_switch must be auto, nginx or none (got 'haproxy')"]
    assert ai.check_switch("auto", "health") == ["app_health_path must start with / (got 'health')"]
    assert len(ai.check_switch("haproxy", "")) == 2


WORKER = {"name": "worker", "command": "python -m hello_app.worker", "instances": 2, "stop_signal": "SIGTERM",
          "stop_timeout": 30, "writable_paths": []}
REPORT = {"name": "report", "command": "flask --app hello_app report", "on_calendar": "*-*-* 03:00:00",
          "randomized_delay": 0, "persistent": True, "timeout": 0, "writable_paths": [], "on_failure": ""}


def test_processes_accepted_and_none_checked_when_there_are_none() -> None:
    def read(expression: str) -> str | None:
        raise AssertionError("no timer, nothing to ask systemd")

    assert ai.check_processes("hello", [], [], read) == []
    assert ai.check_processes("hello", [WORKER], [REPORT]) == []
    assert ai.check_processes("hello", [WORKER], [REPORT], lambda expression: None) == []


def test_processes_refused_naming_the_item() -> None:
    problems = ai.check_processes("hello", [dict(WORKER, instances=-1)], [dict(REPORT, name="worker")])
    assert problems == [
        "app_processes[0] (worker).instances must be 0 or more",
        "app_timers[0] (worker): the name worker is used by app_processes[0] already; names are unique over "
        "app_processes and app_timers",
    ]


def test_a_calendar_systemd_does_not_read_is_refused() -> None:
    problems = ai.check_processes("hello", [], [dict(REPORT, on_calendar="sometimes")],
                                  lambda expression: "Failed to parse calendar specification '%s'" % expression)
    assert problems == ["app_timers[0] (report).on_calendar: systemd does not read 'sometimes': Failed to parse "
                        "calendar specification 'sometimes'"]


@pytest.mark.parametrize("value", [1, 1.9, "1", "1.0", True])
def test_to_int_reads_like_the_int_filter(value: t.Any) -> None:
    assert ai.to_int(value) == 1


def test_to_int_of_what_is_no_number() -> None:
    assert ai.to_int("x") == 0 and ai.to_int(None) == 0 and ai.to_int([], 7) == 7


# --- all of them ------------------------------------------------------------------------------------------------

def test_check_of_good_inputs() -> None:
    report = ai.check(inputs())
    assert report.problems == []
    assert report.secrets_checked == ["FLASK_SECRET_KEY"] and report.secrets_allowed == []


def test_check_of_the_role_defaults_needs_only_a_name_and_a_source() -> None:
    assert ai.check({"app_name": "hello", "app_source_path": "/src"}).problems == []


def test_check_reports_every_problem_in_order_and_never_a_secret_value() -> None:
    weak = "your-secret-key-for-hello-app"
    report = ai.check(inputs(
        app_name="Hello",
        app_source_path="",
        app_git_repo="https://deploy:tok3n-NOT-REAL@git.example.org/a/b.git",
        app_keep_releases=1,
        app_env={"BAD-NAME": "x"},
        app_secrets={"FLASK_SECRET_KEY": weak, "MAIL_PASSWORD": "hunter2"},
        app_secrets_allow_weak=["MAIL_PASSWORD"],
        app_shared_files=[{"path": "instance/config.py", "content": weak, "secret": True, "mode": "0644"}],
        app_slot_listen="tcp",
        app_slot_tcp_ports={"blue": 8001, "green": 8001},
        app_socket_mode="0680",
        app_switch="haproxy",
        app_health_path="health",
        app_processes=[dict(WORKER, name="Worker")],
    ), read_calendar=lambda expression: None)
    starts = ["app_name must match", "app_source_type is 'path' but its source is not set", "app_git_repo holds",
              "app_keep_releases must be at least 2", "app_env and app_secrets keys", "app_shared_files: a file",
              "app_secrets.FLASK_SECRET_KEY is a well-known placeholder", "app_slot_listen must be", "app_socket_mode must",
              "app_switch must be", "app_health_path must", "app_processes[0] (Worker): name must match"]
    assert len(report.problems) == len(starts), report.problems
    for problem, start in zip(report.problems, starts):
        assert problem.startswith(start), (problem, start)
    assert report.secrets_checked == ["FLASK_SECRET_KEY"] and report.secrets_allowed == ["MAIL_PASSWORD"]
    text = " ".join(report.problems)
    assert weak not in text and "hunter2" not in text and "tok3n-NOT-REAL" not in text
