# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The backup role's units, rendered by ansible-core's template engine as the role renders them, and rated by
``systemd-analyze security --offline=yes`` where systemd-analyze exists (systemd 252 and later rate offline)."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

REPO = pathlib.Path(__file__).resolve().parents[4]
ROLE = REPO / "roles" / "backup"
BASE = {
    "app_name": "hello",
    "inventory_hostname": "web1",
    "ansible_managed": "Ansible managed",
    "app_env": {"FLASK_DATABASE": "/srv/hello/shared/instance/hello.sqlite3"},
    "backup_password": "unit-test-password",
}
UNITS = {"backup.service.j2": "hello-backup.service", "check.service.j2": "hello-backup-check.service",
         "notify.service.j2": "hello-backup-notify@.service"}
JOBS = ("hello-backup.service", "hello-backup-check.service")
# The ways the role is used: a local repository (no network), with ping URLs, remote repositories, PostgreSQL.
CASES = {
    "local": {},
    "local-pings": {"backup_ping_url": "https://hc.example/ok", "backup_ping_failure_url": "https://hc.example/fail"},
    "sftp": {"backup_repository": "sftp:backup@store.example:/srv/restic/hello"},
    "s3": {"backup_repository": "s3:https://s3.example/bucket/hello"},
    "rest": {"backup_repository": "rest:https://store.example/hello"},
    "local-postgresql": {"backup_postgresql_databases": ["hello"]},
    "rest-allow-list": {"backup_repository": "rest:https://192.0.2.10/hello", "backup_ip_address_allow": ["192.0.2.10/32"]},
    "s3-postgresql": {"backup_repository": "s3:https://s3.example/bucket/hello", "backup_postgresql_databases": ["hello"]},
}
# The bar for the backup units (the slots are held to 1.5), and the cases above it, each with its reason:
# - a remote repository without backup_ip_address_allow: restic needs the host's network (PrivateNetwork= off) and
#   Internet sockets (AF_INET, AF_INET6) to reach it, and any address may be the repository's (no IPAddressAllow=);
#   with an allow list it is 2.0;
# - sftp also reads root's SSH keys: ProtectHome=tmpfs with /root/.ssh bound read-only (ProtectHome=yes hides them);
# - PostgreSQL: runuser switches to its user for pg_dump (CAP_SETUID, CAP_SETGID, the @setuid system calls), and
#   pg_dump reaches the server through a Unix socket (AF_UNIX). With a local repository that is 1.4.
MAX_EXPOSURE = 2.0
ABOVE = {
    ("sftp", "hello-backup.service"): 2.1,
    ("s3", "hello-backup.service"): 2.1,
    ("rest", "hello-backup.service"): 2.1,
    ("s3-postgresql", "hello-backup.service"): 2.3,
}


def render(overrides=None):
    loader = DataLoader()
    variables = dict(loader.load_from_file(str(ROLE / "defaults" / "main.yml"), trusted_as_template=True))
    variables.update(BASE)
    variables.update(overrides or {})
    variables.update(loader.load_from_file(str(ROLE / "vars" / "main.yml"), trusted_as_template=True))
    templar = Templar(loader=loader, variables=variables)
    return {unit: templar.template(trust_as_template((ROLE / "templates" / src).read_text(encoding="utf-8")),
                                   escape_backslashes=False)
            for src, unit in UNITS.items()}


def directives(text):
    found = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.parametrize("case", ["local", "local-pings", "local-postgresql"])
def test_a_local_repository_gets_no_network(case):
    for unit in JOBS:
        d = directives(render(CASES[case])[unit])
        assert d["PrivateNetwork"] == ["yes"], unit
        assert d["RestrictAddressFamilies"] == ["AF_UNIX" if "postgresql" in case else "none"], unit
        assert d["IPAddressDeny"] == ["any"], unit
        assert "After" not in d, unit


def test_pings_are_sent_by_the_notify_unit():
    units = {unit: directives(text) for unit, text in render(CASES["local-pings"]).items()}
    assert units["hello-backup.service"]["OnSuccess"] == ["hello-backup-notify@backup-ok.service"]
    assert units["hello-backup.service"]["OnFailure"] == ["hello-backup-notify@backup-fail.service"]
    assert units["hello-backup-check.service"]["OnSuccess"] == ["hello-backup-notify@check-ok.service"]
    assert units["hello-backup-check.service"]["OnFailure"] == ["hello-backup-notify@check-fail.service"]
    notify = units["hello-backup-notify@.service"]
    assert notify["ExecStart"] == ["/usr/local/sbin/flaskops-backup --config /etc/flaskops-backup/hello.json notify %i"]
    assert notify["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert notify["CapabilityBoundingSet"] == [""]
    assert "ReadWritePaths" not in notify
    for unit, d in render().items():
        assert "OnSuccess" not in directives(d) and "OnFailure" not in directives(d), unit


def test_an_allow_list_limits_a_remote_repository():
    for unit in JOBS:
        d = directives(render(CASES["rest-allow-list"])[unit])
        assert d["IPAddressDeny"] == ["any"] and d["IPAddressAllow"] == ["192.0.2.10/32"], unit


@pytest.mark.parametrize("case", ["sftp", "s3", "rest"])
def test_remote_repositories_get_ipv4_and_ipv6_only(case):
    for unit in JOBS:
        d = directives(render(CASES[case])[unit])
        assert "PrivateNetwork" not in d, unit
        assert d["RestrictAddressFamilies"] == ["AF_INET AF_INET6"], unit
        assert d["After"] == ["network-online.target"], unit


def test_a_backed_up_home_directory_is_readable():
    backup = directives(render({"backup_paths": ["/home/hello/files"]})["hello-backup.service"])
    assert backup["ProtectHome"] == ["read-only"]


def test_only_the_backup_has_capabilities_and_writes_next_to_the_databases():
    units = {unit: directives(text) for unit, text in render().items()}
    backup, check = units["hello-backup.service"], units["hello-backup-check.service"]
    assert backup["CapabilityBoundingSet"] == ["CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_CHOWN"]
    assert check["CapabilityBoundingSet"] == [""]
    assert backup["ReadWritePaths"] == ["-/var/lib/flaskops-backup/hello -/var/cache/flaskops-backup/hello "
                                        "-/var/backups/flaskops/hello -/srv/hello/shared/instance"]
    assert check["ReadWritePaths"] == ["-/var/lib/flaskops-backup/hello -/var/cache/flaskops-backup/hello "
                                       "-/var/backups/flaskops/hello"]
    assert backup["ProtectSystem"] == check["ProtectSystem"] == ["strict"]
    assert backup["ProtectHome"] == check["ProtectHome"] == ["yes"]
    assert "BindReadOnlyPaths" not in backup


def test_sftp_reads_roots_ssh_keys_and_postgresql_may_switch_users():
    for unit in JOBS:
        text = render(CASES["sftp"])[unit]
        assert directives(text)["ProtectHome"] == ["tmpfs"]
        assert directives(text)["BindReadOnlyPaths"] == ["-/root/.ssh"]
    backup = directives(render(CASES["local-postgresql"])["hello-backup.service"])
    assert backup["RestrictAddressFamilies"] == ["AF_UNIX"]
    assert backup["CapabilityBoundingSet"] == ["CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_CHOWN CAP_SETUID CAP_SETGID"]
    assert backup["SystemCallFilter"][-1] == "@chown @setuid"


def exposure(directory, name, text):
    path = directory / name.replace("@", "-template")
    path.write_text(text, encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=%d" % (MAX_EXPOSURE * 10),
                             str(path)], capture_output=True, text=True, check=False)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    return float(found.group(1)), result.returncode


@pytest.fixture(scope="module")
def levels(tmp_path_factory):
    """systemd-analyze's exposure of each unit in each case (one run per unit)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here")
    found = {}
    for case, overrides in CASES.items():
        directory = tmp_path_factory.mktemp(case)
        for unit, text in render(overrides).items():
            found[case, unit] = exposure(directory, unit, text)
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_systemd_analyze_rates_each_unit_at_most_2(levels, case):
    for unit in UNITS.values():
        level, rc = levels[case, unit]
        assert level <= ABOVE.get((case, unit), MAX_EXPOSURE), "%s (%s): exposure %.1f" % (unit, case, level)
        assert (rc == 0) is (level <= MAX_EXPOSURE), "--threshold=20 disagrees: %s (%s) %.1f" % (unit, case, level)


def test_the_units_of_a_local_repository_stay_near_1(levels):
    assert levels["local-pings", "hello-backup.service"][0] <= 1.2
    assert levels["local-pings", "hello-backup-check.service"][0] <= 0.7
    assert levels["local-pings", "hello-backup-notify@.service"][0] <= 1.6
