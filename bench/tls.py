"""TLS for the benchmark: a generated certificate, a FrontDoor serving it, and the exporter behind it.

``python -m bench.tls CERT KEY EXPORTER-FLAGS...`` runs the exporter as the CLI does, but with this
door, so B3 can load it over TLS before ``--web.config.file`` exists to say the same in a file.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import stop_event
from exporter.web.door import OpenDoor


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1, made with the openssl CLI."""
    cert, key = directory / "bench-cert.pem", directory / "bench-key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side context with the exporter-toolkit's default minimum, TLS 1.2."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class TlsDoor(OpenDoor):
    """TLS with one fixed certificate; no client certificates, no authentication."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context

    def tls_context(self) -> ssl.SSLContext | None:
        """The same context for every connection."""
        return self.context

    def peer_allowed(self, peer_certificate: dict[str, Any] | None) -> bool:
        """Every peer."""
        return True


def main(argv: list[str] | None = None) -> int:
    """Run the exporter behind a TlsDoor until SIGTERM or stdin closes."""
    args = list(sys.argv[1:] if argv is None else argv)
    cert, key, flags = Path(args[0]), Path(args[1]), args[2:]
    from exporter.app import Exporter
    from exporter.config.arguments import parse_args
    from exporter.logs import configure_logging

    config = parse_args(flags)
    configure_logging(config.log_level, config.log_format)
    exporter = Exporter(config, door=TlsDoor(server_context(cert, key)))
    stop = stop_event()
    exporter.start()
    stop.wait()
    exporter.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
