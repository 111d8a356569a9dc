# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The pure logic of flaskops.deploy.venv_build: commands, fingerprint, plan, fallback packages."""

from __future__ import annotations

import json

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _venv as venv

UV = "/opt/flaskops/uv/bin/uv"
PATH = "/srv/hello/releases/r1/.venv"
PY = PATH + "/bin/python"


def test_uv_commands_requirements_only() -> None:
    assert venv.commands("uv", PATH, "/usr/bin/python3", create=True, uv=UV, requirements="/r/requirements.txt") == [
        ("create", [UV, "venv", "--seed", "--no-project", "--quiet", "--python", "/usr/bin/python3", PATH]),
        ("requirements", [UV, "pip", "install", "--python", PY, "--requirement", "/r/requirements.txt"]),
    ]


def test_pip_commands_requirements_only() -> None:
    assert venv.commands("pip", PATH, "/usr/bin/python3", create=True, requirements="/r/requirements.txt") == [
        ("create", ["/usr/bin/python3", "-m", "venv", PATH]),
        ("requirements", [PY, "-m", "pip", "install", "--requirement", "/r/requirements.txt"]),
    ]


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_every_step_gets_the_same_arguments_from_both_installers(installer: str) -> None:
    steps = venv.commands(installer, PATH, "/usr/bin/python3", create=False, uv=UV, requirements="/r/req.lock",
                          constraints="/r/c.txt", require_hashes=True, project="/r", wheels=["/r/app-1.0-py3-none-any.whl"],
                          packages=["six==1.16.0"])
    prefix = [UV, "pip", "install", "--python", PY] if installer == "uv" else [PY, "-m", "pip", "install"]
    assert steps == [
        ("requirements", prefix + ["--require-hashes", "--constraint", "/r/c.txt", "--requirement", "/r/req.lock"]),
        ("project", prefix + ["--constraint", "/r/c.txt", "/r"]),
        ("packages", prefix + ["--constraint", "/r/c.txt", "/r/app-1.0-py3-none-any.whl", "six==1.16.0"]),
    ]


def test_hashes_without_constraints_and_packages_without_wheels() -> None:
    steps = venv.commands("pip", PATH, "/usr/bin/python3", create=False, requirements="/r/req.lock",
                          require_hashes=True, packages=["six"])
    assert steps == [
        ("requirements", [PY, "-m", "pip", "install", "--require-hashes", "--requirement", "/r/req.lock"]),
        ("packages", [PY, "-m", "pip", "install", "six"]),
    ]


def test_nothing_to_install_only_creates() -> None:
    assert venv.commands("pip", PATH, "/usr/bin/python3", create=True) == [
        ("create", ["/usr/bin/python3", "-m", "venv", PATH])]
    assert venv.commands("uv", PATH, "/usr/bin/python3", create=False, uv=UV) == []


def test_fallback_command_keeps_the_constraints() -> None:
    assert venv.fallback_command("uv", PATH, ["gunicorn==23.0.0"], "/r/c.txt", uv=UV) == [
        UV, "pip", "install", "--python", PY, "--constraint", "/r/c.txt", "gunicorn==23.0.0"]
    assert venv.fallback_command("pip", PATH, ["waitress"]) == [PY, "-m", "pip", "install", "waitress"]


def test_uv_without_a_binary_is_refused() -> None:
    with pytest.raises(venv.VenvError):
        venv.commands("uv", PATH, "/usr/bin/python3", create=True)


# --- fingerprint --------------------------------------------------------------------------------

BASE = dict(
    interpreter="/usr/bin/python3.11 3.11.2",
    requirements_sha256="a" * 64,
    constraints_sha256=None,
    require_hashes=False,
    project_hash=None,
    wheels_sha256=[("app-1.0-py3-none-any.whl", "b" * 64)],
    packages=["six==1.16.0"],
    fallback_packages=["gunicorn==23.0.0"],
)


@pytest.mark.parametrize("key, value", [
    ("interpreter", "/usr/bin/python3.12 3.12.1"),
    ("requirements_sha256", "c" * 64),
    ("requirements_sha256", None),
    ("constraints_sha256", "d" * 64),
    ("require_hashes", True),
    ("project_hash", "e" * 64),
    ("wheels_sha256", [("app-1.0-py3-none-any.whl", "f" * 64)]),
    ("wheels_sha256", [("app-1.1-py3-none-any.whl", "b" * 64)]),
    ("packages", ["six==1.17.0"]),
    ("fallback_packages", ["gunicorn==22.0.0"]),
])
def test_fingerprint_changes_with_each_input(key: str, value: object) -> None:
    before = venv.fingerprint(venv.fingerprint_inputs(**BASE))
    after = venv.fingerprint(venv.fingerprint_inputs(**dict(BASE, **{key: value})))
    assert before != after


def test_fingerprint_is_stable() -> None:
    assert venv.fingerprint(venv.fingerprint_inputs(**BASE)) == venv.fingerprint(venv.fingerprint_inputs(**BASE))
    assert len(venv.fingerprint(venv.fingerprint_inputs(**BASE))) == 64


def test_record_reads_back() -> None:
    inputs = venv.fingerprint_inputs(**BASE)
    document = venv.read_record(venv.record(inputs, "uv"))
    assert document is not None
    assert document["fingerprint"] == venv.fingerprint(inputs)
    assert document["inputs"] == inputs
    assert document["installer"] == "uv"
    assert venv.read_record("") is None
    assert venv.read_record("{not json") is None
    assert venv.read_record(json.dumps({"fingerprint": "x"})) is None


# --- plan ---------------------------------------------------------------------------------------

def _recorded(**changes: object) -> dict:
    return json.loads(venv.record(venv.fingerprint_inputs(**dict(BASE, **changes)), "uv"))


def test_plan() -> None:
    inputs = venv.fingerprint_inputs(**BASE)
    assert venv.plan(inputs, False, None)[0] == "create"
    assert venv.plan(inputs, False, None, exists=True)[0] == "rebuild"
    assert venv.plan(inputs, False, _recorded(), exists=True)[0] == "rebuild"
    assert venv.plan(inputs, True, _recorded()) == ("none", "the venv was built from these inputs")
    action, reason = venv.plan(inputs, True, _recorded(requirements_sha256="0" * 64))
    assert (action, reason) == ("install", "the inputs changed: requirements")
    action, reason = venv.plan(inputs, True, _recorded(interpreter="/usr/bin/python3.9 3.9.2"))
    assert action == "rebuild" and "/usr/bin/python3.9 3.9.2" in reason
    assert venv.plan(inputs, True, None)[0] == "install"


def test_plan_reads_the_legacy_record() -> None:
    inputs = venv.fingerprint_inputs(**BASE)
    assert venv.plan(inputs, True, None, "/usr/bin/python3.11 3.11.2\n")[0] == "install"
    assert venv.plan(inputs, True, None, "/usr/bin/python2.7 2.7.18\n")[0] == "rebuild"


# --- fallback packages --------------------------------------------------------------------------

def test_an_installed_distribution_is_not_installed_again_whatever_its_version() -> None:
    assert venv.missing_fallbacks(["gunicorn==23.0.0", "Waitress>=3"], ["gunicorn", "waitress"]) == []


def test_missing_distributions_are_returned_as_given_in_order() -> None:
    assert venv.missing_fallbacks(["waitress==3.0.2", "gunicorn==23.0.0"], ["flask"]) == [
        "waitress==3.0.2", "gunicorn==23.0.0"]


def test_names_compare_as_pip_does() -> None:
    installed = ["ansible-core", "zope.interface"]
    assert venv.missing_fallbacks(["Ansible_Core", "ansible.core==2.0", "zope-Interface", "flaskops_no.such-dist"],
                                  installed) == ["flaskops_no.such-dist"]


def test_a_specifier_without_a_name_is_kept() -> None:
    assert venv.missing_fallbacks(["./local/dir"], ["local"]) == ["./local/dir"]


def test_parse_installed() -> None:
    assert venv.parse_installed('["Flask", "gunicorn"]') == ["Flask", "gunicorn"]
    with pytest.raises(venv.VenvError):
        venv.parse_installed("Traceback")
    with pytest.raises(venv.VenvError):
        venv.parse_installed('{"a": 1}')


# --- installer and environment ------------------------------------------------------------------

def test_choose_installer() -> None:
    assert venv.choose_installer("auto", UV) == "uv"
    assert venv.choose_installer("auto", None) == "pip"
    assert venv.choose_installer("pip", UV) == "pip"
    assert venv.choose_installer("uv", UV) == "uv"
    with pytest.raises(venv.VenvError, match="no uv binary"):
        venv.choose_installer("uv", None)
    with pytest.raises(venv.VenvError):
        venv.choose_installer("conda", UV)


def test_uv_environment() -> None:
    env = venv.environment("uv", "/var/cache/flaskops/uv", "hardlink", {})
    assert env == {
        "UV_CACHE_DIR": "/var/cache/flaskops/uv",
        "UV_LINK_MODE": "hardlink",
        # Compiled at install, as pip does: the service cannot write bytecode into a root-owned release.
        "UV_COMPILE_BYTECODE": "1",
        "UV_SYSTEM_CERTS": "1",
        "UV_NATIVE_TLS": "1",
        "UV_NO_PROGRESS": "1",
        "UV_PYTHON_DOWNLOADS": "never",
    }


def test_uv_environment_takes_pips_ca_bundle_and_index_unless_uv_has_its_own() -> None:
    host = {"REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt", "PIP_INDEX_URL": "https://pypi.example/simple",
            "PIP_EXTRA_INDEX_URL": "https://extra.example/simple", "UV_EXTRA_INDEX_URL": "https://mine.example/simple"}
    env = venv.environment("uv", "/c", "copy", host)
    assert env["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt"
    assert env["UV_INDEX_URL"] == "https://pypi.example/simple"
    assert "UV_EXTRA_INDEX_URL" not in env
    assert env["UV_LINK_MODE"] == "copy"
    assert "SSL_CERT_FILE" not in venv.environment("uv", "/c", "hardlink", dict(host, SSL_CERT_FILE="/x.pem"))


def test_pip_environment() -> None:
    assert venv.environment("pip", "/var/cache/flaskops/pip") == {
        "PIP_CACHE_DIR": "/var/cache/flaskops/pip", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def test_tail() -> None:
    text = "\n".join(f"line {n}" for n in range(40)) + "\n\n"
    assert venv.tail(text, 3) == "line 37\nline 38\nline 39"
    assert venv.tail("") == ""


def test_reuse_takes_the_first_candidate_built_from_the_same_inputs() -> None:
    inputs = venv.fingerprint_inputs("/usr/bin/python3.11 3.11.2", requirements_sha256="aa")
    same = {"fingerprint": venv.fingerprint(inputs), "installer": "uv", "inputs": dict(inputs), "path": "/old/.venv"}
    other = dict(same, fingerprint="0" * 64)
    new = "/srv/hello/releases/r3/.venv"
    assert venv.reuse_choice(inputs, new, []) is None
    assert venv.reuse_choice(inputs, new, [("/r1/.venv", other, True), ("/r2/.venv", same, True)]) == (
        "/r2/.venv", "/old/.venv", "uv")
    # Recorded before the record named its path: the candidate's own path is the one its scripts name.
    assert venv.reuse_choice(inputs, new, [("/r2/.venv", {k: v for k, v in same.items() if k != "path"}, True)]) == (
        "/r2/.venv", "/r2/.venv", "uv")
    # One that does not run, has no record, is the venv itself or contains it (or the other way round): never.
    for candidate in [("/r2/.venv", same, False), ("/r2/.venv", None, True), (new, same, True),
                      ("/srv/hello/releases/r3", same, True), (new + "/sub", same, True)]:
        assert venv.reuse_choice(inputs, new, [candidate]) is None, candidate


def test_only_a_venv_without_project_or_wheels_is_reusable() -> None:
    assert venv.reusable(None, []) and venv.reusable("", ())
    assert not venv.reusable("/srv/hello/releases/r3", [])
    assert not venv.reusable(None, ["/srv/hello/releases/r3/dist/x-1.0-py3-none-any.whl"])


def test_rewrite_path_names_the_new_venv_where_the_old_one_was_named() -> None:
    old, new = "/srv/hello/releases/r1/.venv", "/srv/hello/releases/r2/.venv"
    script = b"#!/srv/hello/releases/r1/.venv/bin/python\nimport sys\n"
    assert venv.rewrite_path(script, old, new) == b"#!/srv/hello/releases/r2/.venv/bin/python\nimport sys\n"
    activate = b"VIRTUAL_ENV='/srv/hello/releases/r1/.venv'\nexport VIRTUAL_ENV\n"
    assert venv.rewrite_path(activate, old + "/", new) == b"VIRTUAL_ENV='/srv/hello/releases/r2/.venv'\nexport VIRTUAL_ENV\n"
    config = b"home = /usr/bin\ncommand = /usr/bin/python3 -m venv /srv/hello/releases/r1/.venv"
    assert venv.rewrite_path(config, old, new).endswith(b"-m venv /srv/hello/releases/r2/.venv")
    # Another path that begins like it, or no path at all: nothing to rewrite.
    assert venv.rewrite_path(b"#!/srv/hello/releases/r1/.venv2/bin/python\n", old, new) is None
    assert venv.rewrite_path(b"\x7fELF\x02\x01", old, new) is None
    assert venv.rewrite_path(script, old, "/a\\1/.venv") == b"#!/a\\1/.venv/bin/python\nimport sys\n"


def test_the_record_names_the_venv_path_when_given() -> None:
    inputs = venv.fingerprint_inputs("/usr/bin/python3.11 3.11.2")
    assert "path" not in json.loads(venv.record(inputs, "uv"))
    assert json.loads(venv.record(inputs, "uv", "/r/.venv"))["path"] == "/r/.venv"


def test_the_offline_seed_is_the_same_command_from_uvs_cache() -> None:
    create = venv.uv_create("/opt/flaskops/uv/bin/uv", "/usr/bin/python3", "/srv/r/.venv")
    assert venv.offline_first(create) == ["/opt/flaskops/uv/bin/uv", "venv", "--offline"] + create[2:]
