# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the pure helpers behind the preflight (flaskops.deploy.preflight_vars and preflight_source)."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile

import pytest
import yaml

from ansible_collections.flaskops.deploy.plugins.module_utils import _preflight as pf

ROLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "roles")

DECLARED = {
    "app": {"app_name", "app_secrets", "app_env", "app_server"},
    "gunicorn": {"gunicorn_workers", "gunicorn_timeout"},
    "waitress": {"waitress_threads"},
    "systemd": {"systemd_units", "systemd_dropins", "systemd_hardening"},
    "python_venv": {"python_venv_path", "python_venv_python"},
    "nginx": {"nginx_server_names"},
    "ufw": {"ufw_rules"},
    "iis": {"app_name", "app_tls_mode", "iis_site_name"},
}
INCLUDES = {
    "app": [("systemd", {"systemd_units", "systemd_dropins"}), ("systemd", {"systemd_units", "systemd_dropins"}),
            ("python_venv", {"python_venv_path"})],
}


def _scope(roles):
    return pf.play_scope(roles, DECLARED, INCLUDES)


# ------------------------------------------------------------------------------------------------ declared names


def test_declared_names_reads_every_entry_point() -> None:
    spec = {"argument_specs": {"main": {"options": {"a_x": {}, "a_y": {}}}, "rollback": {"options": {"a_z": {}}},
                               "empty": {}, "none": None}}
    assert pf.declared_names(spec) == {"a_x", "a_y", "a_z"}
    assert pf.declared_names(None) == set()
    assert pf.declared_names({"argument_specs": None}) == set()


def test_role_of_picks_the_longest_prefix() -> None:
    assert pf.role_of("app_name") == "app"
    assert pf.role_of("python_venv_path") == "python_venv"
    assert pf.role_of("fail2ban_app_jail") == "fail2ban"
    assert pf.role_of("flaskops_hosts") is None
    assert pf.role_of("application") is None
    assert pf.role_of("x_y", {"x_": "x", "x_y": "xy"}) == "xy"


def test_role_includes_walks_blocks_and_skips_templated_names() -> None:
    tasks = yaml.safe_load("""
- name: server
  ansible.builtin.include_role:
    name: "flaskops.deploy.{{ app_server }}"
- name: units
  ansible.builtin.include_role:
    name: flaskops.deploy.systemd
  vars:
    systemd_units: []
    systemd_dropins: []
- name: build
  block:
    - name: venv
      ansible.builtin.import_role:
        name: flaskops.deploy.python_venv
      vars:
        python_venv_path: /x
  rescue:
    - name: short name
      include_role: nginx
    - name: other collection
      ansible.builtin.include_role:
        name: community.general.thing
- not a task
""")
    assert pf.role_includes(tasks) == [
        ("systemd", {"systemd_units", "systemd_dropins"}),
        ("python_venv", {"python_venv_path"}),
        ("nginx", set()),
    ]
    assert pf.role_includes(None) == []


def test_set_internally_keeps_what_every_include_sets() -> None:
    includes = [("systemd", {"systemd_units", "systemd_dropins"}), ("systemd", {"systemd_units"}), ("nginx", set())]
    assert pf.set_internally(includes) == {"systemd": {"systemd_units"}, "nginx": set()}


# ------------------------------------------------------------------------------------------------ play scope


def test_play_scope_counts_included_roles_less_their_internal_inputs() -> None:
    scope = _scope(["app", "gunicorn"])
    assert scope.roles == ["app", "gunicorn"]
    assert scope.included == {"systemd": ["app"], "python_venv": ["app"]}
    assert "systemd_hardening" in scope.known and "python_venv_python" in scope.known
    assert "systemd_units" not in scope.known and "python_venv_path" not in scope.known
    assert scope.owned["systemd_units"] == ("app", "systemd")
    assert {"app_", "gunicorn_", "systemd_", "python_venv_"} == scope.prefixes


def test_play_scope_a_listed_role_is_not_an_included_one() -> None:
    scope = _scope(["app", "systemd"])
    assert "systemd" not in scope.included
    assert "systemd_units" in scope.known
    assert "systemd_units" not in scope.owned


def test_play_scope_follows_includes_transitively() -> None:
    includes = {"a": [("b", set())], "b": [("c", {"c_x"})]}
    declared = {"a": set(), "b": {"b_y"}, "c": {"c_x", "c_z"}}
    scope = pf.play_scope(["a"], declared, includes, {"a_": "a", "b_": "b", "c_": "c"})
    assert scope.included == {"b": ["a"], "c": ["b"]}
    assert scope.known == {"b_y", "c_z"}
    assert scope.owned == {"c_x": ("b", "c")}


def test_play_scope_owned_name_declared_directly_is_known() -> None:
    declared = dict(DECLARED, gunicorn=DECLARED["gunicorn"] | {"systemd_units"})
    scope = pf.play_scope(["app", "gunicorn"], declared, INCLUDES)
    assert "systemd_units" in scope.known and "systemd_units" not in scope.owned


# ------------------------------------------------------------------------------------------------ unknown names


def test_unknown_names_by_the_rule() -> None:
    scope = _scope(["app", "gunicorn"])
    names = [
        "app_name",  # declared
        "app_sercrets",  # typo of a role in the play
        "systemd_units",  # set by app itself
        "systemd_hardening",  # honoured through app's include
        "ufw_rules",  # a role that takes no part: not reported
        "ufw_rulez",  # a typo for a role that takes no part: reported
        "app_tls_mode",  # another role's (iis) input with the prefix of a role in the play
        "uwsgi_workers",  # no role declares it
        "waitress_threads",  # the other server, not in this play
        "flaskops_hosts",  # not a role prefix
        "ansible_host",
    ]
    assert pf.unknown_names(names, scope, DECLARED) == [
        "app_sercrets", "app_tls_mode", "systemd_units", "ufw_rulez", "uwsgi_workers",
    ]


def test_unknown_names_of_a_play_without_the_app_role() -> None:
    scope = _scope(["ufw"])
    assert pf.unknown_names(["app_name", "app_secrets", "ufw_rules", "ufw_rule", "app_secret"], scope, DECLARED) == [
        "app_secret", "ufw_rule",
    ]


def test_suggest() -> None:
    assert pf.suggest("app_sercrets", ["app_secrets", "app_env"]) == "app_secrets"
    assert pf.suggest("gunicorn_worker", ["gunicorn_workers", "gunicorn_timeout"]) == "gunicorn_workers"
    assert pf.suggest("app_zzz", ["app_secrets"]) is None
    assert pf.suggest("x", []) is None


# ------------------------------------------------------------------------------------------------ messages


def test_message_of_a_typo_suggests_the_name() -> None:
    scope = _scope(["app", "gunicorn"])
    message = pf.unknown_message("app_sercrets", ["extra vars"], scope, DECLARED)
    assert message.startswith("app_sercrets is set by extra vars, but no role of this play declares it")
    assert "looked in app, gunicorn; python_venv (included by app), systemd (included by app)" in message
    assert message.endswith("Did you mean app_secrets?")
    assert "\n" not in message


def test_message_of_a_typo_for_a_role_outside_the_play() -> None:
    message = pf.unknown_message("ufw_rulez", ["the inventory"], _scope(["app"]), DECLARED)
    assert message.endswith("Did you mean ufw_rules?")


def test_message_of_an_input_the_includer_sets() -> None:
    message = pf.unknown_message("systemd_units", ["the inventory", "extra vars"], _scope(["app", "gunicorn"]), DECLARED)
    assert "set by the inventory and extra vars" in message
    assert message.endswith("app sets systemd_units itself when it includes systemd, so this value is not used.")
    assert "Did you mean" not in message


def test_message_of_another_roles_input() -> None:
    message = pf.unknown_message("app_tls_mode", ["the inventory"], _scope(["app"]), DECLARED)
    assert message.endswith("it is an input of iis, which this play does not run.")


def test_message_without_a_close_name() -> None:
    message = pf.unknown_message("uwsgi_workers", ["extra vars"], _scope(["app"]), DECLARED)
    assert message.endswith("(looked in app; python_venv (included by app), systemd (included by app)).")


def test_the_roles_of_this_collection() -> None:
    """The real roles: app includes python_venv and systemd and sets systemd_units itself."""
    roles = sorted(name for name in os.listdir(ROLES) if os.path.isfile(os.path.join(ROLES, name, "meta", "argument_specs.yml")))
    declared, includes = {}, {}
    for role in roles:
        with open(os.path.join(ROLES, role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
            declared[role] = pf.declared_names(yaml.safe_load(handle))
        includes[role] = []
        tasks_dir = os.path.join(ROLES, role, "tasks")
        for name in sorted(os.listdir(tasks_dir)):
            with open(os.path.join(tasks_dir, name), encoding="utf-8") as handle:
                includes[role].extend(pf.role_includes(yaml.safe_load(handle)))
    assert set(pf.ROLE_PREFIXES.values()) - {"uwsgi"} <= set(roles)
    scope = pf.play_scope(["certbot", "nginx", "app", "gunicorn"], declared, includes)
    assert {"systemd", "python_venv"} <= set(scope.included)
    assert pf.unknown_names(["systemd_units", "app_sercrets", "app_secrets", "ufw_rules"], scope, declared) == [
        "app_sercrets", "systemd_units",
    ]


# ------------------------------------------------------------------------------------------------ source checks


@pytest.mark.parametrize(
    "wsgi, module",
    [("wsgi:app", "wsgi"), ("pkg.sub:application", "pkg.sub"), ("shop:create_app()", "shop"),
     ("shop.web:create_app('production', debug=False)", "shop.web"), (" wsgi:app ", "wsgi")],
)
def test_wsgi_module(wsgi: str, module: str) -> None:
    assert pf.wsgi_module(wsgi) == module


@pytest.mark.parametrize("wsgi", ["wsgi", "wsgi:", ":app", "pkg..sub:app", "pkg/sub:app", "1x:app", ""])
def test_wsgi_module_refuses_other_forms(wsgi: str) -> None:
    with pytest.raises(ValueError, match="app_wsgi must be module:callable"):
        pf.wsgi_module(wsgi)


def test_wsgi_candidates() -> None:
    assert pf.wsgi_candidates("wsgi") == ["wsgi.py", "wsgi/__init__.py"]
    assert pf.wsgi_candidates("pkg.sub") == ["pkg/sub.py", "pkg/sub/__init__.py"]


def test_normalize_member_and_single_top_directory() -> None:
    assert pf.normalize_member("./a/b/") == "a/b"
    assert pf.normalize_member("././wsgi.py") == "wsgi.py"
    assert pf.normalize_member("a\\b.py") == "a/b.py"
    assert pf.single_top_directory(["hello", "hello/wsgi.py", "hello/app/__init__.py"]) == "hello"
    assert pf.single_top_directory(["wsgi.py", "app/__init__.py"]) is None
    assert pf.single_top_directory(["wsgi.py"]) is None


def _check(files, requirements="requirements.txt", wsgi="wsgi:app", **kwargs):
    return pf.check_source(set(files).__contains__, "app_source_path", "src", requirements, wsgi, **kwargs)


def test_check_source_ok() -> None:
    assert _check(["requirements.txt", "wsgi.py"]) == []
    assert _check(["wsgi/__init__.py"], requirements="") == []
    assert _check(["req/prod.txt", "pkg/sub.py"], requirements="./req/prod.txt", wsgi="pkg.sub:create_app()") == []


def test_check_source_missing_requirements() -> None:
    problems = _check(["wsgi.py"])
    assert len(problems) == 1
    assert problems[0].startswith("app_requirements_file is 'requirements.txt' but src (app_source_path) has no such file.")
    assert 'or to "" for none' in problems[0]
    assert "app_install_project" not in problems[0]


@pytest.mark.parametrize("project", [["pyproject.toml"], ["setup.py"], ["pyproject.toml", "setup.py"]])
def test_check_source_missing_requirements_of_a_project(project) -> None:
    problems = _check(["wsgi.py"] + project)
    assert "It has a %s" % " and a ".join(project) in problems[0]
    assert 'set app_requirements_file: "" and app_install_project: true' in problems[0]


def test_check_source_missing_wsgi_module_lists_the_modules() -> None:
    files = ["requirements.txt", "app.py", "shop/__init__.py", "setup.py"]
    problems = _check(files, wsgi="web:app", top_level=pf.top_level_modules(files))
    assert problems == [
        "app_wsgi is 'web:app' but src (app_source_path) has neither web.py nor web/__init__.py."
        " Its top-level modules: app, shop."
        " Set app_wsgi to module:callable of the application's WSGI entry point."
    ]


def test_check_source_wsgi_given_as_a_file() -> None:
    problems = _check(["requirements.txt", "wsgi.py"], wsgi="wsgi.py:app")
    assert "has neither wsgi/py.py nor wsgi/py/__init__.py" in problems[0]
    assert "app_wsgi names a module, not a file: did you mean 'wsgi:app'?" in problems[0]


def test_check_source_reports_both_problems_and_the_wrapper_directory() -> None:
    problems = pf.check_source(set(["hello/wsgi.py"]).__contains__, "app_source_archive", "hello.tar.gz",
                               "requirements.txt", "wsgi:app", wrapper_dir="hello")
    assert [p.split(" ", 1)[0] for p in problems] == ["app_requirements_file", "app_wsgi"]
    assert all("(app_source_archive)" in p and "Every file of the archive is under hello/" in p for p in problems)


def test_check_source_bad_wsgi_form() -> None:
    assert _check(["requirements.txt"], wsgi="wsgi.py") == [
        "app_wsgi must be module:callable (the module may be dotted, the callable a factory call such as create_app()),"
        " got 'wsgi.py'."
    ]


def test_check_source_installed_project_may_provide_the_module() -> None:
    assert _check(["pyproject.toml", "src/shop/__init__.py"], requirements="", wsgi="shop:create_app()",
                  install_project=True) == []


def test_top_level_modules() -> None:
    assert pf.top_level_modules(["wsgi.py", "setup.py", "conftest.py", "pkg/__init__.py", "pkg/sub/__init__.py",
                                 "README.md", "tests/test_x.py"]) == ["pkg", "wsgi"]


# ------------------------------------------------------------------------------------------------ archives


def _tar(path, names, mode="w:gz", prefix=""):
    with tarfile.open(path, mode) as archive:
        for name in names:
            data = b"x = 1\n"
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_archive_members_of_tar_and_zip(tmp_path) -> None:
    _tar(tmp_path / "a.tar.gz", ["wsgi.py", "pkg/__init__.py"], prefix="./")
    _tar(tmp_path / "a.tar.xz", ["wsgi.py"], mode="w:xz")
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        archive.writestr("app/", "")
        archive.writestr("app/wsgi.py", "x = 1\n")
    assert sorted(pf.archive_members(str(tmp_path / "a.tar.gz"))) == ["pkg/__init__.py", "wsgi.py"]
    assert pf.archive_members(str(tmp_path / "a.tar.xz")) == ["wsgi.py"]
    assert pf.archive_members(str(tmp_path / "a.zip")) == ["app", "app/wsgi.py"]
    (tmp_path / "plain.txt").write_text("not an archive")
    with pytest.raises(ValueError, match="not a tar or zip archive"):
        pf.archive_members(str(tmp_path / "plain.txt"))


def test_directory_files(tmp_path) -> None:
    (tmp_path / "pkg" / "deep").mkdir(parents=True)
    (tmp_path / "wsgi.py").write_text("")
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "deep" / "x.py").write_text("")
    assert pf.directory_files(str(tmp_path)) == ["pkg/__init__.py", "wsgi.py"]


def test_resolve_source(tmp_path, monkeypatch) -> None:
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path)
    assert pf.resolve_source("path", "src") == str(tmp_path / "src")
    assert pf.resolve_source("path", "missing", lambda needle: "/found/" + needle) is None
    assert pf.resolve_source("archive", "app.tar.gz", lambda needle: "/roles/app/files/" + needle) == "/roles/app/files/app.tar.gz"
    assert pf.resolve_source("archive", "app.tar.gz", lambda needle: None) is None


def test_source_problems_of_a_directory(tmp_path) -> None:
    (tmp_path / "wsgi.py").write_text("")
    (tmp_path / "requirements.txt").write_text("flask\n")
    source = str(tmp_path)
    assert pf.source_problems("path", source, source, "requirements.txt", "wsgi:app") == []
    problems = pf.source_problems("path", source, source, "requirements.lock", "web:app")
    assert problems[0].startswith("app_requirements_file is 'requirements.lock' but %s (app_source_path)" % source)
    assert problems[1].startswith("app_wsgi is 'web:app' but %s (app_source_path) has neither web.py" % source)
    assert pf.source_problems("path", "gone", None, "", "wsgi:app") == [
        "app_source_path is 'gone' but it does not exist on the controller"
    ]
    assert pf.source_problems("path", "f", str(tmp_path / "wsgi.py"), "", "wsgi:app") == [
        "app_source_path is 'f' but it is not a directory on the controller"
    ]


def test_source_problems_of_an_archive(tmp_path) -> None:
    _tar(tmp_path / "ok.tar.gz", ["wsgi.py", "requirements.txt"])
    _tar(tmp_path / "wrapped.tar.gz", ["wsgi.py", "requirements.txt"], prefix="hello/")
    assert pf.source_problems("archive", "ok.tar.gz", str(tmp_path / "ok.tar.gz"), "requirements.txt", "wsgi:app") == []
    wrapped = pf.source_problems("archive", "w.tgz", str(tmp_path / "wrapped.tar.gz"), "requirements.txt", "wsgi:app")
    assert len(wrapped) == 2 and all("Every file of the archive is under hello/" in problem for problem in wrapped)
    (tmp_path / "plain.txt").write_text("not an archive")
    assert pf.source_problems("archive", "p", str(tmp_path / "plain.txt"), "", "wsgi:app") == [
        "app_source_archive is 'p' but it cannot be read: not a tar or zip archive"
    ]


# ---------------------------------------------------------------------------------------------------- secret strength

STRONG = "Zq3vN8xK1pL6tR0wB5yH2mJ7cF4gD9sA"  # 32 random characters


@pytest.mark.parametrize(
    "name,checked",
    [
        ("SECRET_KEY", True),
        ("FLASK_SECRET_KEY", True),
        ("secret_key", True),
        ("WEBHOOK_SECRET", True),
        ("STRIPE_API_KEY", True),
        ("KEY", True),
        ("GITHUB_TOKEN", True),
        ("MAIL_PASSWORD", True),
        ("DB_PASSWD", True),
        ("GPG_PASSPHRASE", True),
        ("DATABASE_URL", False),
        ("MAIL_USERNAME", False),
        ("APIKEY", False),
        ("KEYCLOAK_REALM", False),
        ("TOKEN_TTL", False),
    ],
)
def test_the_names_checked(name: str, checked: bool) -> None:
    assert pf.is_secret_name(name) is checked


def test_passwords_may_be_shorter_than_keys() -> None:
    assert pf.min_secret_bytes("FLASK_SECRET_KEY") == 32 == pf.SECRET_MIN_BYTES
    assert pf.min_secret_bytes("MAIL_PASSWORD") == 16 == pf.PASSWORD_MIN_BYTES
    assert pf.secret_weakness("MAIL_PASSWORD", "k3J9xqZ7wLm2Vb8R") is None
    assert pf.secret_weakness("API_TOKEN", "k3J9xqZ7wLm2Vb8R") == "is 16 bytes long, shorter than 32"


@pytest.mark.parametrize(
    "value,reason",
    [
        ("changeme", "is a well-known placeholder"),
        ("dev", "is a well-known placeholder"),
        ("your-secret-key", "is a well-known placeholder"),
        ("Secret", "is a well-known placeholder"),
        ("change-me-before-going-live-0123456789abcdef", "is a well-known placeholder"),
        ("", "is 0 bytes long, shorter than 32"),
        (None, "is 0 bytes long, shorter than 32"),
        (12345, "is 5 bytes long, shorter than 32"),
        ("k3J9xqZ7wLm2Vb8Rt5Np", "is 20 bytes long, shorter than 32"),
        ("ab" * 20, "has 1.00 bits of entropy per character, less than 3.0: a word or a pattern, not random data"),
        ("a" * 64, "has 0.00 bits of entropy per character, less than 3.0: a word or a pattern, not random data"),
        ("abcdefgh" * 4, "repeats the same 8 characters: a pattern, not random data"),
        ("0123456789abcdef" * 3, "repeats the same 16 characters: a pattern, not random data"),
    ],
)
def test_weak_secrets_and_why(value: object, reason: str) -> None:
    assert pf.secret_weakness("SECRET_KEY", value) == reason


@pytest.mark.parametrize(
    "value",
    [
        STRONG,
        "molecule-only-6f1d0c9b8e7a4b5c9d2e1f0a3b4c5d6e7f8091a2",
        "6f1d8c3b9a2e4f7d0c5b8a1e3f6d9c2b7a4e0f3d6c9b2a5e8f1d4c7b0a3e6f9d",
        "é" * 4 + STRONG,
    ],
)
def test_strong_secrets_pass(value: str) -> None:
    assert pf.secret_weakness("SECRET_KEY", value) is None


def test_the_secret_checks_agree_with_the_config_check() -> None:
    """What the preflight passes, the config check's secret-key rules pass too (same length, entropy, placeholders)."""
    from ansible_collections.flaskops.deploy.plugins.module_utils import _flask_config, _flask_facts

    for value in [STRONG, "x" * 40, "changeme", "k3J9xqZ7wLm2Vb8Rt5Np", "ab" * 20]:
        facts = _flask_facts.secret_facts(value)
        findings = [r.id for r in _flask_config.RULES if r.id.startswith("secret-key") and r.check(facts, {})]
        assert (pf.secret_weakness("SECRET_KEY", value) is None) <= (findings == []), value


def test_repeated_unit() -> None:
    assert pf.repeated_unit("abcabcabc") == 3
    assert pf.repeated_unit("aaaa") == 1
    assert pf.repeated_unit("abcabcab") == 0
    assert pf.repeated_unit("") == 0


def test_check_secrets_names_the_variable_and_never_the_value() -> None:
    secrets = {
        "FLASK_SECRET_KEY": "your-secret-key",
        "MAIL_PASSWORD": "hunter2",
        "SMTP_PASSWORD": "short-but-given",
        "API_TOKEN": STRONG,
        "DATABASE_URL": "sqlite:///x",
    }
    report = pf.check_secrets(secrets, allow_weak=["SMTP_PASSWORD"])
    assert report.checked == ["API_TOKEN", "FLASK_SECRET_KEY", "MAIL_PASSWORD"]
    assert report.allowed == ["SMTP_PASSWORD"]
    assert len(report.problems) == 2
    assert report.problems[0].startswith("app_secrets.FLASK_SECRET_KEY is a well-known placeholder. Set a random value")
    assert report.problems[0].endswith("or list FLASK_SECRET_KEY in app_secrets_allow_weak if it cannot change.")
    assert report.problems[1].startswith("app_secrets.MAIL_PASSWORD is 7 bytes long, shorter than 16.")
    text = " ".join(report.problems)
    for value in secrets.values():
        assert value not in text


def test_check_secrets_of_nothing() -> None:
    assert pf.check_secrets(None) == pf.SecretReport([], [], [])
    assert pf.check_secrets({"DEBUG": "1"}) == pf.SecretReport([], [], [])


# ------------------------------------------------------------------------------------------- missing required variables

REQUIRED_SPECS = {
    "app": {"argument_specs": {
        "main": {"options": {"app_name": {"type": "str", "required": True}, "app_env": {"type": "dict"}}},
        "restart": {"options": {"app_name": {"type": "str", "required": True},
                                "app_restart_mode": {"type": "str", "required": True, "default": "reload"}}},
    }},
    "backup": {"argument_specs": {"main": {"options": {"backup_password": {"type": "str", "required": True}}}}},
    "nginx": None,
}


def test_missing_required_names_each_absent_variable_with_the_roles_needing_it() -> None:
    assert pf.missing_required(REQUIRED_SPECS, None, {"app_env"}) == {"app_name": ["app"], "backup_password": ["backup"]}


def test_missing_required_is_empty_when_defined_even_as_none_and_ignores_options_with_a_default() -> None:
    assert pf.missing_required(REQUIRED_SPECS, {"app": "restart"}, {"app_name", "backup_password"}) == {}


def test_missing_required_reads_the_entry_point_of_the_play() -> None:
    specs = {"app": {"argument_specs": {"main": {"options": {}}, "deploy": {"options": {"app_name": {"required": True}}}}}}
    assert pf.missing_required(specs, None, set()) == {}
    assert pf.missing_required(specs, {"app": "deploy"}, set()) == {"app_name": ["app"]}


def test_missing_required_message_keeps_ansibles_words_and_names_the_roles() -> None:
    message = pf.missing_required_message({"app_name": ["app", "gunicorn"]})
    assert message.startswith("missing required arguments: app_name.")
    assert "app_name (roles: app, gunicorn)" in message
