# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.certbot_inputs: runs on the controller only (the documentation is in plugins/modules)."""

from __future__ import annotations

import datetime
import typing as t

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.flaskops.deploy.plugins.module_utils import _certbot_inputs as certbot_inputs

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
except ImportError:  # pragma: no cover - ansible-core depends on cryptography
    x509 = None


def _public(key: t.Any) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def read_provided(certificate_pem: bytes, key_pem: bytes, domains: list[str],
                  now: datetime.datetime | None = None) -> list[str]:
    """The problems of a provided certificate (full chain, the leaf first) and its private key."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError:
        return ["certbot_provided_certificate is not a PEM certificate."]
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return ["certbot_provided_private_key is not a PEM private key without a passphrase."]
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return certbot_inputs.provided_problems(domains, _public(key.public_key()) == _public(certificate.public_key()),
                                            certificate.not_valid_after_utc < now, list(names))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _requires_connection = False

    ARGUMENT_SPEC = dict(
        certbot_tls_mode=dict(type="str", required=True, choices=["letsencrypt", "selfsigned", "provided", "none"]),
        certbot_domains=dict(type="raw", default=[]),
        certbot_cert_name=dict(type="str", default=""),
        certbot_acme_server=dict(type="str", default="https://acme-v02.api.letsencrypt.org/directory"),
        certbot_acme_ca_bundle=dict(type="str", default=""),
        certbot_email=dict(type="str", default=""),
        certbot_register_unsafely_without_email=dict(type="bool", default=False),
        certbot_eab_kid=dict(type="str", default="", no_log=True),
        certbot_eab_hmac_key=dict(type="str", default="", no_log=True),
        certbot_provided_certificate=dict(type="str", default=""),
        certbot_provided_private_key=dict(type="str", default="", no_log=False),
    )

    def _read(self, path: str) -> bytes | None:
        """A file of the controller, found as ansible.builtin.copy finds its src (the role's files/, the play's) and
        decrypted when it is vault-encrypted, as copy does."""
        real = None
        try:
            real = self._loader.get_real_file(self._find_needle("files", path), decrypt=True)
            with open(real, "rb") as handle:
                return handle.read()
        except (AnsibleError, OSError):
            return None
        finally:
            if real:
                self._loader.cleanup_tmp_file(real)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        problems = certbot_inputs.problems(args)
        provided_read = False
        if args["certbot_tls_mode"] == "provided" and not problems:
            certificate = self._read(args["certbot_provided_certificate"])
            key = self._read(args["certbot_provided_private_key"])
            if certificate is None or key is None:
                problems.append(certbot_inputs.provided_missing(args))
            else:
                problems += read_provided(certificate, key, args["certbot_domains"])
                provided_read = True
        # No key, HMAC or file content goes into the result: the problems name the variables only.
        result.update(changed=False, problems=problems, provided_read=provided_read)
        if problems:
            result.update(failed=True, msg=" | ".join(problems))
        else:
            result["msg"] = "the inputs of the certbot role are valid (mode %s)" % args["certbot_tls_mode"]
        return result
