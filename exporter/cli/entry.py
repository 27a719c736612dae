"""Entry point: run the exporter (optionally on the embedded simulator), or a subcommand."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import NoReturn

import structlog

from exporter.config.arguments import parse_args
from exporter.logs import configure_logging
from exporter.memory import return_large_buffers_to_os

log = structlog.get_logger("exporter")

SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {}


def subcommand(name: str) -> Callable[[Callable[[list[str]], int]], Callable[[list[str]], int]]:
    """Register ``soda-incidents-exporter NAME ...``."""

    def register(func: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
        SUBCOMMANDS[name] = func
        return func

    return register


@subcommand("simulate")
def run_simulate(argv: list[str]) -> int:
    """Run the Soda Cloud simulator alone, for end-to-end set-ups."""
    from exporter.simulator.cli import main as simulator_main

    return simulator_main(argv, prog="soda-incidents-exporter simulate")


@subcommand("incident")
def run_incident(argv: list[str]) -> int:
    """Update a Soda incident from the command line (``incident update ID --status ...``)."""
    # Imported here, as for simulate: registering from the other module would miss this registry
    # when a module runs as ``python -m ...`` (then named __main__).
    from exporter.cli.incident import main as incident_main

    return incident_main(argv)


@subcommand("backfill")
def run_backfill(argv: list[str]) -> int:
    """Write the Reporting API's history as OpenMetrics for promtool (``backfill --from --to -o``)."""
    from exporter.cli.backfill import main as backfill_main

    return backfill_main(argv)


def run_exporter(argv: list[str]) -> int:
    """Run the exporter until SIGTERM or SIGINT."""
    config = parse_args(argv)
    configure_logging(config.log_level, config.log_format)
    return_large_buffers_to_os()
    for notice in config.notices:
        log.warning(notice)
    from exporter.app import Exporter, with_demo_endpoints
    from exporter.web.listen import ListenError, raise_open_files_limit

    # Every connection is a descriptor: the soft limit (often 1024) would end accepting long before
    # the machine runs short.
    raise_open_files_limit()

    simulator = None
    if config.demo:
        from exporter.cli.demo import demo_credentials
        from exporter.simulator import SimulatorServer, generate_organization

        simulator = SimulatorServer(generate_organization())  # it accepts the demo key pair
        simulator.start()
        config = with_demo_endpoints(config, simulator.reporting_url, simulator.cloud_url, demo_credentials())
        log.info("demo mode: polling the embedded Soda Cloud simulator", simulator=simulator.base_url)
    try:
        exporter = Exporter(config)
    except ListenError as exc:
        print(f"soda-incidents-exporter: error: --web.listen-address: {exc}", file=sys.stderr)
        if simulator is not None:
            simulator.stop()
        return 2
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("shutting down", signal=signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    exporter.start()
    while not stopping.wait(0.5):
        pass
    exporter.stop(timeout=0.3)  # SIGTERM must end the process within a second, whatever is in flight
    if simulator is not None:
        simulator.stop()
    _exit_now(0)


def _exit_now(code: int) -> NoReturn:
    """End the process now, without waiting for threads still blocked on a socket.

    The interpreter's own exit joins every ThreadPoolExecutor worker: an HTTP worker reading an
    idle keep-alive connection (Prometheus keeps them open), or a page request to a slow Soda,
    would keep the process alive for as long as that socket stays open. stop() has already given
    every thread its chance; what is still running is a read or a wait that nothing needs.
    """
    logging.shutdown()  # flushes the log handlers
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Console script: dispatch to a subcommand, or run the exporter."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        return SUBCOMMANDS[args[0]](args[1:])
    return run_exporter(args)
