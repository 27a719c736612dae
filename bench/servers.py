"""The two servers B3 compares the exporter with, each run as its own process.

``floor``: a minimal threaded HTTP server returning fixed bytes from memory (plain or gzipped), over
TLS with ``--tls CERT KEY``.
``per-scrape``: the naive design, every family rendered on every scrape by prometheus_client's own
registry and HTTP server, over the same snapshot the exporter serves.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from bench.inproc import exporter, timed_cycle
from bench.tls import server_context
from exporter.exposition.collector import LabelledSnapshot, SnapshotCollector


class FloorHandler(BaseHTTPRequestHandler):
    """Answers every GET with the preloaded body; keep-alive like the exporter's own server."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as the exporter's server does
    bodies: tuple[bytes, bytes] = (b"", b"")

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""

    def do_GET(self) -> None:
        """Send the plain or gzipped body."""
        gzipped = "gzip" in self.headers.get("Accept-Encoding", "").lower()
        body = self.bodies[1] if gzipped else self.bodies[0]
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)
        self.send_header("Content-Length", str(len(body)))
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        self.wfile.write(body)


class TlsFloorServer(ThreadingHTTPServer):
    """The floor over TLS: each accepted socket is wrapped, its handshake done in its own thread."""

    context: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Handshake, then serve as the plain floor does."""
        tls = self.context.wrap_socket(request, server_side=True)
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()


def serve_floor(plain: Path, gzipped: Path, tls: tuple[Path, Path] | None = None) -> None:
    """Serve the two files' bytes (over TLS with ``tls``, certificate and key) until stdin closes."""
    FloorHandler.bodies = (plain.read_bytes(), gzipped.read_bytes())
    if tls:
        server: ThreadingHTTPServer = TlsFloorServer(("127.0.0.1", 0), FloorHandler)
        server.context = server_context(*tls)  # type: ignore[attr-defined]
    else:
        server = ThreadingHTTPServer(("127.0.0.1", 0), FloorHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    announce(int(server.server_address[1]))


def serve_per_scrape(reporting_url: str) -> None:
    """Poll once, then serve the same families rendered per scrape until stdin closes."""
    with exporter(reporting_url, "--poll.interval=1h") as app:
        timed_cycle(app)
        snapshot = app.state.snapshot("default")
        assert snapshot is not None
        items = [LabelledSnapshot((), snapshot, app.pollers[0].datasets.datasets)]
        # One registry holding the live metrics and the incident families, rendered on each scrape.
        registry = app.metrics.registry
        registry.register(SnapshotCollector(lambda: items))
        server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
        announce(int(server.server_address[1]))


def announce(port: int) -> None:
    """Print the port as one JSON line, then block until stdin closes."""
    print(json.dumps({"port": port}), flush=True)
    sys.stdin.read()


def main(argv: list[str] | None = None) -> int:
    """``floor PLAIN GZIP`` or ``per-scrape REPORTING_URL``."""
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    sub = parser.add_subparsers(dest="kind", required=True)
    floor = sub.add_parser("floor")
    floor.add_argument("plain", type=Path)
    floor.add_argument("gzipped", type=Path)
    floor.add_argument("--tls", nargs=2, type=Path, metavar=("CERT", "KEY"), help="serve over TLS")
    naive = sub.add_parser("per-scrape")
    naive.add_argument("reporting_url")
    args = parser.parse_args(argv)
    if args.kind == "floor":
        serve_floor(args.plain, args.gzipped, tuple(args.tls) if args.tls else None)
    else:
        serve_per_scrape(args.reporting_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
