"""The Reporting API client against the simulator over real HTTP: paging, 202, 422, auth, headers."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from exporter import __version__
from exporter.incidents.fold import RowAccumulator, unresolved_accumulator
from exporter.simulator import SimulatorServer
from exporter.soda.credentials import CredentialSource
from exporter.soda.errors import SodaAuthError, SodaValidationError
from exporter.soda.pages import FetchStats, Page
from exporter.soda.reporting import ReportingClient
from tests.support.builders import KEY_ID, KEY_SECRET, NOW, incident, make_org

StartSim = Callable[..., SimulatorServer]


def client_for(
    sim: SimulatorServer,
    *,
    page_size: int = 1000,
    concurrency: int = 4,
    secret: str = KEY_SECRET,
    requests_seen: list[tuple[str, str]] | None = None,
) -> ReportingClient:
    """A client with the test credentials (or a wrong secret)."""
    observer = (lambda e, c: requests_seen.append((e, c))) if requests_seen is not None else None
    return ReportingClient(
        sim.reporting_url,
        CredentialSource(key_id=KEY_ID, key_secret=secret),
        page_size=page_size,
        concurrency=concurrency,
        on_request=observer,
        retries=0,
    )


def fetch_open(client: ReportingClient, stats: FetchStats | None = None) -> RowAccumulator:
    """All unresolved rows of the last three days."""
    return client.fetch_incidents(
        "unresolved", NOW - timedelta(days=3), NOW, unresolved_accumulator, stats=stats
    )


def incident_requests(sim: SimulatorServer) -> list[int]:
    """Page numbers the simulator was asked for on /impact/incidents."""
    return [r.body["page"] for r in sim.requests_log if r.path.endswith("/impact/incidents")]


@pytest.fixture
def five_open(start_simulator: StartSim) -> SimulatorServer:
    """Five incidents open for ten days: 4 report dates in a 3-day window -> 20 rows."""
    return start_simulator(make_org([incident(n) for n in range(1, 6)]))


@pytest.mark.parametrize(
    ("page_size", "concurrency", "pages"),
    [(5, 1, 4), (5, 4, 4), (6, 1, 4), (6, 3, 4), (1000, 4, 1), (20, 2, 1), (1, 4, 20)],
)
def test_reads_every_page_and_no_more(
    five_open: SimulatorServer, page_size: int, concurrency: int, pages: int
) -> None:
    stats = FetchStats()
    acc = fetch_open(client_for(five_open, page_size=page_size, concurrency=concurrency), stats)
    assert acc.distinct_rows == 20
    assert len(acc.newest) == 5
    assert stats.pages == pages
    assert sorted(incident_requests(five_open)) == list(range(1, pages + 1))


def test_no_data_answers_202_and_is_an_empty_result(start_simulator: StartSim) -> None:
    sim = start_simulator(make_org([]))
    seen: list[tuple[str, str]] = []
    acc = fetch_open(client_for(sim, requests_seen=seen))
    assert acc.distinct_rows == 0 and not acc.newest
    assert seen == [("/impact/incidents", "202")]


def test_requests_carry_headers_and_window(five_open: SimulatorServer) -> None:
    fetch_open(client_for(five_open))
    record = next(r for r in five_open.requests_log if r.path.endswith("/impact/incidents"))
    assert record.headers["x-api-key-id"] == KEY_ID
    assert record.headers["x-api-key-secret"] == KEY_SECRET
    assert record.headers["user-agent"] == f"soda-incidents-exporter/{__version__}"
    assert record.body["status"] == "unresolved"
    assert record.body["size"] == 1000
    assert record.body["from_datetime"].startswith((NOW - timedelta(days=3)).date().isoformat())


def test_wrong_secret_is_an_auth_error_without_the_secret(five_open: SimulatorServer) -> None:
    with pytest.raises(SodaAuthError) as exc:
        fetch_open(client_for(five_open, secret="wrong-secret-value"))
    assert "401" in str(exc.value)
    assert "wrong-secret-value" not in str(exc.value)
    assert exc.value.reason == "auth"


def test_schema_violation_names_the_field(five_open: SimulatorServer) -> None:
    client = client_for(five_open)
    with pytest.raises(SodaValidationError) as exc:
        client.http.request("POST", "/impact/incidents", json_body={"size": 1001})
    assert "'size'" in str(exc.value)


def test_last_etl_refresh(five_open: SimulatorServer) -> None:
    client = client_for(five_open)
    refreshed = client.last_etl_refresh()
    assert refreshed is not None and refreshed.tzinfo is not None


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_page_is_dropped_once_folded_and_its_body_once_decoded(
    five_open: SimulatorServer, concurrency: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(five_open, page_size=1, concurrency=concurrency)
    # Weak references to this client's pages and to its decoders (each holds one page's body), so
    # that what other tests' threads allocate meanwhile is not counted.
    pages: list[weakref.ref[Page]] = []
    bodies: list[weakref.ref[Callable[[], Page]]] = []
    as_page, page_later = client._as_page, client._page_later

    def tracked_page(*args: Any) -> Page:
        page = as_page(*args)
        pages.append(weakref.ref(page))
        return page

    def tracked_body(*args: Any, **kwargs: Any) -> Callable[[], Page]:
        decode = page_later(*args, **kwargs)
        bodies.append(weakref.ref(decode))
        return decode

    monkeypatch.setattr(client, "_as_page", tracked_page)
    monkeypatch.setattr(client, "_page_later", tracked_body)
    seen: list[tuple[int, int]] = []

    def alive(refs: list[Any]) -> int:
        return sum(1 for ref in refs if ref() is not None)

    class Watching(RowAccumulator):
        def add_records(self, records: list[Any]) -> None:
            seen.append((alive(pages), alive(bodies)))
            super().add_records(records)

    acc = client.fetch_incidents(
        "unresolved", NOW - timedelta(days=3), NOW, lambda: Watching(keep_details=True)
    )
    assert acc.distinct_rows == 20 and len(seen) == 20
    # Only the page being folded; bodies: only those of the pages in flight, fetched and not decoded.
    assert max(held for held, _ in seen) == 1, seen
    assert max(held for _, held in seen) <= concurrency, seen
