"""Certificates made per test (a CA, a server certificate for 127.0.0.1/localhost, client certificates)
and the web configuration files that use them."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import trustme
import yaml


@dataclass
class Pki:
    """Files of one test PKI under ``root``."""

    root: Path
    ca: trustme.CA
    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_san: str

    def rotate_server(self, *names: str) -> None:
        """Replace the server certificate and key files with a newly issued pair (a rotation)."""
        issued = self.ca.issue_cert(*(names or ("127.0.0.1", "localhost", "::1")))
        write_pair(issued, self.server_cert, self.server_key)

    def foreign_client(self, san: str = "intruder.example.com") -> tuple[Path, Path]:
        """A client certificate from another CA, which the server does not trust."""
        issued = trustme.CA().issue_cert(san)
        cert, key = self.root / "foreign.crt", self.root / "foreign.key"
        write_pair(issued, cert, key)
        return cert, key

    def client(self, san: str, name: str) -> tuple[Path, Path]:
        """Another client certificate from this CA, with ``san``."""
        issued = self.ca.issue_cert(san)
        cert, key = self.root / f"{name}.crt", self.root / f"{name}.key"
        write_pair(issued, cert, key)
        return cert, key


def write_pair(issued: trustme.LeafCert, cert: Path, key: Path) -> None:
    """Write a chain and key through temporary files renamed into place, as a secret rotation does."""
    for path, blob in (
        (cert, b"".join(b.bytes() for b in issued.cert_chain_pems)),
        (key, issued.private_key_pem.bytes()),
    ):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)


def make_pki(root: Path, client_san: str = "prometheus.example.com") -> Pki:
    """A CA, a server certificate for 127.0.0.1, ::1 and localhost, and a client certificate."""
    root.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    ca_file = root / "ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))
    pki = Pki(
        root,
        ca,
        ca_file,
        root / "server.crt",
        root / "server.key",
        root / "client.crt",
        root / "client.key",
        client_san,
    )
    pki.rotate_server()
    write_pair(ca.issue_cert(client_san), pki.client_cert, pki.client_key)
    return pki


def bcrypt_hash(password: str, cost: int = 4) -> str:
    """A bcrypt hash; cost 4 keeps the tests fast (production hashes use 10 or more)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()


def write_web_config(path: Path, document: dict[str, Any]) -> Path:
    """Write a web configuration file atomically (rename), as a config-map update does."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(document))
    tmp.replace(path)
    return path


def tls_server_config(pki: Pki, **extra: Any) -> dict[str, Any]:
    """A ``tls_server_config`` for the PKI's server certificate, plus ``extra`` keys."""
    return {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key), **extra}


def handshake_in_memory(
    sock: socket.socket, context: ssl.SSLContext
) -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
    """A client handshake over ``sock`` through memory BIOs; the client's last flight is left unsent.

    Returns the TLS object and its incoming and outgoing BIOs, so a caller can send a request in
    the same segment as the client's Finished (``outgoing.read()`` holds it).
    """
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    while True:
        try:
            tls.do_handshake()
            return tls, incoming, outgoing
        except ssl.SSLWantReadError:
            sock.sendall(outgoing.read())
            incoming.write(sock.recv(65536))
