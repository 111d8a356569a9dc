# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""jail.local of the fail2ban role, rendered by ansible-core's template engine as the role renders it.

The sshd jail must count the probes of a publickey-only sshd ("Connection closed by authenticating user root ...
[preauth]"), which only the stock filter's aggressive mode does. Where fail2ban-regex exists, the rendered jail's
filter is also run on real sshd lines of such probes.
"""

from __future__ import annotations

import configparser
import pathlib
import shutil
import subprocess

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

REPO = pathlib.Path(__file__).resolve().parents[4]
ROLE = REPO / "roles" / "fail2ban"
BASE = {"app_name": "hello", "ansible_managed": "Ansible managed"}

# sshd's lines (Debian 12, OpenSSH 9.2) of a client probing root on a publickey-only server, of an unknown user, and
# of a key login that succeeded.
ROOT_PROBE = "Nov 29 15:00:02 web sshd[102]: Connection closed by authenticating user root 172.18.0.3 port 40002 [preauth]"
UNKNOWN_USER = "Nov 29 15:00:01 web sshd[101]: Invalid user nosuchuser1 from 172.18.0.4 port 40000"
KEY_LOGIN = "Nov 29 15:00:03 web sshd[103]: Accepted publickey for root from 172.18.0.5 port 40004 ssh2: ED25519 SHA256:x"


def render_jail(overrides=None):
    loader = DataLoader()
    variables = dict(loader.load_from_file(str(ROLE / "defaults" / "main.yml"), trusted_as_template=True))
    variables.update(BASE)
    variables.update(overrides or {})
    variables.update(loader.load_from_file(str(ROLE / "vars" / "main.yml"), trusted_as_template=True))
    templar = Templar(loader=loader, variables=variables)
    source = (ROLE / "templates" / "jail.local.j2").read_text(encoding="utf-8")
    text = templar.template(trust_as_template(source), escape_backslashes=False)
    jail = configparser.ConfigParser(interpolation=None)
    jail.read_string(text)
    return jail


def test_sshd_jail_counts_preauth_probes_by_default():
    jail = render_jail()
    assert jail["sshd"]["enabled"] == "true"
    assert jail["sshd"]["mode"] == "aggressive"
    assert jail["sshd"]["backend"] == "systemd"


def test_sshd_mode_is_settable():
    assert render_jail({"fail2ban_sshd_mode": "normal"})["sshd"]["mode"] == "normal"


@pytest.mark.skipif(shutil.which("fail2ban-regex") is None, reason="fail2ban-regex is not installed here")
@pytest.mark.parametrize(("line", "failure"), [(ROOT_PROBE, True), (UNKNOWN_USER, True), (KEY_LOGIN, False)])
def test_the_jails_filter_matches_probes_of_a_publickey_only_sshd(tmp_path, line, failure):
    mode = render_jail()["sshd"]["mode"]
    log = tmp_path / "auth.log"
    log.write_text(line + "\n", encoding="utf-8")
    out = subprocess.run(["fail2ban-regex", str(log), "sshd[mode=%s]" % mode], capture_output=True, text=True,
                         check=True).stdout
    assert ("Lines: 1 lines, 0 ignored, 1 matched" in out) is failure, out
