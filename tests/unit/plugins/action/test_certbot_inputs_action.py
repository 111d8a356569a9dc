# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""flaskops.deploy.certbot_inputs through ansible-playbook: a provided certificate and key are read on the controller
(the key must be the certificate's, the certificate valid and covering the domains), every problem at once naming the
variables and never a key (the checks themselves: module_utils/test_certbot_inputs.py)."""

from __future__ import annotations

import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.flaskops.deploy.tests.unit.plugins.action.playbook import task_runner


def pem_pair(names, days=30):
    """A self-signed certificate for ``names`` valid ``days`` from now (negative: expired) and its key, in PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=days)) if days > 0 else (
        now + datetime.timedelta(days=days - 1), now + datetime.timedelta(days=days))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
                   .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return task_runner(tmp_path_factory, "certbot_inputs", ignore_errors=True)


def provided(tmp_path, certificate, key, domains):
    (tmp_path / "cert.pem").write_bytes(certificate)
    (tmp_path / "key.pem").write_bytes(key)
    return {"certbot_tls_mode": "provided", "certbot_domains": domains, "certbot_cert_name": "hello",
            "certbot_provided_certificate": str(tmp_path / "cert.pem"),
            "certbot_provided_private_key": str(tmp_path / "key.pem")}


def test_a_matching_valid_certificate_passes_in_check_mode(run, tmp_path):
    certificate, key = pem_pair(["hello.example.com", "*.hello.example.com"])
    proc, out = run(provided(tmp_path, certificate, key, ["hello.example.com", "www.hello.example.com"]), check_mode=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["failed"] is False and out["changed"] is False and out["problems"] == [] and out["provided_read"] is True


def test_a_foreign_key_an_expired_certificate_and_a_missing_domain(run, tmp_path):
    certificate, dummy = pem_pair(["hello.example.com"], days=-2)
    dummy, other_key = pem_pair(["hello.example.com"])
    proc, out = run(provided(tmp_path, certificate, other_key, ["hello.example.com", "api.example.com"]))
    assert out["failed"] is True and out["changed"] is False
    assert out["problems"] == [
        "certbot_provided_private_key does not match the public key of certbot_provided_certificate.",
        "certbot_provided_certificate has expired.",
        "certbot_provided_certificate does not cover certbot_domains [api.example.com] (it names ['hello.example.com']).",
    ]
    assert other_key.decode() not in proc.stdout + proc.stderr + json.dumps(out)


def test_missing_files_and_bad_pem(run, tmp_path):
    proc, out = run({"certbot_tls_mode": "provided", "certbot_domains": ["hello.example.com"], "certbot_cert_name": "h",
                     "certbot_provided_certificate": str(tmp_path / "none.pem"),
                     "certbot_provided_private_key": str(tmp_path / "none.key")})
    assert out["failed"] is True and out["problems"][0].startswith("provided mode needs certbot_provided_certificate")
    certificate, key = pem_pair(["hello.example.com"])
    proc, out = run(provided(tmp_path, b"not a certificate", key, ["hello.example.com"]))
    assert out["problems"] == ["certbot_provided_certificate is not a PEM certificate."]
    proc, out = run(provided(tmp_path, certificate, b"junk", ["hello.example.com"]))
    assert out["problems"] == ["certbot_provided_private_key is not a PEM private key without a passphrase."]


def test_letsencrypt_problems_at_once(run):
    proc, out = run({"certbot_tls_mode": "letsencrypt", "certbot_domains": ["*.example.com"], "certbot_cert_name": "h",
                     "certbot_acme_server": "http://acme", "certbot_eab_hmac_key": "c2VjcmV0LW5ldmVyLXByaW50ZWQ"})
    assert [problem.split(" ")[0] for problem in out["problems"]] == [
        "letsencrypt", "certbot_acme_server", "letsencrypt", "certbot_eab_kid"]
    assert "c2VjcmV0LW5ldmVyLXByaW50ZWQ" not in proc.stdout + proc.stderr + json.dumps(out)


def test_a_vault_encrypted_key_is_read_as_copy_reads_it(run, tmp_path, monkeypatch):
    from ansible.parsing.vault import VaultLib, VaultSecret

    certificate, key = pem_pair(["hello.example.com"])
    args = provided(tmp_path, certificate, key, ["hello.example.com"])
    vault = VaultLib([("default", VaultSecret(b"unit-test-vault-password"))])
    (tmp_path / "key.pem").write_bytes(vault.encrypt(key))
    (tmp_path / "vault-pass").write_text("unit-test-vault-password\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(tmp_path / "vault-pass"))
    proc, out = run(args)
    assert out["failed"] is False and out["provided_read"] is True, out
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE")
    proc, out = run(args)
    assert out["problems"][0].startswith("provided mode needs"), "an encrypted file without the password is not read"
