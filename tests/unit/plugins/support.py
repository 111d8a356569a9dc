# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real test servers and certificates for the unit tests: no network mocking.

* ``make_pki`` writes a CA, a server certificate for localhost / 127.0.0.1 and a client certificate.
* ``serve_tcp``, ``serve_unix`` and ``serve_tls`` run the ``AppHandler`` web application in a thread,
  on 127.0.0.1 or on a unix socket.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import ipaddress
import json
import os
import socket
import socketserver
import ssl
import threading
import time
import typing as t

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HEALTHY_DOCUMENT = {"status": "ok", "checks": {"db": "ok", "cache": "ok"}, "workers": 3, "items": [{"name": "a"}]}


# --- certificates ---------------------------------------------------------------------------------

def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: str, key: ec.EllipticCurvePrivateKey) -> None:
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _write_cert(path: str, cert: x509.Certificate) -> None:
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def make_certificate(
    subject: str,
    not_after: datetime.datetime,
    issuer_cert: x509.Certificate | None = None,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    is_ca: bool = False,
    server_names: t.Sequence[str] = (),
    client: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer_name = issuer_cert.subject if issuer_cert is not None else _name(subject)
    signing_key = issuer_key if issuer_key is not None else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False
        )
    )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=True, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server_names:
        entries: list[x509.GeneralName] = []
        for name in server_names:
            try:
                entries.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                entries.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    return builder.sign(signing_key, hashes.SHA256()), key


def make_pki(directory: str, server_days: int = 30) -> dict[str, t.Any]:
    """Write ca.pem, server.pem + server.key (localhost, 127.0.0.1) and client.pem + client.key."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_cert, ca_key = make_certificate("flaskops test CA", now + datetime.timedelta(days=3650), is_ca=True)
    server_not_after = (now + datetime.timedelta(days=server_days)).replace(microsecond=0)
    server_cert, server_key = make_certificate(
        "localhost", server_not_after, ca_cert, ca_key, server_names=("localhost", "127.0.0.1")
    )
    client_cert, client_key = make_certificate(
        "health checker", now + datetime.timedelta(days=30), ca_cert, ca_key, client=True
    )
    paths = {name: os.path.join(directory, name) for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}
    _write_cert(paths["ca.pem"], ca_cert)
    _write_cert(paths["server.pem"], server_cert)
    _write_key(paths["server.key"], server_key)
    _write_cert(paths["client.pem"], client_cert)
    _write_key(paths["client.key"], client_key)
    return {
        "ca": paths["ca.pem"],
        "server_cert": paths["server.pem"],
        "server_key": paths["server.key"],
        "client_cert": paths["client.pem"],
        "client_key": paths["client.key"],
        "server_not_after": server_not_after,
    }


# --- the web application under test ---------------------------------------------------------------

class AppState:
    """What the application answers; tests change it between requests."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sequence: list[int] = []
        self.requests: list[dict[str, t.Any]] = []

    def next_status(self) -> int:
        with self.lock:
            return self.sequence.pop(0) if self.sequence else 200


class AppHandler(http.server.BaseHTTPRequestHandler):
    server_version = "TestApp/1.0"
    protocol_version = "HTTP/1.1"
    state: AppState

    def log_message(self, format: str, *args: t.Any) -> None:  # pylint: disable=redefined-builtin
        pass

    def address_string(self) -> str:
        return "unix" if not self.client_address else str(self.client_address[0])

    def _send(self, status: int, body: str | bytes, content_type: str = "text/plain; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        self.state.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._send(200, json.dumps(HEALTHY_DOCUMENT), "application/json",
                       {"X-Request-Id": "abc123", "Strict-Transport-Security": "max-age=63072000"})
        elif path == "/degraded":
            document = dict(HEALTHY_DOCUMENT, status="degraded", checks={"db": "down", "cache": "ok"})
            self._send(200, json.dumps(document), "application/json")
        elif path == "/down":
            self._send(503, "database unavailable")
        elif path == "/text":
            self._send(200, "hello world\nversion: 1.2.3\n")
        elif path == "/big":
            self._send(200, "x" * 2000)
        elif path == "/slow":
            time.sleep(0.4)
            self._send(200, "slow but fine")
        elif path == "/sequence":
            status = self.state.next_status()
            self._send(status, f"answer {status}")
        elif path == "/upgrade":
            # Like nginx's "return 301 https://$host$request_uri": the same host name, another scheme and port.
            port = self.path.split("port=", 1)[1] if "port=" in self.path else "443"
            host = (self.headers.get("Host") or "localhost").split(":", 1)[0]
            self._send(301, "", headers={"Location": f"https://{host}:{port}/healthz"})
        elif path == "/elsewhere":
            self._send(302, "", headers={"Location": "https://other.example/healthz"})
        elif path == "/redirect":
            self._send(301, "", headers={"Location": "/healthz"})
        elif path == "/echo":
            echo = {"method": self.command, "host": self.headers.get("Host"), "body": body,
                    "content_type": self.headers.get("Content-Type")}
            self._send(200, json.dumps(echo), "application/json")
        else:
            self._send(404, "not found")

    do_GET = do_HEAD = do_POST = do_OPTIONS = _route


class _ThreadingUnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _handler_for(state: AppState) -> type[AppHandler]:
    return type("BoundAppHandler", (AppHandler,), {"state": state})


@contextlib.contextmanager
def _running(server: socketserver.BaseServer) -> t.Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.contextmanager
def serve_tcp(state: AppState) -> t.Iterator[str]:
    """Serve the app on 127.0.0.1 (a free port); yield the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    server.daemon_threads = True
    with _running(server):
        yield f"http://127.0.0.1:{server.server_address[1]}"


@contextlib.contextmanager
def serve_unix(state: AppState, path: str) -> t.Iterator[str]:
    """Serve the app on the unix socket ``path``; yield the path."""
    server = _ThreadingUnixHTTPServer(path, _handler_for(state))
    with _running(server):
        yield path


def _server_context(pki: dict[str, t.Any], require_client_cert: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server_cert"], pki["server_key"])
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki["ca"])
    return context


@contextlib.contextmanager
def serve_tls(state: AppState, pki: dict[str, t.Any], require_client_cert: bool = False) -> t.Iterator[str]:
    """Serve the app over TLS on 127.0.0.1 with the server certificate of ``pki``; yield the base URL."""
    context = _server_context(pki, require_client_cert)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    server.daemon_threads = True
    # The handshake happens in the request thread, so a client that fails it cannot block the server.
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    with _running(server):
        yield f"https://127.0.0.1:{server.server_address[1]}"


@contextlib.contextmanager
def serve_tls_unix(state: AppState, pki: dict[str, t.Any], path: str) -> t.Iterator[str]:
    """Serve the app over TLS on the unix socket ``path``; yield the path."""
    context = _server_context(pki, False)
    server = _ThreadingUnixHTTPServer(path, _handler_for(state))
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    with _running(server):
        yield path


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/healthz"
