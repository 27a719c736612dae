"""The exporter's pages: /metrics negotiation with q-values and Vary, and the landing page."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from types import SimpleNamespace

import pytest

from exporter.app import Exporter
from exporter.exposition.state import PollOutcome
from exporter.web.landing import DOCS_URL, LandingInfo, render
from exporter.web.negotiation import by_preference, negotiate

StartExporter = Callable[..., Exporter]
OM = "application/openmetrics-text"


@pytest.mark.parametrize(
    ("accept", "openmetrics"),
    [
        ("text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.1", False),
        ("application/openmetrics-text;q=0.1,text/plain;version=0.0.4;q=0.9", False),
        ("text/plain;q=0.5,application/openmetrics-text;version=1.0.0;q=0.8", True),
        ("application/openmetrics-text;version=1.0.0;q=0,text/plain", False),
        ("application/openmetrics-text; version=1.0.0,text/plain;q=0.5", True),
        # Prometheus 3's default scrape protocols, in its own order.
        (
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
            "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
            True,
        ),
        ("", False),
        ("*/*", False),
        ("application/json", False),
    ],
)
def test_the_format_follows_q_values(accept: str, openmetrics: bool) -> None:
    assert negotiate(accept, None).openmetrics is openmetrics


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip", True),
        ("gzip;q=0", False),
        ("identity, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0, *", False),
    ],
)
def test_gzip_follows_q_values(accept_encoding: str, gzipped: bool) -> None:
    assert negotiate(None, accept_encoding).gzipped is gzipped


def test_entries_are_ordered_by_quality_and_refusals_dropped() -> None:
    assert by_preference("a;q=0.2, b, c;q=0, d;q=0.2") == "b,a;q=0.2,d;q=0.2"


class FakeState:
    """What the landing page reads of the state: outcomes and served snapshots."""

    def __init__(self) -> None:
        self.served: dict[str, SimpleNamespace] = {}
        self.last: dict[str, PollOutcome] = {}

    def outcomes(self) -> dict[str, PollOutcome]:
        return dict(self.last)

    def snapshot(self, organization: str) -> SimpleNamespace | None:
        return self.served.get(organization)


def test_the_landing_page_shows_demo_counts_next_poll_and_docs_escaped() -> None:
    state = FakeState()
    finished = time.time()
    state.served["acme"] = SimpleNamespace(open_total=184, latest_report_date=date(2026, 11, 26))
    state.last["acme"] = PollOutcome(True, finished, 0.5, "success", open_incidents=184)
    state.last["<b>evil</b>"] = PollOutcome(False, finished, 1.0, "auth: <script>x</script>")
    info = LandingInfo("/metrics", demo=True, intervals={"acme": 300.0, "<b>evil</b>": 60.0})
    page = render(state, info).decode()  # type: ignore[arg-type]
    assert "demo" in page.lower() and "simulator" in page
    assert f"href='{DOCS_URL}'" in page
    assert "<td>184</td>" in page and "<td>2026-11-26</td>" in page
    expected_next = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(finished + 300))
    assert f"<td>{expected_next}</td>" in page
    assert "<b>evil</b>" not in page and "&lt;b&gt;evil&lt;/b&gt;" in page
    assert "<script>" not in page and "failure: auth: &lt;script&gt;" in page
    assert "none served yet" in page
    assert "<th>detail</th>" not in page and page.count("success") == 1
    quiet = render(state, LandingInfo("/metrics", demo=False, intervals={}))  # type: ignore[arg-type]
    assert b"simulator" not in quiet
