"""awx/configure.yml without an AWX server: its syntax, and every awx.awx task's arguments validated by the module itself.

The validation harness: a copy of the awx.awx collection of the controller venv (every file a link to the real one)
whose module_utils/controller_api.py ends with a patch: ControllerModule.__init__ builds the AnsibleModule from the
module's own argument_spec (plus the connection options), which checks option names, types, choices, required
options and the module's mutually_exclusive / required_if rules, and then exits with the validated parameters instead
of connecting to a controller. ansible-playbook runs the real playbook through it, with its loops, conditions and
lookups, so each job template's survey_spec is checked as the module receives it. What the harness cannot check: the
API's answers (objects found by name, credential type names, survey rules the server enforces; see
test_awx_surveys.py for those rules checked offline).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOK = ROOT / "awx" / "configure.yml"
# summary.yml is imported at the end of the other playbooks (their run summary), never run on its own: no job template.
PLAYBOOKS = sorted(p.stem for p in (ROOT / "playbooks").glob("*.yml") if p.stem != "summary")
SECRETS = {
    "flaskops_awx_machine_ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nmachine-key-never-shown\n-----END OPENSSH PRIVATE KEY-----",
    "flaskops_awx_vault_password": "vault-password-never-shown",
    "flaskops_awx_scm_ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nscm-key-never-shown\n-----END OPENSSH PRIVATE KEY-----",
    "flaskops_awx_registry_password": "registry-password-never-shown",
}
PATCH = '''

# --- validation harness (tests/unit/awx/test_awx_configure.py): validate the arguments, never connect ---
def _flaskops_validate_only(self, argument_spec=None, direct_params=None, error_callback=None, warn_callback=None, **kwargs):
    full_argspec = {}
    full_argspec.update(ControllerModule.AUTH_ARGSPEC)
    full_argspec.update(argument_spec or {})
    kwargs["supports_check_mode"] = True
    AnsibleModule.__init__(self, argument_spec=full_argspec, **kwargs)
    self.exit_json(changed=False, flaskops_validated=True, flaskops_params=self.params)


ControllerModule.__init__ = _flaskops_validate_only
'''


def _awx_collection() -> pathlib.Path:
    import ansible_collections  # the `ansible` package's collections

    for base in ansible_collections.__path__:
        path = pathlib.Path(base) / "awx" / "awx"
        if (path / "MANIFEST.json").is_file():
            return path
    pytest.skip("the awx.awx collection is not installed (the `ansible` package brings it up to 12.x)")


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> pathlib.Path:
    """A collections path whose awx.awx validates its arguments and exits."""
    real = _awx_collection()
    root = tmp_path_factory.mktemp("harness") / "ansible_collections" / "awx" / "awx"
    root.mkdir(parents=True)
    for entry in real.iterdir():
        if entry.name != "plugins":
            os.symlink(entry, root / entry.name)
    (root / "plugins").mkdir()
    for entry in (real / "plugins").iterdir():
        if entry.name != "module_utils":
            os.symlink(entry, root / "plugins" / entry.name)
    utils = root / "plugins" / "module_utils"
    utils.mkdir()
    for entry in (real / "plugins" / "module_utils").iterdir():
        if entry.name == "controller_api.py":
            (utils / entry.name).write_text(entry.read_text(encoding="utf-8") + PATCH, encoding="utf-8")
        elif entry.name != "__pycache__":
            os.symlink(entry, utils / entry.name)
    return root.parents[2]


def _run(harness: pathlib.Path, tmp_path: pathlib.Path, extra: dict, playbook: pathlib.Path = PLAYBOOK, *args: str):
    (tmp_path / "ansible.cfg").write_text("[defaults]\nretry_files_enabled = false\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(harness),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_PIPELINING="1", ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_HOME=str(tmp_path / "home"),
               CONTROLLER_HOST="https://awx.invalid", CONTROLLER_OAUTH_TOKEN="token-never-shown",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    return subprocess.run(
        ["ansible-playbook", "-i", "localhost,", str(playbook), "-e", "ansible_python_interpreter=" + sys.executable,
         "-e", "@" + str(tmp_path / "extra.json"), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )


def _results(proc) -> dict[str, list[dict]]:
    """Task name -> its results (one per loop item), from the json callback."""
    assert proc.stdout.lstrip().startswith("{"), proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    results: dict[str, list[dict]] = {}
    for task in out["plays"][0]["tasks"]:
        result = task["hosts"]["localhost"]
        results[task["task"]["name"]] = result.get("results", [result])
    return results


def test_syntax_check():
    _awx_collection()  # the `ansible` package brings awx.awx up to 12.x; from 13 on it is installed on its own
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    r = subprocess.run(["ansible-playbook", "--syntax-check", "-i", "localhost,", str(PLAYBOOK)],
                       cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture(scope="module")
def full_run(harness, tmp_path_factory):
    """Every optional credential set, so that every task runs."""
    tmp = tmp_path_factory.mktemp("full")
    extra = dict(SECRETS, flaskops_awx_registry_host="registry.example.org", flaskops_awx_registry_username="robot")
    proc = _run(harness, tmp, extra)
    return proc, _results(proc)


def test_every_awx_task_passes_the_modules_argument_validation(full_run):
    proc, results = full_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    awx_tasks = [name for name in results if name != "Check that the secrets come from variables"]
    assert len(awx_tasks) == 11
    for name in awx_tasks:
        for result in results[name]:
            assert not result.get("failed") and not result.get("skipped"), (name, result)
            # no_log tasks (the credentials) hide the result; the harness's module exits ok only once it validated.
            assert result.get("flaskops_validated") is True or result.get("censored"), (name, result)


def test_a_job_template_with_its_survey_for_every_playbook(full_run):
    results = full_run[1]
    templates = results["Create a job template with its survey for every playbook"]
    by_playbook = {r["flaskops_params"]["playbook"]: r["flaskops_params"] for r in templates}
    assert sorted(by_playbook) == ["playbooks/%s.yml" % p for p in PLAYBOOKS]
    for playbook, params in by_playbook.items():
        survey = json.loads((ROOT / "awx" / "surveys" / (pathlib.Path(playbook).stem + ".json")).read_text())
        assert params["survey_enabled"] is True
        assert params["survey_spec"] == survey
        assert params["name"] == survey["name"]
        assert params["execution_environment"] == "flaskops ee"
        assert params["inventory"] == params["project"] == "flaskops"
    assert by_playbook["playbooks/site.yml"]["credentials"] == ["flaskops machine", "flaskops vault"]
    assert by_playbook["playbooks/windows.yml"]["credentials"] == ["flaskops vault"]
    assert by_playbook["playbooks/validate.yml"]["ask_job_type_on_launch"] is False


def test_the_workflow_links_existing_job_templates(full_run):
    results = full_run[1]
    (workflow,) = results["Create the deploy workflow (deploy, then validate; roll back when the deploy fails)"]
    names = {r["flaskops_params"]["name"] for r in results["Create a job template with its survey for every playbook"]}
    nodes = workflow["flaskops_params"]["workflow_nodes"]
    identifiers = {node["identifier"] for node in nodes}
    for node in nodes:
        assert node["unified_job_template"]["name"] in names
        for links in node.get("related", {}).values():
            assert {link["identifier"] for link in links} <= identifiers


def test_no_secret_is_shown(full_run):
    proc = full_run[0]
    for secret in list(SECRETS.values()) + ["token-never-shown"]:
        for line in secret.splitlines():
            assert line.startswith("-----") or line not in proc.stdout + proc.stderr


def test_no_secret_is_written_in_the_playbook():
    """Every credential input and the connection options are variables, never literal values."""
    play = yaml.safe_load(PLAYBOOK.read_text())[0]
    for task in play["tasks"]:
        if "awx.awx.credential" in task:
            assert task.get("no_log") is True, task["name"]
            for key, value in task["awx.awx.credential"]["inputs"].items():
                assert str(value).startswith("{{") and str(value).endswith("}}"), (task["name"], key)
    for key, value in play["module_defaults"]["group/awx.awx.controller"].items():
        assert str(value).startswith("{{ flaskops_awx_controller_"), key
    for key, value in play["vars"].items():
        if any(word in key for word in ("password", "ssh_key", "token")):
            assert value == "", key


def test_optional_credentials_are_skipped_when_their_secret_is_empty(harness, tmp_path):
    proc = _run(harness, tmp_path, {"flaskops_awx_machine_ssh_key": SECRETS["flaskops_awx_machine_ssh_key"],
                                    "flaskops_awx_playbooks": ["site", "windows"]})
    results = _results(proc)
    assert proc.returncode == 0, proc.stdout[-4000:]
    for name in ("Create the vault credential (the inventory's vaulted files)", "Create the source control credential",
                 "Create the container registry credential"):
        assert results[name][0].get("skipped") is True, name
    templates = results["Create a job template with its survey for every playbook"]
    assert {tuple(r["flaskops_params"]["credentials"]) for r in templates} == {("flaskops machine",), ()}
    assert results["Create the project"][0]["flaskops_params"]["credential"] is None


def test_a_missing_machine_key_stops_before_any_change(harness, tmp_path):
    proc = _run(harness, tmp_path, {})
    assert proc.returncode != 0
    results = _results(proc)
    assert list(results) == ["Check that the secrets come from variables"]


def test_the_harness_refuses_an_option_the_module_does_not_have(harness, tmp_path):
    """Without this, a harness that accepted anything would pass the tests above."""
    copy = tmp_path / "awx"
    copy.mkdir()
    shutil.copytree(ROOT / "awx" / "surveys", copy / "surveys")
    text = PLAYBOOK.read_text()
    assert "        name: \"{{ flaskops_awx_organization }}\"\n        state: present\n" in text
    # The first awx.awx task (the organization), so that the run stops early.
    text = text.replace("        name: \"{{ flaskops_awx_organization }}\"\n        state: present\n",
                        "        name: \"{{ flaskops_awx_organization }}\"\n        max_host: 10\n        state: present\n", 1)
    (copy / "configure.yml").write_text(text)
    proc = _run(harness, tmp_path, SECRETS, copy / "configure.yml")
    assert proc.returncode != 0
    results = _results(proc)
    (organization,) = results["Create the organization"]
    assert organization["failed"] is True
    assert "Unsupported parameters" in organization["msg"] and "max_host" in organization["msg"], organization["msg"]
