# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""No playbook warns on a single-tier inventory (web hosts only, no load balancer group).

``ansible-playbook --list-hosts`` resolves every play's host pattern as a run does, without a host: all playbooks
against inventories/demo (windows.yml against its own single-tier inventory) must print no [WARNING]. The load
balancers' plays still find group lb where there is one, and a pattern given explicitly still warns when it matches
nothing.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PLAYBOOKS = sorted(p.name for p in (ROOT / "playbooks").glob("*.yml"))
INVENTORY = {"windows.yml": "inventories/example/windows.yml"}


@pytest.fixture(scope="module")
def collections_path(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("collections")
    namespace = root / "ansible_collections" / "flaskops"
    namespace.mkdir(parents=True)
    os.symlink(ROOT, namespace / "deploy")
    return str(root)


def list_hosts(collections_path: str, inventory: str, playbooks: list[str], *extra: str) -> str:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    result = subprocess.run(
        ["ansible-playbook", "-i", inventory, "--list-hosts", *extra, *("playbooks/" + name for name in playbooks)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if "WARNING" in line]


def test_no_playbook_warns_on_a_single_tier_inventory(collections_path) -> None:
    linux = [name for name in PLAYBOOKS if name not in INVENTORY]
    assert {"site.yml", "deploy.yml"} <= set(linux)
    output = list_hosts(collections_path, "inventories/demo", linux)
    assert warnings(output) == [], output
    assert output.count("playbook: ") == len(linux)
    for name, inventory in INVENTORY.items():
        output = list_hosts(collections_path, inventory, [name])
        assert warnings(output) == [], output


def test_the_load_balancer_plays_still_find_group_lb(collections_path) -> None:
    output = list_hosts(collections_path, "inventories/example", ["site.yml"])
    assert warnings(output) == [], output
    assert output.count("pattern: ['lb']") == 2
    assert output.count("lb1.example.org") == 2


def test_a_pattern_given_explicitly_still_warns_when_it_matches_nothing(collections_path) -> None:
    output = list_hosts(collections_path, "inventories/demo", ["site.yml"], "-e", "flaskops_lb_hosts=balancers")
    assert warnings(output) == ["[WARNING]: Could not match supplied host pattern, ignoring: balancers"]
