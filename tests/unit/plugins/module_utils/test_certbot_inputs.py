# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the certbot role's input checks (module_utils/_certbot_inputs.py, behind flaskops.deploy.certbot_inputs):
each mode's inputs pass, each check refuses an input naming the variable to change, and the domains a provided
certificate covers."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _certbot_inputs as ci


def inputs(**extra: t.Any) -> dict[str, t.Any]:
    base = {
        "certbot_tls_mode": "letsencrypt",
        "certbot_domains": ["hello.example.com", "www.hello.example.com"],
        "certbot_cert_name": "hello",
        "certbot_acme_server": "https://acme-v02.api.letsencrypt.org/directory",
        "certbot_acme_ca_bundle": "",
        "certbot_email": "ops@example.com",
        "certbot_register_unsafely_without_email": False,
        "certbot_eab_kid": "",
        "certbot_eab_hmac_key": "",
        "certbot_provided_certificate": "",
        "certbot_provided_private_key": "",
    }
    base.update(extra)
    return base


def test_each_mode_passes_with_its_inputs():
    assert ci.problems(inputs()) == []
    assert ci.problems(inputs(certbot_tls_mode="selfsigned", certbot_domains=["*.hello.example.com"], certbot_email="")) == []
    assert ci.problems(inputs(certbot_tls_mode="provided", certbot_provided_certificate="a.pem",
                              certbot_provided_private_key="a.key")) == []
    assert ci.problems(inputs(certbot_tls_mode="none", certbot_domains="nonsense", certbot_cert_name="")) == []


@pytest.mark.parametrize("extra, start", [
    ({"certbot_domains": []}, "certbot_domains (default: app_domains) must be a non-empty list of distinct"),
    ({"certbot_domains": "hello.example.com"}, "certbot_domains (default: app_domains) must be a non-empty list"),
    ({"certbot_domains": ["localhost"]}, "certbot_domains (default: app_domains) must be a non-empty list"),
    ({"certbot_domains": ["Hello.example.com"]}, "certbot_domains (default: app_domains)"),
    ({"certbot_domains": ["a.example.com", "a.example.com"]}, "certbot_domains (default: app_domains)"),
    ({"certbot_cert_name": "-x"}, "certbot_cert_name must be a file name ([A-Za-z0-9._-], default: app_name), got '-x'"),
    ({"certbot_domains": ["*.example.com"]}, "letsencrypt mode needs certbot_domains without wildcards"),
    ({"certbot_acme_server": "http://acme.test/dir"}, "certbot_acme_server must be an https:// directory URL"),
    ({"certbot_email": ""}, "letsencrypt mode needs certbot_email"),
    ({"certbot_email": "ops@localhost"}, "certbot_email must be a valid address, got 'ops@localhost'"),
    ({"certbot_eab_kid": "kid"}, "certbot_eab_kid and certbot_eab_hmac_key must be set together"),
    ({"certbot_acme_ca_bundle": "not a pem"}, "certbot_acme_ca_bundle must be empty or PEM certificates"),
    ({"certbot_tls_mode": "provided"}, "provided mode needs certbot_provided_certificate ('') and"),
])
def test_each_check_refuses_naming_the_variable(extra, start):
    found = ci.problems(inputs(**extra))
    assert len(found) == 1 and found[0].startswith(start), found


def test_no_email_is_fine_when_registering_without_one():
    assert ci.problems(inputs(certbot_email="", certbot_register_unsafely_without_email=True)) == []


def test_the_names_a_certificate_covers():
    names = ["hello.example.com", "*.api.example.com"]
    assert ci.uncovered(["hello.example.com", "v1.api.example.com"], names) == []
    assert ci.uncovered(["www.hello.example.com", "a.b.api.example.com", "api.example.com"], names) == [
        "www.hello.example.com", "a.b.api.example.com", "api.example.com"]


def test_provided_problems_name_each_variable():
    assert ci.provided_problems(["a.example.com"], True, False, ["a.example.com"]) == []
    found = ci.provided_problems(["a.example.com", "b.example.com"], False, True, ["a.example.com"])
    assert found == [
        "certbot_provided_private_key does not match the public key of certbot_provided_certificate.",
        "certbot_provided_certificate has expired.",
        "certbot_provided_certificate does not cover certbot_domains [b.example.com] (it names ['a.example.com']).",
    ]
