"""The exporter in-process, wired exactly as the CLI wires it, and the naive floor it is compared with."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

from bench.common import KEY_ID, KEY_SECRET
from exporter.app import Exporter
from exporter.config.arguments import parse_args
from exporter.logs import configure_logging
from exporter.soda import http as soda_http

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
    """Make the exporter decode with the standard library's json, as it does without orjson."""
    saved = soda_http._loads
    soda_http._loads = json.loads
    try:
        yield
    finally:
        soda_http._loads = saved


class Floor:
    """The floor of a cycle: the same HTTP requests made one after another, json-decoded, nothing else."""

    def __init__(self, reporting_url: str, *, page_size: int = 1000, lookback_days: float = 3.0) -> None:
        self.url = reporting_url
        self.page_size = page_size
        self.windows = (("unresolved", lookback_days), ("resolved", 30.0))
        self.session = requests.Session()
        self.session.headers.update({"X-API-KEY-ID": KEY_ID, "X-API-KEY-SECRET": KEY_SECRET})
        self.requests = 0
        self.rows = 0

    def close(self) -> None:
        """Release the connection."""
        self.session.close()

    def _post(self, body: dict[str, Any], page: int, decode: Callable[[bytes], Any]) -> Any:
        self.requests += 1
        reply = self.session.post(
            f"{self.url}/impact/incidents", json=dict(body, page=page, size=self.page_size)
        )
        return decode(reply.content)

    def page_bytes(self, status: str = "unresolved", page: int = 1) -> bytes:
        """The raw body of one page (for decoder comparisons)."""
        now = datetime.now(timezone.utc)
        body: dict[str, Any] = {"status": status, "from_datetime": (now - timedelta(days=3)).isoformat()}
        body.update(to_datetime=now.isoformat(), page=page, size=self.page_size)
        return self.session.post(f"{self.url}/impact/incidents", json=body).content

    def run(self, decode: Callable[[bytes], Any] = json.loads) -> float:
        """Wall seconds of the sequential fetch."""
        self.requests = self.rows = 0
        started = time.perf_counter()
        now = datetime.now(timezone.utc)
        self.requests += 1
        decode(self.session.get(f"{self.url}/last_etl_refresh").content)
        for status, days in self.windows:
            body = {
                "status": status,
                "from_datetime": (now - timedelta(days=days)).isoformat(),
                "to_datetime": now.isoformat(),
            }
            first = self._post(body, 1, decode)
            total = int(first.get("total") or 0)
            self.rows += len(first.get("data") or [])
            for page in range(2, math.ceil(total / self.page_size) + 1):
                self.rows += len(self._post(body, page, decode)["data"])
        return time.perf_counter() - started
