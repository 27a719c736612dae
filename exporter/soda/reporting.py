"""Client for the Soda Cloud Reporting API: every page of incidents, ETL freshness, datasets."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import Any, TypeGuard

from exporter.incidents.timestamps import parse_timestamp
from exporter.soda.credentials import CredentialSource
from exporter.soda.errors import PaginationDriftError, SodaBadResponseError, SodaTimeoutError
from exporter.soda.http import RequestObserver, SodaHttp
from exporter.soda.pages import FetchStats, Page, PageSink, RecordSink, SinkT
from exporter.soda.records import RecordPage

__all__ = [
    "DATASETS_PATH",
    "ETL_PATH",
    "INCIDENTS_PATH",
    "ReportingClient",
    "reporting_auth_headers",
]

INCIDENTS_PATH = "/impact/incidents"
DATASETS_PATH = "/coverage/datasets"
ETL_PATH = "/last_etl_refresh"


def reporting_auth_headers(credentials: CredentialSource) -> Callable[[], dict[str, str]]:
    """Return a callable giving the recommended X-API-KEY-* headers for the current credentials."""

    def headers() -> dict[str, str]:
        creds = credentials.get()
        return {"X-API-KEY-ID": creds.key_id, "X-API-KEY-SECRET": creds.key_secret}

    return headers


class ReportingClient:
    """Reads the Reporting API; pages after the first are fetched with bounded concurrency."""

    def __init__(
        self,
        base_url: str,
        credentials: CredentialSource,
        *,
        page_size: int = 1000,
        concurrency: int = 4,
        max_restarts: int = 2,
        on_request: RequestObserver | None = None,
        **http_options: Any,
    ) -> None:
        self.page_size = page_size
        self.concurrency = max(1, concurrency)
        self.max_restarts = max_restarts
        self.http = SodaHttp(
            base_url,
            auth_headers=reporting_auth_headers(credentials),
            on_request=on_request,
            pool_size=max(self.concurrency, 2),
            **http_options,
        )

    def close(self) -> None:
        """Release pooled connections."""
        self.http.close()

    def last_etl_refresh(self, *, deadline: float | None = None) -> datetime | None:
        """Return when Soda last refreshed reporting data, or None when it does not say."""
        _, body = self.http.request("GET", ETL_PATH, deadline=deadline)
        data = body.get("data") if isinstance(body, dict) else None
        value = data.get("last_etl_refresh_at") if isinstance(data, dict) else None
        if value is None:
            return None
        try:
            return parse_timestamp(value)
        except ValueError:
            raise SodaBadResponseError(f"GET {ETL_PATH}: unusable last_etl_refresh_at") from None

    def fetch_incidents(
        self,
        status: str,
        from_dt: datetime,
        to_dt: datetime,
        new_sink: Callable[[], SinkT],
        *,
        deadline: float | None = None,
        stats: FetchStats | None = None,
    ) -> SinkT:
        """Read every page of incidents into a fresh sink; restart from page 1 when the data drifts."""
        body = {
            "status": status,
            "from_datetime": from_dt.isoformat(),
            "to_datetime": to_dt.isoformat(),
        }
        return self._fetch_all(INCIDENTS_PATH, body, new_sink, deadline, stats or FetchStats())

    def has_incidents(
        self, status: str, from_dt: datetime, to_dt: datetime, *, deadline: float | None = None
    ) -> bool:
        """True when any row of ``status`` has a report date in the window (one request of size 1)."""
        body = {"status": status, "from_datetime": from_dt.isoformat(), "to_datetime": to_dt.isoformat()}
        return self._page_later(INCIDENTS_PATH, body, 1, deadline, size=1)().total > 0

    def fetch_datasets(self, new_sink: Callable[[], SinkT], *, deadline: float | None = None) -> SinkT:
        """Read every page of ``/coverage/datasets`` into a fresh sink."""
        return self._fetch_all(DATASETS_PATH, {}, new_sink, deadline, FetchStats())

    def _fetch_all(
        self,
        path: str,
        body: dict[str, Any],
        new_sink: Callable[[], SinkT],
        deadline: float | None,
        stats: FetchStats,
    ) -> SinkT:
        last_reason = ""
        for attempt in range(self.max_restarts + 1):
            sink = new_sink()
            drift = self._fetch_once(path, body, sink, deadline, stats)
            if drift is None:
                return sink
            last_reason = drift
            stats.restarts = attempt + 1
        raise PaginationDriftError(
            f"POST {path}: results changed while paging ({last_reason}); "
            f"gave up after {self.max_restarts + 1} attempts"
        )

    def _fetch_once(
        self, path: str, body: dict[str, Any], sink: PageSink, deadline: float | None, stats: FetchStats
    ) -> str | None:
        """Fetch all pages once; return None on a consistent read, else why it drifted."""
        records = sink.row_fields if isinstance(sink, RecordSink) else None
        first = self._page_later(path, body, 1, deadline, records=records)()
        stats.pages += 1
        stats.rows += len(first.rows)
        if first.total == 0 or not first.rows:
            return None if first.total == 0 else "first page empty although total > 0"
        first.fold_into(sink)
        size, total = self._served_size(first), first.total
        del first  # its rows are folded: not held while every other page is read
        # The page cap comes from the first total and the size the server pages by, so pagination can
        # never run away.
        pages = math.ceil(total / size)
        # Last page first: rows come oldest report date first, so read backwards each incident's newest
        # row arrives before its older ones, which the sink then only counts (at 31 report dates, 1 row
        # kept of 31 read instead of 31 replaced in turn).
        for number, page in self._pages(path, body, range(pages, 1, -1), deadline, records):
            stats.pages += 1
            stats.rows += len(page.rows)
            if page.no_content:
                return f"page {number} of {pages} answered 202 (no content) before total {total}"
            if page.total != total:
                return f"total went from {total} to {page.total} at page {number}"
            if not page.rows:
                return f"page {number} of {pages} was empty"
            if page.size is not None and page.size != size:
                return f"page size went from {size} to {page.size} at page {number}"
            page.fold_into(sink)
            del page  # not held while the next page is read and decoded
        if sink.distinct_rows != total:
            return f"read {sink.distinct_rows} distinct rows, total says {total}"
        return None

    def _served_size(self, first: Page) -> int:
        """The page size the server pages by: what it says, else what it sent, else what we asked."""
        # A server may serve fewer rows than asked (Soda's documents disagree on the cap): page numbers
        # then count its pages, so the page count must come from its size, not ours.
        if first.size is not None:
            return first.size
        if len(first.rows) < min(first.total, self.page_size):
            return len(first.rows)
        return self.page_size

    def _pages(
        self,
        path: str,
        body: dict[str, Any],
        numbers: range,
        deadline: float | None,
        records: tuple[str, ...] | None,
    ) -> Iterator[tuple[int, Page]]:
        """Yield (number, page) for the given pages, at most ``concurrency`` requests in flight."""
        if self.concurrency == 1 or len(numbers) <= 1:
            for number in numbers:
                yield number, self._page_later(path, body, number, deadline, records=records)()
            return
        pending = iter(numbers)

        def fetch(number: int) -> Callable[[], Page]:
            return self._page_later(path, body, number, deadline, records=records)

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="soda-page") as pool:
            in_flight: dict[Future[Callable[[], Page]], int] = {}
            try:
                # Workers fetch bytes; pages are decoded here, one at a time, as they are folded.
                for number in pending:
                    in_flight[pool.submit(fetch, number)] = number
                    if len(in_flight) >= self.concurrency:
                        break
                while in_flight:
                    done, _ = wait(in_flight, timeout=_wait_timeout(deadline), return_when=FIRST_COMPLETED)
                    if not done:
                        raise SodaTimeoutError(f"POST {path}: poll timeout reached while paging")
                    # Each page's body (~1 MB) and decoded rows go as soon as they are done with: a
                    # done future holds the body, so it is dropped first, the body once decoded, and
                    # the rows once folded, while the other pages that came in meanwhile still wait.
                    while done:
                        future = done.pop()
                        number = in_flight.pop(future)
                        decode = future.result()
                        del future
                        next_number = next(pending, None)
                        if next_number is not None:
                            job = pool.submit(fetch, next_number)
                            in_flight[job] = next_number
                        page = decode()
                        del decode
                        yield number, page
                        del page
            finally:
                for future in in_flight:
                    future.cancel()

    def _page_later(
        self,
        path: str,
        body: dict[str, Any],
        number: int,
        deadline: float | None,
        size: int | None = None,
        records: tuple[str, ...] | None = None,
    ) -> Callable[[], Page]:
        """Fetch a page now; decode and check it when the returned callable is called."""
        request = dict(body, page=number, size=size or self.page_size)
        status, decode = self.http.request_later(
            "POST", path, json_body=request, deadline=deadline, records=records
        )
        return lambda: self._as_page(path, number, status, decode())

    def _as_page(self, path: str, number: int, status: int, decoded: Any) -> Page:
        if status == 202:
            # NoContent: past the last page or an empty window; not an error, not data.
            return Page(total=0, rows=[], no_content=True)
        if isinstance(decoded, RecordPage):
            total, rows, size = decoded.total, decoded.data, decoded.size
        elif isinstance(decoded, dict):
            total, rows, size = decoded.get("total"), decoded.get("data"), decoded.get("size")
        else:
            raise SodaBadResponseError(f"POST {path} page {number}: body is not a JSON object")
        if not _count(total) or not isinstance(rows, list):
            raise SodaBadResponseError(f"POST {path} page {number}: missing or invalid total/data")
        if size is not None and not (_count(size) and size > 0):
            raise SodaBadResponseError(f"POST {path} page {number}: invalid size {size!r}")
        if size is not None and len(rows) > size:
            raise SodaBadResponseError(f"POST {path} page {number}: {len(rows)} rows, more than size {size}")
        return Page(total=total, rows=rows, size=size, records=isinstance(decoded, RecordPage))


def _count(value: Any) -> TypeGuard[int]:
    """True for a non-negative JSON integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _wait_timeout(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    # Each page request is cut at the deadline itself; the small slack lets it report its own error
    # before the cycle's backstop (poller.BACKSTOP_GRACE_SECONDS) gives up on it.
    return max(0.05, deadline - time.monotonic() + 0.25)
