# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The playbooks' preflight (playbooks/tasks/preflight.yml), run on the controller alone.

Each test runs ansible-playbook on tests/preflight/preflight.yml against localhost (ansible_connection=local, check
mode), with an inventory written for it: what the preflight warns about (unknown role variables, never their values)
and what it refuses (a source without its requirements file or WSGI module), naming the variable to change.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PLAYBOOK = os.path.join(HERE, "preflight.yml")
HELLO_APP = os.path.join(ROOT, "examples", "hello_app")
SITE_ROLES = ["certbot", "nginx", "app", "gunicorn"]
SECRET = "s3cret-value-never-printed"


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("collections")
    namespace = root / "ansible_collections" / "flaskops"
    namespace.mkdir(parents=True)
    os.symlink(ROOT, namespace / "deploy")
    return str(root)


@pytest.fixture()
def run(tmp_path, collections_path):
    """run(host_vars, roles, extra_vars, group_vars) -> CompletedProcess (stdout and stderr together)."""

    def _run(host_vars=None, roles=None, extra_vars=None, group_vars=None):
        inventory = tmp_path / "inventory"
        (inventory / "group_vars").mkdir(parents=True, exist_ok=True)
        host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "app_name": "hello",
                "app_source_path": HELLO_APP, "app_domains": ["hello.example.org"]}
        host.update(host_vars or {})
        host = {name: value for name, value in host.items() if value is not None}  # None: leave the variable out
        (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"localhost": host}}}))
        (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(group_vars or {}))
        extra = {"preflight_roles": roles or ["app", "gunicorn"]}
        extra.update(extra_vars or {})
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="0",
                   PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
        return subprocess.run(
            ["ansible-playbook", "-i", str(inventory), PLAYBOOK, "--check", "-e", json.dumps(extra)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False,
        )

    return _run


def _warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("[WARNING]:")]


def _source(tmp_path, name="src", requirements=True, project=False, wsgi="wsgi.py") -> str:
    source = tmp_path / name
    shutil.copytree(HELLO_APP, source, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "tests"))
    if not requirements:
        (source / "requirements.txt").unlink()
    if project:
        (source / "pyproject.toml").write_text('[project]\nname = "hello"\nversion = "1.0.0"\n')
    if wsgi != "wsgi.py":
        (source / "wsgi.py").rename(source / wsgi)
    return str(source)


def test_a_clean_inventory_gives_no_warning(run) -> None:
    result = run(roles=SITE_ROLES)
    assert result.returncode == 0, result.stdout[-3000:]
    assert _warnings(result.stdout) == [], result.stdout[-3000:]
    assert "preflight passed" in result.stdout


def test_a_typo_warns_with_the_declared_name_and_never_the_value(run) -> None:
    result = run(roles=SITE_ROLES, extra_vars={"app_sercrets": {"SECRET_KEY": SECRET}},
                 group_vars={"ufw_rules": [], "gunicorn_worker": 3})
    assert result.returncode == 0, result.stdout[-3000:]
    warnings = _warnings(result.stdout)
    assert len(warnings) == 2, warnings
    typo = [line for line in warnings if "app_sercrets" in line][0]
    assert "app_sercrets is set by extra vars, but no role of this play declares it" in typo
    assert "looked in certbot, nginx, app, gunicorn;" in typo
    assert typo.endswith("Did you mean app_secrets?")
    assert any("gunicorn_worker is set by the inventory" in line and line.endswith("Did you mean gunicorn_workers?")
               for line in warnings)
    assert SECRET not in result.stdout
    assert "preflight passed" in result.stdout


def test_an_input_the_app_role_sets_itself_warns(run) -> None:
    """systemd_units given to site.yml's roles: app includes systemd with its own units."""
    result = run(roles=SITE_ROLES, group_vars={"systemd_units": [], "systemd_hardening": {}})
    assert result.returncode == 0, result.stdout[-3000:]
    assert _warnings(result.stdout) == [
        "[WARNING]: systemd_units is set by the inventory, but no role of this play declares it (looked in certbot, "
        "nginx, app, gunicorn; python_venv (included by app), systemd (included by app)); app sets systemd_units "
        "itself when it includes systemd, so this value is not used."
    ]


def test_fail_on_unknown_refuses(run) -> None:
    result = run(extra_vars={"app_sercrets": {"SECRET_KEY": SECRET}, "flaskops_fail_on_unknown_vars": True})
    assert result.returncode != 0
    assert "Unknown variables (fail_on_unknown): app_sercrets is set by extra vars" in result.stdout
    assert SECRET not in result.stdout
    assert "preflight passed" not in result.stdout


def test_a_missing_requirements_file_of_a_project_fails_naming_the_variables(run, tmp_path) -> None:
    result = run(host_vars={"app_source_path": _source(tmp_path, requirements=False, project=True)})
    assert result.returncode != 0
    assert "Check the application's inputs" in result.stdout
    assert "app_requirements_file is 'requirements.txt' but" in result.stdout
    assert "(app_source_path) has no such file. It has a pyproject.toml" in result.stdout
    assert 'app_requirements_file: "" and app_install_project: true' in result.stdout
    assert "changed=0" in result.stdout and "preflight passed" not in result.stdout


def test_a_missing_wsgi_module_fails_naming_the_variable(run, tmp_path) -> None:
    result = run(host_vars={"app_source_path": _source(tmp_path, wsgi="web.py")})
    assert result.returncode != 0
    assert "app_wsgi is 'wsgi:app' but" in result.stdout
    assert "has neither wsgi.py nor wsgi/__init__.py" in result.stdout
    assert "Its top-level modules: hello_app, web." in result.stdout
    assert "preflight passed" not in result.stdout


def test_an_archive_is_checked_from_its_member_list(run, tmp_path) -> None:
    source = _source(tmp_path)
    good, wrapped = tmp_path / "good.tar.gz", tmp_path / "wrapped.tar.gz"
    with tarfile.open(good, "w:gz") as archive:
        archive.add(source, arcname=".")
    with tarfile.open(wrapped, "w:gz") as archive:
        archive.add(source, arcname="hello")
    ok = run(host_vars={"app_source_type": "archive", "app_source_archive": str(good)},
             extra_vars={"app_wsgi": "hello_app:create_app()"})
    assert ok.returncode == 0, ok.stdout[-3000:]
    assert "preflight passed" in ok.stdout
    bad = run(host_vars={"app_source_type": "archive", "app_source_archive": str(wrapped)})
    assert bad.returncode != 0
    assert "(app_source_archive) has no such file" in bad.stdout
    assert "(app_source_archive) has neither wsgi.py nor wsgi/__init__.py" in bad.stdout
    assert "Every file of the archive is under hello/" in bad.stdout


def test_rollback_and_restart_do_not_depend_on_the_source(run, tmp_path) -> None:
    """rollback.yml and restart.yml validate the app role without its server role: no source check."""
    result = run(roles=["app"], host_vars={"app_source_path": _source(tmp_path, requirements=False, wsgi="web.py")})
    assert result.returncode == 0, result.stdout[-3000:]
    assert "preflight passed" in result.stdout


def test_the_warning_comes_before_the_failure_it_explains(run) -> None:
    """A misspelt source variable: the warning names the right one, then the argument checks fail on it."""
    result = run(host_vars={"app_source_path": ""}, extra_vars={"app_source_paht": "/srv/src/hello"})
    assert result.returncode != 0
    warning = result.stdout.index("[WARNING]: app_source_paht is set by extra vars")
    assert result.stdout.index("app_source_type is 'path' but its source is not set: set app_source_path") > warning
    assert "Did you mean app_source_path?" in result.stdout


def _survey_answers(playbook: str, **answers) -> dict:
    """What AWX sends as extra vars when a survey is launched with its defaults (multiple choice as strings)."""
    with open(os.path.join(ROOT, "awx", "surveys", playbook + ".json"), encoding="utf-8") as handle:
        spec = json.load(handle)["spec"]
    values = {q["variable"]: q["default"] for q in spec if q["default"] != ""}
    values.update(answers)
    return values


def test_the_deploy_survey_at_its_defaults_and_its_minimums_passes_the_deploy_preflight(run) -> None:
    """Every integer question of the deploy survey at its lowest value is accepted by the roles deploy.yml checks."""
    with open(os.path.join(ROOT, "awx", "surveys", "deploy.json"), encoding="utf-8") as handle:
        lowest = {q["variable"]: q["min"] for q in json.load(handle)["spec"] if q["type"] == "integer"}
    assert lowest["app_keep_releases"] == 2
    for answers in (_survey_answers("deploy"), _survey_answers("deploy", **lowest)):
        answers.update(flaskops_preflight_entry_points={"app": "deploy", "gunicorn": "main"})
        result = run(roles=["app", "gunicorn"], extra_vars=answers)
        assert result.returncode == 0, result.stdout[-3000:]
        assert "preflight passed" in result.stdout and _warnings(result.stdout) == [], result.stdout[-3000:]


def test_one_below_the_surveys_keep_releases_minimum_is_refused_by_the_app_role(run) -> None:
    """The survey's minimum is the role's: one less fails the preflight, naming the variable."""
    answers = _survey_answers("deploy", app_keep_releases=1, flaskops_preflight_entry_points={"app": "deploy", "gunicorn": "main"})
    result = run(roles=["app", "gunicorn"], extra_vars=answers)
    assert result.returncode != 0
    assert "app_keep_releases must be at least 2" in result.stdout
    assert "preflight passed" not in result.stdout


def test_a_weak_secret_is_refused_naming_the_key_and_never_the_value(run) -> None:
    weak = "your-secret-key-for-hello-app"
    result = run(roles=SITE_ROLES, group_vars={"app_secrets": {"FLASK_SECRET_KEY": weak, "MAIL_PASSWORD": "hunter2"}})
    assert result.returncode != 0
    assert "Check the application's inputs" in result.stdout
    assert "app_secrets.FLASK_SECRET_KEY is a well-known placeholder." in result.stdout
    assert "app_secrets.MAIL_PASSWORD is 7 bytes long, shorter than 16." in result.stdout
    assert weak not in result.stdout and "hunter2" not in result.stdout
    assert "changed=0" in result.stdout and "preflight passed" not in result.stdout


def test_a_short_random_secret_key_is_refused_a_strong_one_passes(run) -> None:
    short = run(extra_vars={"app_secrets": {"SECRET_KEY": "k3J9xqZ7wLm2Vb8Rt5Np"}})
    assert short.returncode != 0
    assert "app_secrets.SECRET_KEY is 20 bytes long, shorter than 32." in short.stdout
    assert "k3J9xqZ7wLm2Vb8Rt5Np" not in short.stdout
    strong = run(extra_vars={"app_secrets": {"SECRET_KEY": SECRET + "-Zq3vN8xK1pL6tR0wB5yH2mJ7", "DATABASE_URL": "x"}})
    assert strong.returncode == 0, strong.stdout[-3000:]
    assert "preflight passed" in strong.stdout


def test_a_weak_secret_may_be_allowed_by_name(run) -> None:
    result = run(group_vars={"app_secrets": {"MAIL_PASSWORD": "hunter2"}, "app_secrets_allow_weak": ["MAIL_PASSWORD"]})
    assert result.returncode == 0, result.stdout[-3000:]
    assert "preflight passed" in result.stdout
    assert _warnings(result.stdout) == []


@pytest.mark.parametrize("roles", [SITE_ROLES, ["app"], ["backup"]])
def test_a_missing_app_name_fails_naming_it(run, roles) -> None:
    """No role defaults app_name: the preflight's first task names it, before a default derived from it
    (app_user, nginx_upstream) fails to template with "'app_name' is undefined"."""
    result = run(roles=roles, host_vars={"app_name": None})
    assert result.returncode != 0
    assert "missing required arguments: app_name" in result.stdout, result.stdout[-3000:]
    assert "Check the role variables (required ones defined" in result.stdout
    assert "is undefined" not in result.stdout
    assert "certbot_cert_name" not in result.stdout, result.stdout[-3000:]
    assert "preflight passed" not in result.stdout


def test_a_world_readable_secret_shared_file_is_refused(run) -> None:
    files = [{"path": "instance/config.py", "content": "SECRET_KEY = 'x'", "secret": True, "mode": "0644"},
             {"path": "instance/public.txt", "content": "hello", "mode": "0644"}]
    result = run(group_vars={"app_shared_files": files})
    assert result.returncode != 0
    assert "app_shared_files: a file with secret true must not be accessible to other users" in result.stdout
    assert "got instance/config.py with modes 0644" in result.stdout
    files[0]["mode"] = "0600"
    assert run(group_vars={"app_shared_files": files}).returncode == 0


def test_nginx_without_app_name_needs_a_site_name(run) -> None:
    """The load balancers' play (certbot, nginx): no role requires app_name there, nginx_site_name follows it."""
    missing = run(roles=["certbot", "nginx"], host_vars={"app_name": None})
    assert missing.returncode != 0
    assert "nginx_site_name (default: app_name) must be a file name ([A-Za-z0-9._-]), got '': set app_name" in missing.stdout
    named = run(roles=["certbot", "nginx"], host_vars={"app_name": None}, extra_vars={"nginx_site_name": "front"})
    assert named.returncode == 0, named.stdout[-3000:]


def test_a_git_url_with_a_token_is_refused_without_printing_it(run) -> None:
    token = "ghp_0123456789abcdefNOTREAL"
    result = run(extra_vars={"app_source_type": "git", "app_git_repo": "https://deploy:%s@git.example.org/a/b.git" % token,
                             "app_git_version": "v1"})
    assert result.returncode != 0
    assert "app_git_repo holds a password or token" in result.stdout
    assert token not in result.stdout
    ssh = run(extra_vars={"app_source_type": "git", "app_git_repo": "git@git.example.org:a/b.git", "app_git_version": "v1"})
    assert ssh.returncode == 0, ssh.stdout[-3000:]
