"""The two servers B3 compares the exporter with, each run as its own process.

``floor``: a minimal threaded HTTP server returning fixed bytes from memory (plain or gzipped).
``per-scrape``: the naive design, every family rendered on every scrape by prometheus_client's own
registry and HTTP server, over the same snapshot the exporter serves.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from bench.inproc import exporter, timed_cycle
from exporter.collector import LabelledSnapshot, SnapshotCollector


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


def serve_floor(plain: Path, gzipped: Path) -> None:
    """Serve the two files' bytes until stdin closes."""
    FloorHandler.bodies = (plain.read_bytes(), gzipped.read_bytes())
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
        items = [LabelledSnapshot((), snapshot, app.poller.datasets.datasets)]
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
    naive = sub.add_parser("per-scrape")
    naive.add_argument("reporting_url")
    args = parser.parse_args(argv)
    if args.kind == "floor":
        serve_floor(args.plain, args.gzipped)
    else:
        serve_per_scrape(args.reporting_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
