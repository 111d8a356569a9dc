# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The config check applies its HTTPS rules only when the site is served over HTTPS (app_config_check_https: auto)."""

from __future__ import annotations

import pytest

from ansible_collections.flaskops.deploy.tests.unit.roles.app.test_slot_units import expr, templar

LB_TLS = {"groups": {"lb": ["lb1"], "web": ["web1"]}, "hostvars": {"lb1": {"certbot_tls_mode": "letsencrypt"}}}
LB_PLAIN = {"groups": {"lb": ["lb1"], "web": ["web1"]}, "hostvars": {"lb1": {}}}


@pytest.mark.parametrize(
    ("inventory", "expected"),
    [
        ({}, False),
        ({"certbot_tls_mode": "none"}, False),
        ({"certbot_tls_mode": "letsencrypt"}, True),
        ({"certbot_tls_mode": "selfsigned"}, True),
        ({"certbot_tls_mode": "provided"}, True),
        ({"nginx_tls_certificate": "/etc/ssl/site.pem"}, True),
        (LB_TLS, True),
        (LB_PLAIN, False),
        ({"certbot_tls_mode": "none", "app_config_check_https": True}, True),
        ({"certbot_tls_mode": "letsencrypt", "app_config_check_https": False}, False),
        ({"certbot_tls_mode": "letsencrypt", "app_config_check_https": "auto"}, True),
    ],
)
def test_https_rules_follow_the_site(inventory, expected):
    assert bool(expr(templar(inventory), "__app_site_https | bool")) is expected


def test_every_finding_names_what_to_change():
    from ansible_collections.flaskops.deploy.plugins.module_utils._flask_config import RULE_IDS

    hints = expr(templar(), "__app_config_hints")
    generic = expr(templar(), "__app_config_hint_skip")
    assert "app_config_check_skip_rules" in generic
    for rule_id, hint in hints.items():
        assert rule_id in RULE_IDS, rule_id
        assert "app_" in hint, rule_id
