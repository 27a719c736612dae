"""Command line of a standalone simulator: ``python -m exporter.simulator`` or ``simulate``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

import yaml

from exporter import __version__
from exporter.config.arguments import OneLineParser, add_flags, fail, parse_flags
from exporter.config.durations import parse_duration
from exporter.config.flags import Flag, non_negative_int, page_size
from exporter.config.flags import parse_listen_address as parse_exporter_listen_address
from exporter.simulator.auth import DEMO_KEY_ID, DEMO_KEY_SECRET
from exporter.simulator.faults import FaultPlan
from exporter.simulator.generator import generate_organization
from exporter.simulator.server import SimulatorServer

DEFAULT_LISTEN_ADDRESS = "127.0.0.1:8080"


def parse_listen_address(text: str) -> tuple[str, int]:
    """The exporter's ``host:port`` reading, but ``:PORT`` is every IPv4 interface (one socket here)."""
    host, port = parse_exporter_listen_address(text)
    return host or "0.0.0.0", port


def _instant(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("is not an ISO 8601 time (e.g. 2026-03-01T12:00:00+00:00)") from None


SIMULATOR_FLAGS: tuple[Flag, ...] = (
    Flag(
        "--web.listen-address",
        DEFAULT_LISTEN_ADDRESS,
        "Address the simulated Soda Cloud listens on (port 0 picks a free one).",
        parse_listen_address,
        # Not the exporter's variable: both may run from one environment, on different ports.
        env="SODA_EXPORTER_SIMULATOR_WEB_LISTEN_ADDRESS",
    ),
    Flag("--simulator.seed", "42", "Random seed.", int),
    Flag("--simulator.incidents", "300", "Number of incidents.", non_negative_int),
    Flag("--simulator.datasets", "40", "Number of datasets.", non_negative_int),
    Flag("--simulator.days", "120", "Days of incident history.", non_negative_int),
    Flag(
        "--simulator.now",
        None,
        "Simulated current time, ISO 8601 (default: the wall clock at start-up).",
        _instant,
    ),
    Flag(
        "--simulator.etl-outage",
        "0s",
        "Pretend Soda's nightly ETL stopped this long ago (e.g. 5d): report dates and "
        "/last_etl_refresh stay where it stopped (0s: fresh data).",
        parse_duration,
    ),
    Flag("--simulator.faults", None, "Fault injection scenario, JSON or YAML (default: none).", Path),
    Flag(
        "--simulator.max-page-size",
        "1000",
        "Serve at most this many rows per Reporting API page, saying so in the response's size field "
        "(1 to 1000, the spec's cap).",
        page_size,
    ),
    Flag("--simulator.page-delay", "0s", "Extra latency of every Reporting API page.", parse_duration),
)
GROUPS = {
    "web": "Where the simulator listens.",
    "simulator": "The simulated organisation, its data and its faults.",
}


@dataclass(frozen=True)
class SimulatorOptions:
    """The simulator's resolved flags."""

    listen_address: tuple[str, int]
    seed: int
    incidents: int
    datasets: int
    days: int
    now: datetime | None
    etl_outage: timedelta
    faults: FaultPlan | None
    max_page_size: int
    page_delay: float


def build_parser(prog: str = "python -m exporter.simulator") -> argparse.ArgumentParser:
    """The simulator's parser, on the exporter's scaffold: dotted flags, variables, grouped help."""
    parser = OneLineParser(
        prog=prog,
        allow_abbrev=False,
        description="Serve a simulated Soda Cloud (Reporting API and Cloud API v1) over HTTP. Every "
        "flag can also be set through the environment variable shown; a flag wins over its variable.",
        epilog=f"Credentials: the simulator accepts the API key id {DEMO_KEY_ID!r} and secret "
        f"{DEMO_KEY_SECRET!r}, or the values of SODA_API_KEY_ID and SODA_API_KEY_SECRET when those are "
        "set. Point the exporter at it with SODA_REPORTING_URL=http://HOST:PORT/v1 and "
        "'incident update' with SODA_CLOUD_URL=http://HOST:PORT, with the same credentials.",
    )
    add_flags(parser, SIMULATOR_FLAGS, grouped=True, descriptions=GROUPS)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def parse_simulator_args(
    argv: Sequence[str],
    environ: Mapping[str, str] | None = None,
    prog: str = "python -m exporter.simulator",
) -> SimulatorOptions:
    """The options of ``argv`` and the environment, or exit 2 with one line naming the problem."""
    parser = build_parser(prog)
    _, values = parse_flags(parser, argv, os.environ if environ is None else environ, SIMULATOR_FLAGS)
    faults = None
    if values["simulator_faults"] is not None:
        try:
            faults = FaultPlan.from_file(values["simulator_faults"])
        except (OSError, ValueError, yaml.YAMLError) as exc:
            fail(parser, f"--simulator.faults: {_one_line(exc)}")
    # The options are named as the flags, without the prefix: --simulator.seed -> seed.
    named = {dest.removeprefix("web_").removeprefix("simulator_"): value for dest, value in values.items()}
    named.update(etl_outage=timedelta(seconds=named["etl_outage"]), faults=faults)
    return SimulatorOptions(**named)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"cannot read {exc.filename}: {exc.strerror or exc}"
    return " ".join(str(exc).split())


def build_server(options: SimulatorOptions, environ: Mapping[str, str] | None = None) -> SimulatorServer:
    """The (not yet started) server of ``options``; the accepted key comes from the environment."""
    env = os.environ if environ is None else environ
    organization = generate_organization(
        seed=options.seed,
        incidents=options.incidents,
        datasets=options.datasets,
        days=options.days,
        now=options.now,
    )
    organization.set_etl_outage(options.etl_outage)
    host, port = options.listen_address
    return SimulatorServer(
        organization,
        host=host,
        port=port,
        api_key_id=env.get("SODA_API_KEY_ID") or DEMO_KEY_ID,
        api_key_secret=env.get("SODA_API_KEY_SECRET") or DEMO_KEY_SECRET,
        faults=options.faults,
        page_delay_seconds=options.page_delay,
        max_page_size=options.max_page_size,
    )


def run_simulator(options: SimulatorOptions) -> int:
    """Serve until SIGINT or SIGTERM; returns the process exit code."""
    server = build_server(options)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
    server.start()
    org = server.organization
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


def main(argv: Sequence[str] | None = None, prog: str = "python -m exporter.simulator") -> int:
    """Entry point of ``python -m exporter.simulator`` and ``soda-incidents-exporter simulate``."""
    return run_simulator(parse_simulator_args(sys.argv[1:] if argv is None else argv, prog=prog))
