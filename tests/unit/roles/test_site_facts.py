# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The web play of site.yml gathers the fact subsets its roles read (min, network, hardware), not every subset: each
fact a role of that play reads (ansible_facts['name'] or ansible_facts.name) is one these subsets gather."""

from __future__ import annotations

import pathlib
import re

import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
# The roles the web play runs (its own and those they include), and the facts min, network and hardware gather that
# they read.
ROLES = ("certbot", "nginx", "app", "gunicorn", "waitress", "systemd", "python_venv", "ufw", "fail2ban", "backup")
GATHERED = {
    "min": {"os_family", "distribution", "distribution_release", "distribution_major_version", "env", "pkg_mgr",
            "service_mgr", "python", "user_id", "date_time", "hostname", "fqdn", "nodename", "architecture"},
    "network": {"default_ipv4", "default_ipv6", "all_ipv4_addresses", "all_ipv6_addresses", "interfaces"},
    "hardware": {"processor_vcpus", "processor_count", "processor_cores", "memtotal_mb", "memfree_mb", "mounts"},
}
FACT = re.compile(r"ansible_facts(?:\[['\"]([a-z0-9_]+)['\"]\]|\.([a-z0-9_]+))|\bansible_(default_ipv[46]|all_ipv[46]_addresses)\b")


def web_play():
    plays = yaml.safe_load((REPO / "playbooks" / "site.yml").read_text(encoding="utf-8"))
    [play] = [p for p in plays if "roles" in p and any("app" in str(r) for r in p["roles"])]
    return play


def read_facts():
    names = set()
    for role in ROLES:
        for path in (REPO / "roles" / role).rglob("*"):
            if path.is_file() and path.suffix in (".yml", ".j2"):
                for match in FACT.finditer(path.read_text(encoding="utf-8")):
                    names.add(next(group for group in match.groups() if group))
    return names


def test_the_web_play_gathers_min_network_and_hardware_only():
    play = web_play()
    assert play["gather_facts"] is True
    assert sorted(play["gather_subset"]) == ["hardware", "network"]


def test_every_fact_the_roles_of_the_web_play_read_is_gathered():
    gathered = set().union(*GATHERED.values())
    read = read_facts()
    assert {"all_ipv4_addresses", "processor_vcpus", "memtotal_mb"} <= read
    assert read <= gathered, sorted(read - gathered)
