# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The checks of the certbot role's inputs (flaskops.deploy.certbot_inputs), as pure functions.

``problems(values)`` takes the role's variables by their names and returns one message per problem, each naming the
inventory variable to change. The provided certificate is read by the action plugin (on the controller, with the
``cryptography`` library ansible-core depends on); what it found is judged here by ``provided_problems``.
"""

from __future__ import annotations

import re
import typing as t

# A fully qualified domain name in lower case (at least two labels, a top-level label that is not all digits).
DOMAIN = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]")
WILDCARD_DOMAIN = re.compile(r"(\*\.)?" + DOMAIN.pattern)
CERT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
ACME_SERVER = re.compile(r"https://[^/\s]+(/\S*)?")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


def _domains(domains: t.Any) -> list[str]:
    if not isinstance(domains, list):
        return ["certbot_domains (default: app_domains) must be a non-empty list of distinct, lower-case, fully "
                "qualified domain names, got %s" % (domains,)]
    bad = [name for name in domains if not (isinstance(name, str) and WILDCARD_DOMAIN.fullmatch(name))]
    if not domains or bad or len(set(map(str, domains))) != len(domains):
        return ["certbot_domains (default: app_domains) must be a non-empty list of distinct, lower-case, fully "
                "qualified domain names, got %s%s" % (domains, "; not valid: %s" % bad if bad else "")]
    return []


def _acme(values: dict[str, t.Any]) -> list[str]:
    problems = []
    wildcards = [name for name in values["certbot_domains"] or [] if str(name).startswith("*")]
    if wildcards:
        problems.append("letsencrypt mode needs certbot_domains without wildcards (HTTP-01 cannot validate them), got %s"
                        % wildcards)
    if not ACME_SERVER.fullmatch(values["certbot_acme_server"] or ""):
        problems.append("certbot_acme_server must be an https:// directory URL, got '%s'" % values["certbot_acme_server"])
    email = values["certbot_email"] or ""
    if not email and not values["certbot_register_unsafely_without_email"]:
        problems.append("letsencrypt mode needs certbot_email (an address for expiry notices) or "
                        "certbot_register_unsafely_without_email: true")
    elif email and not EMAIL.fullmatch(email):
        problems.append("certbot_email must be a valid address, got '%s'" % email)
    if bool(values["certbot_eab_kid"]) != bool(values["certbot_eab_hmac_key"]):
        problems.append("certbot_eab_kid and certbot_eab_hmac_key must be set together")
    bundle = values["certbot_acme_ca_bundle"] or ""
    if bundle and PEM_CERTIFICATE not in bundle:
        problems.append("certbot_acme_ca_bundle must be empty or PEM certificates (%s)" % PEM_CERTIFICATE)
    return problems


def provided_missing(values: dict[str, t.Any]) -> str:
    """The message for provided files that are not set, or not found on the controller."""
    return ("provided mode needs certbot_provided_certificate ('%s') and certbot_provided_private_key ('%s'): PEM files "
            "on the controller" % (values["certbot_provided_certificate"], values["certbot_provided_private_key"]))


def problems(values: dict[str, t.Any]) -> list[str]:
    """Every problem of the certbot role's inputs but the provided files' contents (``provided_problems``)."""
    mode = values["certbot_tls_mode"]
    if mode == "none":
        return []
    found = _domains(values["certbot_domains"])
    if not CERT_NAME.fullmatch(values["certbot_cert_name"] or ""):
        found.append("certbot_cert_name must be a file name ([A-Za-z0-9._-], default: app_name), got '%s'"
                     % values["certbot_cert_name"])
    if mode == "letsencrypt":
        found += _acme(values)
    if mode == "provided":
        missing = [name for name in ("certbot_provided_certificate", "certbot_provided_private_key") if not values[name]]
        if missing:
            found.append(provided_missing(values))
    return found


def uncovered(domains: list[str], names: list[str]) -> list[str]:
    """The domains a certificate's DNS names do not cover (a name itself, or a wildcard one level above it)."""
    return [domain for domain in domains
            if domain not in names and "*." + domain.split(".", 1)[-1] not in names]


def provided_problems(domains: list[str], key_matches: bool, expired: bool, names: list[str]) -> list[str]:
    """What is wrong with a provided certificate and key, read on the controller."""
    found = []
    if not key_matches:
        found.append("certbot_provided_private_key does not match the public key of certbot_provided_certificate.")
    if expired:
        found.append("certbot_provided_certificate has expired.")
    missing = uncovered(domains, names)
    if missing:
        found.append("certbot_provided_certificate does not cover certbot_domains [%s] (it names %s)."
                     % (", ".join(missing), names))
    return found
