"""Command line of a standalone simulator: ``python -m exporter.simulator`` or ``simulate``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

from exporter.durations import parse_duration
from exporter.simulator.faults import FaultPlan
from exporter.simulator.generator import generate_organisation
from exporter.simulator.server import SimulatorServer

DEFAULT_KEY_ID = "demo-key-id"
DEFAULT_KEY_SECRET = "demo-key-secret"


def parse_listen_address(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6HOST]:PORT`` or ``:PORT`` (all interfaces) as a (host, port) pair."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def _duration(text: str) -> timedelta:
    try:
        return timedelta(seconds=parse_duration(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} {exc}") from None


def add_simulator_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's flags to ``parser``."""
    parser.add_argument(
        "--web.listen-address",
        dest="web_listen_address",
        type=parse_listen_address,
        default=parse_listen_address("127.0.0.1:8080"),
        metavar="HOST:PORT",
        help="address the simulated Soda Cloud listens on (default 127.0.0.1:8080; port 0 picks a free one)",
    )
    parser.add_argument("--simulator.seed", dest="simulator_seed", type=int, default=42, help="random seed")
    parser.add_argument(
        "--simulator.incidents", dest="simulator_incidents", type=int, default=300, help="number of incidents"
    )
    parser.add_argument(
        "--simulator.datasets", dest="simulator_datasets", type=int, default=40, help="number of datasets"
    )
    parser.add_argument(
        "--simulator.days", dest="simulator_days", type=int, default=120, help="days of incident history"
    )
    parser.add_argument(
        "--simulator.now",
        dest="simulator_now",
        type=datetime.fromisoformat,
        default=None,
        metavar="ISO8601",
        help="simulated current time (default: the wall clock at start-up)",
    )
    parser.add_argument(
        "--simulator.etl-outage",
        dest="simulator_etl_outage",
        type=_duration,
        default=timedelta(0),
        metavar="DURATION",
        help="pretend Soda's nightly ETL stopped this long ago (e.g. 5d): report dates and "
        "/last_etl_refresh stay where it stopped (default 0: fresh data)",
    )
    parser.add_argument(
        "--simulator.faults",
        dest="simulator_faults",
        type=Path,
        default=None,
        metavar="FILE",
        help="fault injection scenario (JSON or YAML)",
    )
    parser.add_argument(
        "--simulator.max-page-size",
        dest="simulator_max_page_size",
        type=int,
        default=1000,
        metavar="N",
        help="serve at most N rows per Reporting API page, saying so in the response's size field "
        "(default 1000, the spec's cap)",
    )
    parser.add_argument(
        "--simulator.page-delay",
        dest="simulator_page_delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="extra latency of every Reporting API page",
    )


def build_server(args: argparse.Namespace) -> SimulatorServer:
    """The (not yet started) server described by parsed ``args`` and the environment."""
    organisation = generate_organisation(
        seed=args.simulator_seed,
        incidents=args.simulator_incidents,
        datasets=args.simulator_datasets,
        days=args.simulator_days,
        now=args.simulator_now,
    )
    organisation.set_etl_outage(args.simulator_etl_outage)
    host, port = args.web_listen_address
    return SimulatorServer(
        organisation,
        host=host,
        port=port,
        api_key_id=os.environ.get("SODA_API_KEY_ID") or DEFAULT_KEY_ID,
        api_key_secret=os.environ.get("SODA_API_KEY_SECRET") or DEFAULT_KEY_SECRET,
        faults=FaultPlan.from_file(args.simulator_faults) if args.simulator_faults else None,
        page_delay_seconds=args.simulator_page_delay,
        max_page_size=args.simulator_max_page_size,
    )


def run_simulator(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; returns the process exit code."""
    server = build_server(args)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
    server.start()
    org = server.organisation
    print(
        f"Soda Cloud simulator listening on {server.base_url} "
        f"(Reporting API {server.reporting_url}, Cloud API {server.cloud_url}); "
        f"{len(org.incidents)} incidents, {len(org.datasets)} datasets, now={org.now.isoformat()}",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        server.stop()
    print("Soda Cloud simulator stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None, prog: str = "python -m exporter.simulator") -> int:
    """Entry point of ``python -m exporter.simulator`` and ``soda-incidents-exporter simulate``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a simulated Soda Cloud (Reporting API and Cloud API v1) over HTTP.",
    )
    add_simulator_arguments(parser)
    return run_simulator(parser.parse_args(argv))
