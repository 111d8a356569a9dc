# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _release_build as rb


@pytest.mark.parametrize(
    "built, complete, expected",
    [
        # No marker: a new release, or one an interrupted build left behind: built from scratch, then prepared.
        (False, False, {"build": True, "prepare": True}),
        # Built, but a hook failed before the complete marker: finished without being rebuilt.
        (True, False, {"build": False, "prepare": True}),
        # Complete: nothing to build or prepare (a redeploy of the same release).
        (True, True, {"build": False, "prepare": False}),
        # Complete without the built marker (a release of an earlier version of the role): not rebuilt.
        (False, True, {"build": False, "prepare": False}),
    ],
)
def test_build_plan(built, complete, expected):
    assert rb.build_plan(built, complete) == expected


def _tree(root, paths):
    for path in paths:
        full = os.path.join(root, path)
        if path.endswith("/"):
            os.makedirs(full, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as handle:
                handle.write(path)


def test_source_members_leave_out_bytecode_and_hidden_top_level_entries(tmp_path):
    _tree(str(tmp_path), [
        "wsgi.py", "requirements.txt", "app/__init__.py", "app/__pycache__/x.cpython-311.pyc", "app/old.pyc",
        "app/static/.keep", "app/empty/", ".git/HEAD", ".venv/bin/python", ".env", ".flaskenv", "__pycache__/w.pyc",
    ])
    assert rb.source_members(str(tmp_path)) == [
        "app", "app/empty", "app/static", "app/__init__.py", "app/static/.keep", "requirements.txt", "wsgi.py",
    ]


def test_source_members_keep_a_link_without_following_it(tmp_path):
    _tree(str(tmp_path), ["real/a.py", "wsgi.py"])
    os.symlink("real", str(tmp_path / "alias"))
    assert rb.source_members(str(tmp_path)) == ["alias", "real", "real/a.py", "wsgi.py"]


@pytest.mark.parametrize("name", ["wsgi.py", "app/static/x.css", "./app/a.py", "a/../b.py"])
def test_archive_members_inside_the_release_pass(name):
    assert rb.archive_member_problem(name) is None


@pytest.mark.parametrize("name", ["/etc/passwd", "../x.py", "a/../../x.py", "..", "C:/x.py"])
def test_archive_members_outside_the_release_are_refused(name):
    assert name in rb.archive_member_problem(name)


def test_hard_links_outside_the_release_are_refused():
    assert rb.archive_member_problem("a", "b/c") is None
    assert "outside the release" in rb.archive_member_problem("a", "../etc/shadow")
    assert "outside the release" in rb.archive_member_problem("a", "/etc/shadow")


def test_server_version_checks():
    assert rb.server_version_problem("gunicorn", "23.0.0", "20.1.0", "gunicorn==23.0.0") is None
    assert rb.server_version_problem("gunicorn", "20.1.0", "20.1.0", "gunicorn==23.0.0") is None
    assert rb.server_version_problem("waitress", "3.0.2", "", "waitress==3.0.2") is None
    old = rb.server_version_problem("gunicorn", "19.9.0\n", "20.1.0", "gunicorn==23.0.0")
    assert "installs gunicorn 19.9.0" in old and "gunicorn 20.1.0 or later" in old and "gunicorn==23.0.0" in old
    # 20.10 is newer than 20.9 (numeric, not string, comparison).
    assert rb.server_version_problem("gunicorn", "20.10.0", "20.9.1", "") is None
    missing = rb.server_version_problem("gunicorn", "", "20.1.0", "gunicorn==23.0.0")
    assert "has no gunicorn" in missing


def test_server_python_checks():
    assert rb.server_python_problem("uwsgi", "3.11\n", "3.11") is None
    problem = rb.server_python_problem("uwsgi", "3.12", "3.11")
    assert "runs Python 3.12" in problem and "Debian's uwsgi runs Python 3.11" in problem


def test_marker_is_the_json_the_role_wrote_before():
    assert json.loads(rb.marker("abc", "git")) == {"id": "abc", "source": "git"}
    assert rb.marker("abc", "git") == '{\n    "id": "abc",\n    "source": "git"\n}\n'


R = "/srv/hello/releases/r1"


@pytest.mark.parametrize(
    "static_dir, folder, checked, expected",
    [
        # auto: the folder the application declares, relative to the release.
        ("auto", R + "/hello_app/static", True, "hello_app/static"),
        ("auto", R + "/static", True, "static"),
        # auto, the folder outside the release or the release itself: nothing to link (the check ran).
        ("auto", "/usr/lib/python3/dist-packages/x/static", True, None),
        ("auto", R, True, None),
        ("auto", "", True, None),
        # auto without the config check: static/, even before it exists.
        ("auto", "", False, "static"),
        # named or empty: no link.
        ("static", R + "/static", True, None),
        ("", R + "/static", True, None),
    ],
)
def test_static_link(static_dir, folder, checked, expected):
    assert rb.static_plan(static_dir, folder, R, checked, named_exists=True, declared_exists=True) == {
        "link": expected, "problem": None}


def test_a_named_static_dir_missing_from_the_release_stops_only_when_the_app_has_static_files():
    # Neither exists: nothing to serve, it passes.
    assert rb.static_plan("public", "", R, True)["problem"] is None
    assert rb.static_plan("public", R + "/app/static", R, True, declared_exists=False)["problem"] is None
    problem = rb.static_plan("public", R + "/app/static", R, True, declared_exists=True)["problem"]
    assert "app_static_dir is 'public'" in problem and "set app_static_dir to 'app/static', or to auto" in problem
    assert "relative to the release" in rb.static_plan("public", "", R, False, declared_exists=True)["problem"]


def test_hooks_run_as_the_app_user_with_the_environment_file_read_by_systemd():
    argv = rb.hook_argv("hello", "r1", R, "hello", "hello", "/run/flaskops-hello-x.env", ["flask", "init-db"])
    assert argv[0] == "systemd-run" and "--wait" in argv and "--pipe" in argv
    assert "--property=User=hello" in argv and "--property=EnvironmentFile=/run/flaskops-hello-x.env" in argv
    assert argv[-3:] == ["PATH=%s/.venv/bin:/usr/local/bin:/usr/bin:/bin" % R, "flask", "init-db"]


def test_an_init_hook_marker_is_named_by_its_command():
    assert rb.init_marker_name("flask init-db") == rb.init_marker_name({"cmd": "flask init-db", "creates": "x"})
    assert rb.init_marker_name("flask init-db") != rb.init_marker_name("flask init-db --force")
    assert rb.init_marker_name("flask init-db").startswith("init-") and len(rb.init_marker_name("x")) == 45


def test_build_failure_reports_each_failed_result_and_cuts_stderr():
    result = {"failed": True, "results": [
        {"failed": False, "cmd": ["ok"]},
        {"failed": True, "cmd": ["flask", "init-db"], "rc": 3, "msg": "non-zero return code", "stderr": "x" * 700,
         "stdout": "not kept"},
    ]}
    report, message = rb.build_failure("r1", "Run the hooks", result)
    assert report == {"release": "r1", "failed_in": "Run the hooks",
                      "errors": [{"cmd": ["flask", "init-db"], "rc": 3, "msg": "non-zero return code",
                                  "stderr": "x" * 700}]}
    lines = message.splitlines()
    assert lines[0] == "Release r1 failed in 'Run the hooks' and was not activated; the live release keeps serving."
    assert lines[1] == "flask init-db -> non-zero return code"
    assert len(lines[2]) == rb.STDERR_CHARS and lines[2].endswith("...")


def test_build_failure_of_a_single_result_without_a_command():
    report, message = rb.build_failure("r2", "Build the venv", {"failed": True, "msg": "no wheel"})
    assert report["errors"] == [{"msg": "no wheel"}]
    assert message.splitlines()[1] == "-> no wheel"
    assert rb.build_failure("r3", "x", {})[0]["errors"] == []


# --- gate ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("build, prepare, check_mode, config_check, steps", [
    (True, True, False, True, ["finish", "stage_env", "config", "static", "hooks", "env"]),
    (False, False, False, True, ["stage_env", "config", "static", "env"]),
    (False, True, False, False, ["stage_env", "static", "hooks", "env"]),
    # Check mode cannot check or link a release it would build (no code, no venv); its hooks report what would run.
    (True, True, True, True, ["finish", "stage_env", "hooks", "env"]),
    (False, False, True, True, ["stage_env", "config", "static", "env"]),
])
def test_gate_steps(build, prepare, check_mode, config_check, steps):
    assert rb.gate_steps(build, prepare, check_mode, config_check) == steps


def test_as_user_argv_drops_to_the_user_and_group():
    assert rb.as_user_argv("hello", "www", ["python", "-c", "x"]) == [
        "setpriv", "--reuid=hello", "--regid=www", "--init-groups", "--", "python", "-c", "x"]


def _refusal(**extra):
    args = dict(release="r1", discarded=False, live=True, check_msg="1 finding at or above error: debug-enabled",
                findings=[{"id": "debug-enabled", "remediation": "Turn DEBUG off."},
                          {"id": "csrf-missing", "remediation": "Add CSRF."}],
                hints={"debug-enabled": "Remove FLASK_DEBUG from app_env."}, hint_skip="Or skip the rule.",
                https=True, https_setting="auto", first_run="packages, the user hello")
    args.update(extra)
    return rb.config_refusal(**args)


def test_config_refusal_names_the_release_the_findings_and_that_the_live_release_keeps_serving():
    message = _refusal()
    assert message.startswith("Release r1 was not activated: refused by the Flask configuration check. ")
    assert "the live release keeps serving." in message and "on a first run" not in message
    assert "1 finding at or above error: debug-enabled" in message
    assert "-- debug-enabled: Fix: Turn DEBUG off. Remove FLASK_DEBUG from app_env." in message
    assert "-- csrf-missing: Fix: Add CSRF. Or skip the rule." in message
    assert message.endswith("-- HTTPS rules applied (app_config_check_https: auto).")


def test_config_refusal_of_a_first_release_says_it_was_discarded_and_nothing_is_live():
    message = _refusal(discarded=True, live=False, https=False, https_setting="false")
    assert "refused by the Flask configuration check and discarded." in message
    assert "no release is live on this host." in message and "; on a first run: packages, the user hello)" in message
    assert "HTTPS rules not applied (app_config_check_https: false)" in message


def test_live_refusal_says_nothing_changed_and_names_each_fix():
    message = rb.live_refusal("hello", "r1", "1 finding at or above error: debug-enabled",
                              [{"id": "debug-enabled", "remediation": "Turn DEBUG off."}],
                              {"debug-enabled": "Remove FLASK_DEBUG from app_env."}, "Or skip the rule.", False, "auto")
    assert message.startswith("The live release r1 of hello is refused by the Flask configuration check")
    assert "not activated" not in message and "1 finding at or above error: debug-enabled" in message
    assert "-- debug-enabled: Fix: Turn DEBUG off. Remove FLASK_DEBUG from app_env." in message
    assert message.endswith("-- HTTPS rules not applied (app_config_check_https: auto).")


def test_finding_lines_give_one_line_per_finding_with_its_hint():
    findings = [{"id": "proxy-fix-missing", "severity": "warning", "message": "No ProxyFix.", "remediation": "Wrap it."},
                {"id": "csrf-missing", "severity": "warning", "message": "No CSRF.", "remediation": "Add CSRF."}]
    assert rb.finding_lines(findings, {"proxy-fix-missing": "Or set app_config_check_behind_proxy: false."},
                            "Or skip the rule.") == [
        "proxy-fix-missing (warning): No ProxyFix. Fix: Wrap it. Or set app_config_check_behind_proxy: false.",
        "csrf-missing (warning): No CSRF. Fix: Add CSRF. Or skip the rule.",
    ]
    assert rb.finding_lines([], {}, "") == []


def test_which_sources_go_inside_the_arguments(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.py").write_bytes(b"x" * 1000)
    (tmp_path / "wsgi.py").write_bytes(b"y" * 24)
    os.symlink("wsgi.py", str(tmp_path / "link.py"))
    assert rb.source_size(str(tmp_path), ["app", "app/a.py", "wsgi.py", "link.py"]) == 1024
    assert rb.inline_source(1024) and rb.inline_source(rb.INLINE_SOURCE_LIMIT, rb.INLINE_ARCHIVE_LIMIT)
    assert not rb.inline_source(rb.INLINE_SOURCE_LIMIT + 1)
    assert not rb.inline_source(10, rb.INLINE_ARCHIVE_LIMIT + 1)
    assert not rb.inline_source(None)
