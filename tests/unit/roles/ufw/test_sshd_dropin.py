"""The ufw role's sshd drop-in (templates/sshd-hardening.conf.j2), rendered with ansible-core's template engine as a
play renders it: role defaults < inventory < role vars.

sshd takes the first value it reads for a keyword, so each keyword must appear once: an override in ufw_sshd_options
replaces the baseline's value instead of following it (where sshd would ignore it).
"""

from __future__ import annotations

import pathlib

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "ufw"


def render(overrides=None):
    loader = DataLoader()
    variables = {}
    variables.update(loader.load_from_file(str(ROLE / "defaults" / "main.yml"), trusted_as_template=True))
    variables.update({"ansible_managed": "Ansible managed"})
    variables.update(overrides or {})
    variables.update(loader.load_from_file(str(ROLE / "vars" / "main.yml"), trusted_as_template=True))
    templar = Templar(loader=loader, variables=variables)
    source = (ROLE / "templates" / "sshd-hardening.conf.j2").read_text(encoding="utf-8")
    text = templar.template(trust_as_template(source), escape_backslashes=False)
    pairs = [line.split(None, 1) for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return pairs


def test_defaults_meet_lynis_ssh_7408():
    settings = dict(render())
    # The values Lynis 3.0 (SSH-7408) scores best, next to the login settings.
    assert settings["AllowTcpForwarding"] == "no"
    assert settings["AllowAgentForwarding"] == "no"
    assert settings["Compression"] == "no"
    assert settings["TCPKeepAlive"] == "no"
    assert settings["LogLevel"] == "VERBOSE"
    assert int(settings["MaxSessions"]) <= 2
    assert int(settings["ClientAliveCountMax"]) <= 2
    assert 0 < int(settings["ClientAliveInterval"]) <= 300
    assert int(settings["MaxAuthTries"]) <= 3
    assert settings["PasswordAuthentication"] == "no"
    assert settings["PermitRootLogin"] == "prohibit-password"


def test_each_keyword_once_and_options_replace_the_baseline():
    pairs = render({"ufw_sshd_options": {"AllowTcpForwarding": "local", "MaxSessions": 10, "AllowGroups": "sshusers"}})
    keywords = [pair[0].lower() for pair in pairs]
    assert len(keywords) == len(set(keywords)), keywords
    settings = dict(pairs)
    assert settings["AllowTcpForwarding"] == "local"
    assert settings["MaxSessions"] == "10"
    assert settings["AllowGroups"] == "sshusers"
    assert settings["TCPKeepAlive"] == "no"
