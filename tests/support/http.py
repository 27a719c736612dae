"""Talking to a local exporter over HTTP: free ports, readiness, scrapes, and the exposition parsed."""

from __future__ import annotations

import socket

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.waiting import wait_until


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http_ready(port: int, timeout: float = 30.0, path: str = "/readyz") -> None:
    """Wait until a local server answers ``path`` with 200 (refused or timed-out requests are retried)."""

    def ready() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(ready, timeout=timeout)


def scrape(port: int, path: str = "/metrics", **headers: str) -> requests.Response:
    """GET a path of a local exporter."""
    return requests.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse text exposition into {(sample name, sorted labels): value}."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def series(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """All samples of one sample name, keyed by sorted labels."""
    return {labels: value for (sample, labels), value in samples(text).items() if sample == name}
