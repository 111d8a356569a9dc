# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of flaskops.deploy.release_build in tmp_path: real archives, a real git repository, and a stand-in venv
whose python is this interpreter."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flaskops.deploy.plugins.module_utils._release_build import pack_directory
from ansible_collections.flaskops.deploy.plugins.modules import release_build
from ansible_collections.flaskops.deploy.tests.unit.plugins.modules.utils import run_module, run_module_failing


@pytest.fixture
def release(tmp_path):
    return str(tmp_path / "srv/hello/releases/r1")


def _source(root):
    os.makedirs(os.path.join(root, "app/static"))
    os.makedirs(os.path.join(root, "app/__pycache__"))
    for path, text in {"wsgi.py": "from app import app\n", "app/__init__.py": "app = 1\n", "app/static/s.css": "",
                       "app/__pycache__/x.pyc": "", ".env": "SECRET=1\n", "run.sh": "#!/bin/sh\n"}.items():
        with open(os.path.join(root, path), "w", encoding="utf-8") as handle:
            handle.write(text)
    os.chmod(os.path.join(root, "run.sh"), 0o750)
    return root


def test_prepare_creates_a_new_release_directory(release):
    result = run_module(release_build.main, {"state": "prepare", "release_dir": release})
    assert result["build"] and result["prepare"] and result["changed"] and not result["removed"]
    assert os.path.isdir(release) and oct(os.stat(release).st_mode & 0o777) == "0o755"


def test_prepare_removes_what_an_interrupted_build_left(release):
    os.makedirs(os.path.join(release, ".venv"))
    result = run_module(release_build.main, {"state": "prepare", "release_dir": release})
    assert result["build"] and result["removed"]
    assert os.listdir(release) == []


def test_prepare_keeps_a_built_release_and_reports_a_missing_hook(release):
    os.makedirs(release)
    open(os.path.join(release, ".flaskops-built"), "w").close()
    result = run_module(release_build.main, {"state": "prepare", "release_dir": release})
    assert not result["build"] and result["prepare"] and not result["changed"]
    assert os.path.exists(os.path.join(release, ".flaskops-built"))


def test_prepare_in_check_mode_changes_nothing(release):
    os.makedirs(os.path.join(release, "leftover"))
    result = run_module(release_build.main, {"state": "prepare", "release_dir": release}, check_mode=True)
    assert result["build"] and result["changed"] and result["removed"]
    assert os.listdir(release) == ["leftover"]


def _prepared(release):
    run_module(release_build.main, {"state": "prepare", "release_dir": release})
    return release


def test_unpack_a_packed_directory_keeps_modes_and_leaves_out_bytecode_and_hidden_files(tmp_path, release):
    source = _source(str(tmp_path / "src"))
    tarball = str(tmp_path / "source.archive")
    assert pack_directory(source, tarball) == 6
    with tarfile.open(tarball) as archive:
        assert {m.uname for m in archive.getmembers()} == {"root"}
    shared = str(tmp_path / "shared")
    result = run_module(release_build.main, {
        "state": "unpack", "release_dir": _prepared(release), "src": tarball,
        "links": [{"path": "instance", "target": "instance"}], "shared_dir": shared,
    })
    assert result["changed"] and result["files"] == 6
    assert sorted(os.listdir(release)) == ["app", "instance", "run.sh", "wsgi.py"]
    assert not os.path.exists(os.path.join(release, "app/__pycache__"))
    assert os.readlink(os.path.join(release, "instance")) == os.path.join(shared, "instance")
    assert oct(os.stat(os.path.join(release, "run.sh")).st_mode & 0o777) == "0o750"


@pytest.mark.skipif(os.geteuid() != 0, reason="sets owners: needs root")
def test_unpack_creates_the_layout_first_in_the_same_call(tmp_path, monkeypatch):
    """create_layout: what flaskops.deploy.app_layout does, before the release directory is made (stand-in accounts
    with uid and gid 0; groupadd and useradd recorded, not run)."""
    accounts = {"groups": {}, "users": {}, "ran": []}

    def run(module, argv):
        accounts["ran"].append(os.path.basename(argv[0]))
        if argv[0].endswith("groupadd"):
            accounts["groups"][argv[-1]] = 0
        else:
            accounts["users"][argv[-1]] = {"uid": 0, "gid": 0, "home": argv[argv.index("--home-dir") + 1],
                                           "shell": argv[argv.index("--shell") + 1]}

    monkeypatch.setattr(release_build.layout_host, "_run", run)
    monkeypatch.setattr(release_build.layout_host, "_group_id", accounts["groups"].get)
    monkeypatch.setattr(release_build.layout_host, "_user", accounts["users"].get)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, required=False: "/usr/sbin/" + name)
    root = str(tmp_path / "srv/hello")
    release = os.path.join(root, "releases/r1")
    archive = str(tmp_path / "app.zip")
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("wsgi.py", "app = 1\n")
    layout = {"user": "hello", "group": "hello", "root": root, "config_dir": str(tmp_path / "etc/hello"),
              "shared_dirs": ["instance"]}
    args = {"state": "unpack", "release_dir": release, "src": archive, "source_type": "archive", "create_layout": layout}
    checked = run_module(release_build.main, args, check_mode=True)
    assert checked["layout_changes"][:2] == ["group hello: create", "user hello: create"]
    assert accounts["ran"] == [] and not os.path.exists(root)
    result = run_module(release_build.main, args)
    assert result["changed"] and result["files"] == 1 and accounts["ran"] == ["groupadd", "useradd"]
    assert oct(os.stat(os.path.join(root, "shared/instance")).st_mode & 0o777) == "0o750"
    assert oct(os.stat(str(tmp_path / "etc/hello")).st_mode & 0o777) == "0o750"
    # Built already: the layout is still checked (and put back), the release is left alone.
    open(os.path.join(release, ".flaskops-built"), "w").close()
    os.chmod(str(tmp_path / "etc/hello"), 0o777)
    again = run_module(release_build.main, args)
    assert again["layout_changes"] == ["%s: mode" % (tmp_path / "etc/hello")] and again["changed"]
    assert "built already" in again["msg"]
    assert oct(os.stat(str(tmp_path / "etc/hello")).st_mode & 0o777) == "0o750"
    assert not run_module(release_build.main, args)["changed"]


def test_unpack_a_zip_archive(tmp_path, release):
    archive = str(tmp_path / "app.zip")
    with zipfile.ZipFile(archive, "w") as handle:
        info = zipfile.ZipInfo("bin/run.sh")
        info.external_attr = (0o100755 << 16)
        handle.writestr(info, "#!/bin/sh\n")
        handle.writestr("wsgi.py", "app = 1\n")
    result = run_module(release_build.main, {"state": "unpack", "release_dir": _prepared(release), "src": archive,
                                             "source_type": "archive"})
    assert result["files"] == 2
    assert oct(os.stat(os.path.join(release, "bin/run.sh")).st_mode & 0o777) == "0o755"


def test_unpack_refuses_members_outside_the_release(tmp_path, release):
    archive = str(tmp_path / "evil.tar.gz")
    with tarfile.open(archive, "w:gz") as handle:
        data = b"x"
        info = tarfile.TarInfo("../../escape.py")
        info.size = len(data)
        handle.addfile(info, io.BytesIO(data))
    result = run_module_failing(release_build.main, {"state": "unpack", "release_dir": _prepared(release),
                                                     "src": archive, "source_type": "archive"})
    assert "../../escape.py" in result["msg"]
    assert not os.path.exists(os.path.join(os.path.dirname(release), "escape.py"))


def test_unpack_refuses_to_replace_a_directory_with_files_by_a_shared_link(tmp_path, release):
    source = _source(str(tmp_path / "src"))
    tarball = str(tmp_path / "source.archive")
    pack_directory(source, tarball)
    result = run_module_failing(release_build.main, {
        "state": "unpack", "release_dir": _prepared(release), "src": tarball,
        "links": [{"path": "app", "target": "app"}], "shared_dir": str(tmp_path / "shared"),
    })
    assert "app_shared_links" in result["msg"] and "app" in result["msg"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_unpack_exports_a_commit_of_a_bare_repository(tmp_path, release):
    work = _source(str(tmp_path / "work"))
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    for argv in (["git", "init", "-q"], ["git", "add", "wsgi.py", "app/__init__.py", "run.sh"],
                 ["git", "commit", "-q", "-m", "r1"]):
        subprocess.run(argv, cwd=work, check=True, env=env)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, check=True, capture_output=True,
                            text=True).stdout.strip()
    bare = str(tmp_path / "repo.git")
    subprocess.run(["git", "clone", "-q", "--bare", work, bare], check=True)
    result = run_module(release_build.main, {"state": "unpack", "release_dir": _prepared(release),
                                             "source_type": "git", "git_dir": bare, "commit": commit})
    assert result["changed"]
    assert sorted(os.listdir(release)) == ["app", "run.sh", "wsgi.py"]
    failed = run_module_failing(release_build.main, {"state": "unpack", "release_dir": release, "source_type": "git",
                                                     "git_dir": bare, "commit": "0" * 40})
    assert "Exporting commit" in failed["msg"] and failed["rc"] != 0


def test_unpack_in_check_mode_reports_and_changes_nothing(tmp_path, release):
    result = run_module(release_build.main, {"state": "unpack", "release_dir": release, "src": str(tmp_path)},
                        check_mode=True)
    assert result["changed"] and "would be unpacked" in result["msg"]
    assert not os.path.exists(release)


def _venv(release):
    os.makedirs(os.path.join(release, ".venv/bin"))
    python = os.path.join(release, ".venv/bin/python")
    with open(python, "w", encoding="utf-8") as handle:
        handle.write('#!/bin/sh\nexec %s "$@"\n' % sys.executable)
    os.chmod(python, 0o755)
    with open(os.path.join(release, "wsgi.py"), "w", encoding="utf-8") as handle:
        handle.write("app = 1\n")


def test_finish_checks_the_server_compiles_and_marks_the_release_built(release):
    _venv(_prepared(release))
    result = run_module(release_build.main, {"state": "finish", "release_dir": release, "release": "r1",
                                             "source_type": "archive", "server": "pytest",
                                             "server_min_version": "1.0"})
    assert result["server_version"] == pytest.__version__
    assert os.path.isdir(os.path.join(release, "__pycache__"))
    with open(os.path.join(release, ".flaskops-built"), encoding="utf-8") as handle:
        assert json.load(handle) == {"id": "r1", "source": "archive"}


def test_finish_refuses_a_server_older_than_the_slots_need(release):
    _venv(_prepared(release))
    result = run_module_failing(release_build.main, {"state": "finish", "release_dir": release, "release": "r1",
                                                     "server": "pytest", "server_min_version": "999.0",
                                                     "server_default_package": "pytest==8"})
    assert "installs pytest %s" % pytest.__version__ in result["msg"] and "pytest==8" in result["msg"]
    assert not os.path.exists(os.path.join(release, ".flaskops-built"))


def test_finish_refuses_a_venv_without_the_server(release):
    _venv(_prepared(release))
    result = run_module_failing(release_build.main, {"state": "finish", "release_dir": release, "release": "r1",
                                                     "server": "no-such-server-dist"})
    assert "has no no-such-server-dist" in result["msg"]


def test_finish_in_check_mode_reports_and_writes_nothing(release):
    result = run_module(release_build.main, {"state": "finish", "release_dir": release, "release": "r1",
                                             "server": "gunicorn"}, check_mode=True)
    assert result["changed"] and "check gunicorn" in result["msg"]
    assert not os.path.exists(release)


def test_static_links_the_declared_folder_once(tmp_path, release):
    os.makedirs(os.path.join(release, "hello_app/static"))
    args = {"state": "static", "release_dir": release, "static_folder": os.path.join(release, "hello_app/static")}
    first = run_module(release_build.main, args)
    assert first["changed"] and first["link"] == "hello_app/static"
    assert os.readlink(os.path.join(release, ".flaskops-static")) == "hello_app/static"
    assert not run_module(release_build.main, args)["changed"]


def test_static_refuses_a_named_directory_the_release_lacks(release):
    os.makedirs(os.path.join(release, "app/static"))
    result = run_module_failing(release_build.main, {"state": "static", "release_dir": release, "static_dir": "public",
                                                     "static_folder": os.path.join(release, "app/static")})
    assert "app_static_dir is 'public'" in result["msg"]


@pytest.fixture
def plain_hooks(monkeypatch):
    """Hooks run by /bin/sh in the release instead of systemd-run; the environment file is sourced."""
    def argv(app_name, release, release_dir, user, group, env_file, command):
        return ["/bin/sh", "-c", ". %s; %s" % (env_file, " ".join(command))]
    monkeypatch.setattr(release_build.rb, "hook_argv", argv)


def _hooks_args(tmp_path, release, **extra):
    env = str(tmp_path / "env")
    with open(env, "w", encoding="utf-8") as handle:
        handle.write("GREETING=hello\n")
    args = {"state": "hooks", "release_dir": release, "release": "r1", "app_name": "hello", "user": "hello",
            "group": "hello", "env_file": env, "init_dir": str(tmp_path / "shared/.flaskops")}
    args.update(extra)
    return args


def test_hooks_run_init_hooks_once_then_pre_activation_hooks_and_mark_the_release_complete(
        tmp_path, release, plain_hooks):
    os.makedirs(release)
    init_hooks = ["echo $GREETING >> init.log", {"cmd": "touch made", "creates": "made"}]
    args = _hooks_args(tmp_path, release, init_hooks=init_hooks, pre_activate_hooks=["echo pre >> pre.log"])
    result = run_module(release_build.main, args)
    assert [h["kind"] for h in result["hooks"]] == ["Init", "Init", "Pre-activation"]
    assert open(os.path.join(release, "init.log")).read() == "hello\n"
    assert json.load(open(os.path.join(release, ".flaskops-release"))) == {"id": "r1", "source": "path"}
    # The next release: the init hooks are done on this host, the pre-activation hooks run again.
    second = str(tmp_path / "srv/hello/releases/r2")
    os.makedirs(second)
    again = run_module(release_build.main, dict(args, release_dir=second, release="r2"))
    assert [h["kind"] for h in again["hooks"]] == ["Pre-activation"]
    assert not os.path.exists(os.path.join(second, "init.log"))


def test_an_init_hook_whose_creates_path_exists_counts_as_done(tmp_path, release, plain_hooks):
    os.makedirs(os.path.join(release, "instance"))
    open(os.path.join(release, "instance/db.sqlite"), "w").close()
    args = _hooks_args(tmp_path, release, init_hooks=[{"cmd": "false", "creates": "instance/db.sqlite"}])
    assert run_module(release_build.main, args)["hooks"] == []
    assert os.listdir(str(tmp_path / "shared/.flaskops")) == [release_build.rb.init_marker_name("false")]


def test_a_failed_hook_stops_before_the_complete_marker_and_names_its_output(tmp_path, release, plain_hooks):
    os.makedirs(release)
    args = _hooks_args(tmp_path, release, init_hooks=["true"],
                       pre_activate_hooks=["echo migration failed >&2; exit 3", "touch never"])
    result = run_module_failing(release_build.main, args)
    assert result["rc"] == 3 and "migration failed" in result["stderr"]
    assert "Pre-activation hook 'echo migration failed >&2; exit 3' failed with rc 3" == result["msg"]
    assert not os.path.exists(os.path.join(release, ".flaskops-release"))
    assert not os.path.exists(os.path.join(release, "never"))
    # The init hook that succeeded before is marked done.
    assert os.listdir(str(tmp_path / "shared/.flaskops")) == [release_build.rb.init_marker_name("true")]


def test_hooks_in_check_mode_report_what_would_run_and_run_nothing(tmp_path, release, plain_hooks):
    args = _hooks_args(tmp_path, release, init_hooks=["touch x"], pre_activate_hooks=["flask db upgrade"])
    result = run_module(release_build.main, args, check_mode=True)
    assert result["changed"] and result["would"] == {"init": ["touch x"], "pre_activate": ["flask db upgrade"]}
    assert "flask db upgrade" in result["msg"]
    assert not os.path.exists(str(tmp_path / "shared"))


# --- env: the environment the gates passed with, moved into place once ---------------------------------------------

def _env_args(tmp_path, release, content=b"A=1\n", mode=0o640):
    src = tmp_path / "gate.env"
    src.write_bytes(content)
    os.chmod(src, mode)
    return {"state": "env", "release_dir": release, "env_file": str(src), "env_dest": str(tmp_path / "env")}, src


def test_env_puts_the_gate_file_in_place_with_its_mode_then_is_idempotent(tmp_path, release):
    args, src = _env_args(tmp_path, release)
    result = run_module(release_build.main, args)
    dest = tmp_path / "env"
    assert result["changed"] is True and dest.read_bytes() == b"A=1\n" and result["env_dest"] == str(dest)
    assert oct(os.stat(dest).st_mode & 0o7777) == "0o640" and not src.exists()
    assert "A=1" not in json.dumps(result)
    args, src = _env_args(tmp_path, release)
    assert run_module(release_build.main, args)["changed"] is False and not src.exists()
    assert not [name for name in os.listdir(tmp_path) if "flaskops-tmp" in name]


def test_env_rewrites_a_file_whose_content_or_mode_differs(tmp_path, release):
    run_module(release_build.main, _env_args(tmp_path, release)[0])
    args = _env_args(tmp_path, release, mode=0o600)[0]
    assert run_module(release_build.main, args)["changed"] is True
    assert oct(os.stat(tmp_path / "env").st_mode & 0o7777) == "0o600"
    args = _env_args(tmp_path, release, content=b"A=2\n", mode=0o600)[0]
    assert run_module(release_build.main, args)["changed"] is True and (tmp_path / "env").read_bytes() == b"A=2\n"


def test_env_in_check_mode_reports_writes_nothing_and_removes_the_transient_file(tmp_path, release):
    (tmp_path / "env").write_bytes(b"A=0\n")
    args, src = _env_args(tmp_path, release)
    result = run_module(release_build.main, args, check_mode=True)
    assert result["changed"] is True and (tmp_path / "env").read_bytes() == b"A=0\n" and not src.exists()


def test_env_needs_both_paths(tmp_path, release):
    assert "env_file and env_dest" in run_module_failing(
        release_build.main, {"state": "env", "release_dir": release, "env_file": str(tmp_path / "x")})["msg"]


def test_stage_env_writes_the_transient_file_0640_root_group_in_check_mode_too(tmp_path, release):
    import grp
    group = grp.getgrgid(os.getgid()).gr_name
    path = tmp_path / "gate.env"
    args = {"state": "stage_env", "release_dir": release, "env_file": str(path), "env_content": 'SECRET="s3"\n',
            "group": group}
    result = run_module(release_build.main, args, check_mode=True)
    assert result["changed"] is False and path.read_text() == 'SECRET="s3"\n'
    assert oct(os.stat(path).st_mode & 0o7777) == "0o640" and os.stat(path).st_gid == os.getgid()
    assert "s3" not in json.dumps(result)
    run_module(release_build.main, dict(args, env_content="A=1\n"))
    assert path.read_text() == "A=1\n" and not [n for n in os.listdir(tmp_path) if "flaskops-tmp" in n]
    assert "no group" in run_module_failing(release_build.main, dict(args, group="no-such-group-x"))["msg"]
    assert "needs env_file" in run_module_failing(release_build.main, dict(args, env_content=None))["msg"]


def test_failed_writes_the_report_0600_and_stops_with_the_message(tmp_path, release):
    args = {"state": "failed", "release_dir": release, "release": "r1", "failed_in": "Run the hooks",
            "failed_result": {"failed": True, "cmd": "flask init-db", "rc": 1, "msg": "boom", "stderr": "trace"}}
    assert "could not be written" in run_module_failing(release_build.main, args)["msg"]
    os.makedirs(os.path.dirname(release))
    result = run_module_failing(release_build.main, args)
    report = release.rstrip("/") + ".failed"
    assert result["report"] == report and result["msg"].startswith("Release r1 failed in 'Run the hooks'")
    assert "flask init-db -> boom" in result["msg"] and "trace" in result["msg"]
    with open(report, encoding="utf-8") as handle:
        assert json.load(handle) == {"release": "r1", "failed_in": "Run the hooks",
                                     "errors": [{"cmd": "flask init-db", "rc": 1, "msg": "boom", "stderr": "trace"}]}
    assert oct(os.stat(report).st_mode & 0o7777) == "0o600"
    os.unlink(report)
    assert run_module_failing(release_build.main, args, check_mode=True)["changed"] is False
    assert not os.path.exists(report)


# --- gate: finish, the environment, the config check, the static link, the hooks and the env file in one call -----

GATE_APP = '''
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

app = Flask(__name__, static_folder="assets")
app.config.update(SESSION_COOKIE_SAMESITE="Lax", MAX_CONTENT_LENGTH=1024, PREFERRED_URL_SCHEME="https")
app.config.from_prefixed_env("FLASK")
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
'''
GATE_SECRET = "6f1d8c3b9a2e4f7d0c5b8a1e3f6d9c2b7a4e0f3d6c9b2a5e8f1d4c7b0a3e6f9d"
GATE_ENV = 'FLASK_SECRET_KEY="%s"\nFLASK_SESSION_COOKIE_SECURE=true\nGREETING=hello\n' % GATE_SECRET
HOOKS_TASK = release_build.GATE_FAILED_IN["hooks"]


def _gate(tmp_path, release, built=True, **extra):
    """A release with its code and a stand-in venv (this interpreter, which has Flask); the live env file holds OLD."""
    pytest.importorskip("flask")
    import grp
    import pwd
    _venv(release)
    with open(os.path.join(release, "wsgi.py"), "w", encoding="utf-8") as handle:
        handle.write(GATE_APP)
    os.makedirs(os.path.join(release, "assets"))
    if built:
        open(os.path.join(release, ".flaskops-built"), "w").close()
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/env").write_text("OLD=1\n")
    args = {"state": "gate", "release_dir": release, "release": "r1", "build": not built, "prepare": True,
            "app_name": "hello", "user": pwd.getpwuid(os.getuid()).pw_name, "group": grp.getgrgid(os.getgid()).gr_name,
            "env_file": str(tmp_path / "gate.env"), "env_content": GATE_ENV, "env_dest": str(tmp_path / "etc/env"),
            "init_dir": str(tmp_path / "shared/.flaskops"), "pre_activate_hooks": ["echo $GREETING > hook.out"],
            "state_file": str(tmp_path / "etc/state.json"), "config_check": True,
            "config": {"app": "wsgi:app", "https": True, "hints": {"debug-enabled": "Remove FLASK_DEBUG from app_env."},
                       "hint_skip": "Or skip the rule with app_config_check_skip_rules."}}
    args["config"].update(extra.pop("config", {}))
    args.update(extra)
    return args


def _left_in(tmp_path):
    return sorted(name for name in os.listdir(tmp_path) if "gate.env" in name or "flaskops-tmp" in name)


def test_gate_runs_every_step_in_one_call_and_moves_the_environment_into_place(
        tmp_path, release, plain_hooks, monkeypatch):
    argvs = []

    def spy(user, group, argv):
        argvs.append((user, group))
        return rb_as_user_argv(user, group, argv)
    rb_as_user_argv = release_build.rb.as_user_argv
    monkeypatch.setattr(release_build.rb, "as_user_argv", spy)
    args = _gate(tmp_path, release, built=False, server="")
    result = run_module(release_build.main, args)
    assert result["steps"] == ["finish", "stage_env", "config", "static", "hooks", "env"] and result["changed"]
    # The check ran as the app user, with the file's environment, and passed: no finding refuses the release.
    assert argvs == [(args["user"], args["group"])]
    assert result["config"]["valid"] and result["config"]["facts"]["secret_key_length"] == 64
    assert result["finish"]["duration"] >= 0 and result["config"]["duration"] >= 0
    assert os.path.exists(os.path.join(release, ".flaskops-built"))
    assert os.readlink(os.path.join(release, ".flaskops-static")) == "assets" and result["link"] == "assets"
    assert open(os.path.join(release, "hook.out")).read() == "hello\n"
    assert json.load(open(os.path.join(release, ".flaskops-release")))["id"] == "r1"
    assert (tmp_path / "etc/env").read_text() == GATE_ENV and result["env_changed"] is True
    assert oct(os.stat(tmp_path / "etc/env").st_mode & 0o7777) == "0o640"
    assert _left_in(tmp_path) == [] and GATE_SECRET not in json.dumps(result)
    # Again with the release complete: nothing to finish or run, the environment unchanged.
    again = run_module(release_build.main, dict(args, build=False, prepare=False))
    assert again["steps"] == ["stage_env", "config", "static", "env"] and again["changed"] is False
    assert again["env_changed"] is False and again["hooks"] == []


def test_gate_refusing_the_configuration_discards_a_release_it_built_and_leaves_the_host_as_it_was(
        tmp_path, release, plain_hooks):
    args = _gate(tmp_path, release, built=False, server="", env_content=GATE_ENV + "FLASK_DEBUG=true\n")
    (tmp_path / "etc/state.json").write_text("{}")
    result = run_module_failing(release_build.main, args)
    assert result["gate_failed"] == "config" and [f["id"] for f in result["findings"]] == ["debug-enabled"]
    message = result["msg"]
    assert "Release r1 was not activated: refused by the Flask configuration check and discarded." in message
    assert "the live release keeps serving." in message and "debug-enabled" in message
    assert "Remove FLASK_DEBUG from app_env." in message and "HTTPS rules applied" in message
    assert not os.path.exists(release) and not os.path.exists(release + ".failed")
    assert (tmp_path / "etc/env").read_text() == "OLD=1\n" and _left_in(tmp_path) == []
    assert GATE_SECRET not in json.dumps(result)


def test_gate_refusing_a_release_built_before_keeps_it(tmp_path, release, plain_hooks):
    args = _gate(tmp_path, release, prepare=False, config={"fail_on": "warning"}, env_content="GREETING=hello\n")
    result = run_module_failing(release_build.main, args)
    assert "refused by the Flask configuration check." in result["msg"] and "secret-key-missing" in result["msg"]
    assert "no release is live on this host." in result["msg"] and "on a first run" in result["msg"]
    assert os.path.isdir(release) and not os.path.exists(release + ".failed") and _left_in(tmp_path) == []


def test_gate_records_a_failed_hook_and_removes_the_transient_file(tmp_path, release, plain_hooks):
    args = _gate(tmp_path, release, pre_activate_hooks=["echo migration failed >&2; exit 3"])
    result = run_module_failing(release_build.main, args)
    assert result["gate_failed"] == "hooks" and result["report"] == release + ".failed"
    assert result["msg"].startswith("Release r1 failed in '%s' and was not activated" % HOOKS_TASK)
    assert "migration failed" in result["msg"] and "the live release keeps serving" in result["msg"]
    with open(release + ".failed", encoding="utf-8") as handle:
        assert json.load(handle)["failed_in"] == HOOKS_TASK
    assert oct(os.stat(release + ".failed").st_mode & 0o7777) == "0o600"
    assert not os.path.exists(os.path.join(release, ".flaskops-release"))
    assert (tmp_path / "etc/env").read_text() == "OLD=1\n" and _left_in(tmp_path) == []


def test_gate_records_a_failed_finish_before_writing_any_environment(tmp_path, release, plain_hooks):
    args = _gate(tmp_path, release, built=False, server="pytest", server_min_version="999.0")
    result = run_module_failing(release_build.main, args)
    assert result["gate_failed"] == "finish" and "installs pytest" in result["msg"]
    assert json.load(open(release + ".failed"))["failed_in"] == release_build.GATE_FAILED_IN["finish"]
    assert not os.path.exists(os.path.join(release, ".flaskops-built"))
    assert (tmp_path / "etc/env").read_text() == "OLD=1\n" and _left_in(tmp_path) == []


def test_gate_in_check_mode_checks_and_reports_and_changes_nothing(tmp_path, release, plain_hooks):
    args = _gate(tmp_path, release, env_content=GATE_ENV + "NEW=1\n")
    result = run_module(release_build.main, args, check_mode=True)
    assert result["steps"] == ["stage_env", "config", "static", "hooks", "env"]
    assert result["changed"] and result["env_changed"] and result["config"]["valid"]
    assert result["would"]["pre_activate"] == ["echo $GREETING > hook.out"]
    assert not os.path.exists(os.path.join(release, "hook.out"))
    assert not os.path.lexists(os.path.join(release, ".flaskops-static"))
    assert (tmp_path / "etc/env").read_text() == "OLD=1\n" and _left_in(tmp_path) == []
    refused = run_module_failing(release_build.main, dict(args, env_content=GATE_ENV + "FLASK_DEBUG=1\n"),
                                 check_mode=True)
    assert refused["gate_failed"] == "config" and os.path.isdir(release) and _left_in(tmp_path) == []


def test_gate_in_check_mode_for_a_release_it_would_build_skips_the_check(tmp_path, release, plain_hooks):
    args = _gate(tmp_path, release, built=False, server="gunicorn")
    result = run_module(release_build.main, args, check_mode=True)
    assert result["steps"] == ["finish", "stage_env", "hooks", "env"] and result["config"] == {}
    assert not os.path.exists(os.path.join(release, ".flaskops-built")) and _left_in(tmp_path) == []


@pytest.mark.skipif(os.getuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_the_check_command_runs_without_root_rights():
    import pwd
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    import grp
    group = grp.getgrgid(nobody.pw_gid).gr_name
    out = subprocess.run(release_build.rb.as_user_argv("nobody", group, ["id", "-u"]), check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out == str(nobody.pw_uid)


def test_unpack_decides_itself_and_leaves_a_built_release_as_it_is(tmp_path, release):
    archive = str(tmp_path / "app.tar.gz")
    with tarfile.open(archive, "w:gz") as handle:
        handle.add(__file__, arcname="wsgi.py")
    os.makedirs(os.path.join(release, ".venv"))  # left by an interrupted build: removed, then unpacked into
    first = run_module(release_build.main, {"state": "unpack", "release_dir": release, "src": archive,
                                            "source_type": "archive"})
    assert first["build"] and first["prepare"] and first["removed"] and first["files"] == 1
    assert sorted(os.listdir(release)) == ["wsgi.py"]
    open(os.path.join(release, ".flaskops-built"), "w").close()
    again = run_module(release_build.main, {"state": "unpack", "release_dir": release, "src": "/gone",
                                            "source_type": "archive"})
    assert not again["build"] and again["prepare"] and not again["changed"] and "built already" in again["msg"]


def test_config_alone_checks_a_release_with_the_slots_environment_file_and_refuses_without_discarding(
        tmp_path, release):
    args = _gate(tmp_path, release)
    (tmp_path / "etc/env").write_text(GATE_ENV)
    check = {key: args[key] for key in ("release_dir", "release", "user", "group", "state_file", "config_check",
                                        "config")}
    check.update(state="config", env_file=str(tmp_path / "etc/env"))
    result = run_module(release_build.main, check)
    assert result["valid"] and result["facts"]["secret_key_length"] == 64 and result["duration"] >= 0
    assert GATE_SECRET not in json.dumps(result)
    (tmp_path / "etc/env").write_text(GATE_ENV + "FLASK_DEBUG=true\n")
    (tmp_path / "etc/state.json").write_text("{}")
    refused = run_module_failing(release_build.main, check, check_mode=True)
    assert "Release r1 was not activated: refused by the Flask configuration check." in refused["msg"]
    assert "the live release keeps serving." in refused["msg"] and "Remove FLASK_DEBUG" in refused["msg"]
    assert os.path.isdir(release) and (tmp_path / "etc/env").exists() and GATE_SECRET not in json.dumps(refused)
    missing = run_module_failing(release_build.main, dict(check, env_file=str(tmp_path / "nope")))
    assert "cannot be read" in missing["msg"]


def test_gate_refuses_an_unknown_rule_to_skip(tmp_path, release, plain_hooks):
    result = run_module_failing(release_build.main, _gate(tmp_path, release, config={"skip_rules": ["no-such-rule"]}))
    assert result["gate_failed"] == "config" and "unknown rules: no-such-rule" in result["msg"]
    assert (tmp_path / "etc/env").read_text() == "OLD=1\n" and _left_in(tmp_path) == []


def test_gate_and_config_return_the_warnings_of_a_passing_check_one_line_each(tmp_path, release, plain_hooks):
    args = _gate(tmp_path, release, env_content=GATE_ENV + "FLASK_PREFERRED_URL_SCHEME=http\n",
                 config={"hints": {"preferred-url-scheme-http": "Set it in app_env."}})
    result = run_module(release_build.main, args)
    finding = result["config"]["findings"][0]
    assert [f["id"] for f in result["config"]["findings"]] == ["preferred-url-scheme-http"]
    assert result["finding_lines"] == ["preferred-url-scheme-http (warning): %s Fix: %s Set it in app_env." % (
        finding["message"], finding["remediation"])]
    skipped = run_module(release_build.main, dict(args, config_check=False, config={}))
    assert skipped["finding_lines"] == [] and skipped["config"] == {}


def _live(tmp_path, release, **extra):
    args = _gate(tmp_path, release)
    (tmp_path / "etc/env").write_text(GATE_ENV)
    os.symlink(release, str(tmp_path / "current"))
    check = {key: args[key] for key in ("app_name", "user", "group", "config_check", "config")}
    check.update(state="live", release_dir=str(tmp_path / "current"), env_file=str(tmp_path / "etc/env"), **extra)
    return check


def test_live_checks_the_release_the_current_link_points_to_and_changes_nothing(tmp_path, release):
    check = _live(tmp_path, release)
    result = run_module(release_build.main, check, check_mode=True)
    assert result["release"] == os.path.basename(release) and result["changed"] is False
    assert result["valid"] and result["facts"]["secret_key_length"] == 64 and "finding_lines" in result
    assert GATE_SECRET not in json.dumps(result)
    unchecked = run_module(release_build.main, dict(check, config_check=False))
    assert unchecked["release"] == os.path.basename(release) and unchecked["finding_lines"] == []
    (tmp_path / "etc/env").write_text(GATE_ENV + "FLASK_DEBUG=true\n")
    refused = run_module_failing(release_build.main, check)
    assert refused["msg"].startswith("The live release %s of hello is refused" % os.path.basename(release))
    assert "not activated" not in refused["msg"] and "Remove FLASK_DEBUG from app_env." in refused["msg"]
    assert os.path.isdir(release) and GATE_SECRET not in json.dumps(refused)


def test_live_takes_the_host_layout_and_warns_once_per_finding(tmp_path, release, monkeypatch):
    check = _live(tmp_path, release)
    layout = {key: check.pop(key) for key in ("app_name", "user", "group")}
    layout.update(slots_dir="/etc/hello/slots", releases_dir="/srv/hello/releases")
    (tmp_path / "etc/env").write_text(GATE_ENV + "FLASK_PREFERRED_URL_SCHEME=http\n")
    check["config"] = dict(check["config"], hints={"preferred-url-scheme-http": "Set it in app_env."})
    warnings = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, warning, *args, **kwargs: warnings.append(warning))
    result = run_module(release_build.main, dict(check, layout=layout))
    assert result["release"] == os.path.basename(release)
    assert len(result["finding_lines"]) == 1 and warnings == result["finding_lines"]
    assert result["finding_lines"][0].startswith("preferred-url-scheme-http (warning): ")
    assert GATE_SECRET not in json.dumps(result)


def test_live_fails_with_a_clear_message_when_no_release_is_live(tmp_path, release):
    check = _live(tmp_path, release)
    os.unlink(str(tmp_path / "current"))
    result = run_module_failing(release_build.main, dict(check, config_check=False))
    assert result["msg"] == "hello has no live release on this host (%s): run site.yml or deploy.yml first" % (
        tmp_path / "current")


def test_the_check_needs_the_application_to_import(tmp_path, release):
    args = _gate(tmp_path, release)
    args["config"].pop("app")
    assert "needs config.app" in run_module_failing(release_build.main, args)["msg"]
