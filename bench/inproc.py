"""The exporter in-process, wired exactly as the CLI wires it, and the naive floor it is compared with."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.common import KEY_ID, KEY_SECRET
from bench.floor import Floor
from exporter.app import Exporter
from exporter.config.arguments import parse_args
from exporter.logs import configure_logging
from exporter.soda import http as soda_http

__all__ = [
    "PAGINATED",
    "PULL_EVERY_CYCLE",
    "CycleVariants",
    "Floor",
    "cycle_variants",
    "exporter",
    "json_decoding",
    "requests_made",
    "timed_cycle",
]

PAGINATED = ("/impact/incidents", "/coverage/datasets")
# Every measured cycle pulls incidents (not skipped for an unchanged ETL time) and nothing else.
PULL_EVERY_CYCLE = ("--poll.max-age=0", "--datasets.interval=0")


@contextmanager
def exporter(reporting_url: str, *flags: str) -> Iterator[Exporter]:
    """An Exporter built from CLI flags (its HTTP server bound but not serving, its poller not started)."""
    configure_logging("error", "json")
    config = parse_args(
        ["--web.listen-address=127.0.0.1:0", f"--soda.reporting-url={reporting_url}", *flags],
        environ={"SODA_API_KEY_ID": KEY_ID, "SODA_API_KEY_SECRET": KEY_SECRET},
    )
    app = Exporter(config)
    try:
        yield app
    finally:
        app.server.close()
        app.pollers[0].client.close()


def requests_made(app: Exporter) -> dict[str, int]:
    """HTTP requests the exporter has made so far, by endpoint, from its own api_requests counter."""
    counts: dict[str, int] = {}
    for metric in app.metrics.api_requests.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                endpoint = sample.labels["endpoint"]
                counts[endpoint] = counts.get(endpoint, 0) + int(sample.value)
    return counts


def timed_cycle(app: Exporter) -> float:
    """Wall seconds of one real poll cycle (fetch, snapshot, render, publish); fails if it fails."""
    started = time.perf_counter()
    ok = app.pollers[0].run_cycle()
    elapsed = time.perf_counter() - started
    if not ok:
        raise RuntimeError("the poll cycle failed; see the exporter's log")
    return elapsed


@contextmanager
def json_decoding() -> Iterator[None]:
    """Make the exporter decode every body with the standard library's json, pages into dicts."""

    def json_loads(content: bytes, records: tuple[str, ...] | None = None) -> Any:
        return json.loads(content)

    saved = soda_http._loads
    soda_http._loads = json_loads
    try:
        yield
    finally:
        soda_http._loads = saved


@dataclass(frozen=True)
class CycleVariants:
    """The floor and the exporter at the default and at ``--poll.concurrency 1``, each a timed run."""

    floor: Floor
    default: Exporter
    sequential: Exporter
    runs: dict[str, Callable[[], float]]


@contextmanager
def cycle_variants(reporting_url: str) -> Iterator[CycleVariants]:
    """The three variants B1 and B6 alternate on one simulator (``runs`` may be given more)."""
    with (
        exporter(reporting_url, *PULL_EVERY_CYCLE) as default,
        exporter(reporting_url, *PULL_EVERY_CYCLE, "--poll.concurrency=1") as sequential,
    ):
        floor = Floor(reporting_url)
        runs: dict[str, Callable[[], float]] = {
            "floor": floor.run,
            "cycle": lambda: timed_cycle(default),
            "cycle_concurrency_1": lambda: timed_cycle(sequential),
        }
        try:
            yield CycleVariants(floor, default, sequential, runs)
        finally:
            floor.close()
