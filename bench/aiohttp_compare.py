"""``python -m bench.aiohttp_compare``: the server choice, measured (not part of the harness).

Serves the same bytes three ways, each in its own process, and loads them alternately with wrk:
the exporter's own server (asyncio + h11), aiohttp's web server, and the B3 floor (a threaded
``http.server`` returning bytes from memory). aiohttp is not a dependency; install it to run this.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from bench.common import Child, json_line, median, ratio
from bench.load import run_load

SERVE_OURS = """
import json, sys
from exporter.web.messages import Response
from exporter.web.server import WebServer
body = open(sys.argv[1], "rb").read()
server = WebServer([("127.0.0.1", 0)])
server.add_route("/metrics", frozenset({"GET"}), lambda request: Response(200, body, "text/plain"))
server.start()
print(json.dumps({"port": server.port}), flush=True)
sys.stdin.read()
"""
SERVE_AIOHTTP = """
import asyncio, json, socket, sys
from aiohttp import web
body = open(sys.argv[1], "rb").read()
async def metrics(request):
    return web.Response(body=body, content_type="text/plain")
app = web.Application()
app.router.add_get("/metrics", metrics)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
async def main():
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""


def start(argv: list[str], name: str) -> tuple[Child, str]:
    """Start one server process and return it with its /metrics URL."""
    child = Child(argv, name)
    port = child.wait_line(lambda line: (json_line(line) or {}).get("port"), 60)
    return child, f"http://127.0.0.1:{port}/metrics"


def main(argv: list[str] | None = None) -> int:
    """Print req/s and p99 of each server, and their ratios to the floor, as one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.aiohttp_compare", description=__doc__)
    parser.add_argument("--sizes", default="100,300000,3000000", help="body sizes in bytes")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(text) for text in args.sizes.split(",")):
            path = Path(tmp) / f"body-{size}"
            path.write_bytes(os.urandom(size))
            servers = {
                "ours": start([sys.executable, "-c", SERVE_OURS, str(path)], "ours"),
                "aiohttp": start([sys.executable, "-c", SERVE_AIOHTTP, str(path)], "aiohttp"),
                "floor": start(
                    [sys.executable, "-m", "bench.servers", "floor", str(path), str(path)], "floor"
                ),
            }
            try:
                runs: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
                for _ in range(args.repeats):
                    for name, (_, url) in servers.items():
                        done = run_load(url, connections=8, seconds=args.seconds, gzip=False, use_wrk=True)
                        runs[name].append((done.requests_per_second, done.p99_seconds * 1000))
                rps = {name: median([r for r, _ in values]) for name, values in runs.items()}
                p99 = {name: median([p for _, p in values]) for name, values in runs.items()}
                report[str(size)] = {
                    "req_per_s": rps,
                    "p99_ms": p99,
                    "ours_to_floor": ratio(rps["ours"], rps["floor"]),
                    "aiohttp_to_floor": ratio(rps["aiohttp"], rps["floor"]),
                }
            finally:
                for child, _ in servers.values():
                    child.stop()
    print(json.dumps({"load_average": os.getloadavg(), "results": report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
