"""The poll cycle: read everything, build a snapshot, publish it whole or not at all, and log one line."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

import structlog

from exporter.exposition.metrics import ExporterMetrics, labelled
from exporter.exposition.state import ExporterState, PollOutcome
from exporter.incidents.fold import (
    MAX_UNUSABLE_SHARE,
    RowAccumulator,
    resolved_accumulator,
    unresolved_accumulator,
)
from exporter.incidents.snapshot import PollData, build_snapshot
from exporter.memory import gc_paused, release_free_heap
from exporter.poll.datasets import DatasetRefresher
from exporter.poll.settings import PollSettings
from exporter.poll.windows import end_of_day, latest_report_day
from exporter.soda.errors import SodaBadResponseError, SodaError, SodaTimeoutError
from exporter.soda.pages import FetchStats
from exporter.soda.reporting import ReportingClient

log = structlog.get_logger("exporter.poller")
ResultT = TypeVar("ResultT")
# Every request, retry and retry sleep of a cycle is cut at --poll.timeout; the cycle thread is
# abandoned only this much later, as a backstop for a body that trickles in past its read timeout.
BACKSTOP_GRACE_SECONDS = 0.5


class CycleFailed(Exception):
    """A cycle ended without publishing; carries the bounded failure reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _run_bounded(work: Callable[[], ResultT], timeout: float) -> ResultT:
    """Run ``work`` in its own thread and give up after ``timeout`` seconds, so a cycle never hangs."""
    future: Future[ResultT] = Future()

    def target() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:  # handed to the waiting thread, which classifies it
            future.set_exception(exc)

    threading.Thread(target=target, name="soda-cycle", daemon=True).start()
    try:
        return future.result(timeout=timeout)
    except FutureTimeoutError:
        raise SodaTimeoutError(f"poll cycle exceeded --poll.timeout ({timeout:g}s)") from None


class Poller:
    """Polls one organisation on a schedule and publishes complete snapshots to the shared state."""

    def __init__(
        self,
        client: ReportingClient,
        state: ExporterState,
        metrics: ExporterMetrics,
        settings: PollSettings,
        *,
        organization: str = "default",
        labels: tuple[tuple[str, str], ...] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.state = state
        self.metrics = metrics
        self.settings = settings
        self.organization = organization
        self.labels = labels
        self._label_values = [value for _, value in labels]
        # Injected so max-age, ETL and age decisions can be tested on fake time: ``clock`` is the wall
        # clock (ages, windows, timestamps), ``monotonic`` measures intervals (max age, durations).
        self._clock = clock
        self._monotonic = monotonic
        self._log = log.bind(organization=organization) if labels else log
        # What the last pull read; ages and windows are recomputed from it while Soda's data is unchanged.
        self._kept: PollData | None = None
        self._pulled_at = 0.0
        self._last_ok = False
        self.datasets = DatasetRefresher(
            client,
            settings.datasets_interval_seconds,
            settings.timeout_seconds,
            lambda reason: self.metrics.dataset_failures.labels(*self._label_values, reason).inc(),
            team_from=settings.datasets_team_from,
        )

    def _pull_reason(self, etl: datetime | None) -> str | None:
        """Why incidents must be pulled again, or None when the kept data is still Soda's latest."""
        if not self._last_ok:
            return "after_failure" if self._pulled_at else "start"
        if self._kept is None:
            return "start"
        if etl is None or etl != self._kept.last_etl_refresh:
            return "etl_refreshed"
        if self._monotonic() - self._pulled_at >= self.settings.max_age_seconds:
            return "max_age"
        return None

    def _fetch(self, stats: FetchStats) -> tuple[PollData, str | None]:
        # The client checks its deadline on its own (real) monotonic clock.
        deadline = time.monotonic() + self.settings.timeout_seconds
        etl = self.client.last_etl_refresh(deadline=deadline)
        reason = self._pull_reason(etl)
        kept = self._kept.last_etl_refresh if self._kept else None
        self._log.debug("etl check", pull=reason or "skip", last_etl_refresh=str(etl), kept_etl=str(kept))
        if reason is None and self._kept is not None:
            return self._kept, None
        # A pull replaces the kept rows: free them first rather than hold two cycles' rows at once
        # (after a failed pull, _last_ok is False and the next cycle pulls again anyway).
        self._kept = None
        now = self._clock()
        # The windows end at the newest data, not at now: during an ETL outage the latest report date is
        # as old as the last refresh, and a window ending at now would find no open incident at all.
        anchor = now if etl is None else min(now, etl)
        lookback = self.settings.lookback_seconds
        resolved_window = self.settings.snapshot.resolved_window_seconds
        unresolved = self._query("unresolved", anchor, now, lookback, deadline, stats)
        resolved = self._query("resolved", anchor, now, resolved_window, deadline, stats)
        latest = max(unresolved.max_report_date, resolved.max_report_date)
        # The data ends before the ETL time says (no ETL time, or a wrong one): a window that misses the
        # latest report date is read again, anchored at the end of that date. When both missed it, the
        # date is searched for, so data older than both windows is never read as "nothing open".
        day = date.fromisoformat(latest) if latest else latest_report_day(self.client, now, deadline)
        if day is not None:
            end = end_of_day(day)
            if (anchor - timedelta(seconds=lookback)).date() > day:
                unresolved = self._query("unresolved", end, now, lookback, deadline, stats)
            if (anchor - timedelta(seconds=resolved_window)).date() > day:
                resolved = self._query("resolved", end, now, resolved_window, deadline, stats)
        for status, rows in (("unresolved", unresolved), ("resolved", resolved)):
            if rows.mostly_unusable():
                raise SodaBadResponseError(
                    f"POST /impact/incidents status={status}: {rows.unusable_rows} of "
                    f"{rows.distinct_rows} rows unusable ({dict(rows.skipped)}), "
                    f"more than {MAX_UNUSABLE_SHARE:.0%}"
                )
        return PollData(unresolved=unresolved, resolved=resolved, last_etl_refresh=etl), reason

    def _query(
        self,
        status: str,
        anchor: datetime,
        now: datetime,
        window_seconds: float,
        deadline: float,
        stats: FetchStats,
    ) -> RowAccumulator:
        """Every row of one status whose report date lies from ``window_seconds`` before ``anchor`` on."""
        sink = unresolved_accumulator if status == "unresolved" else resolved_accumulator
        return self.client.fetch_incidents(
            status,
            anchor - timedelta(seconds=window_seconds),
            max(now, anchor),
            sink,
            deadline=deadline,
            stats=stats,
        )

    def run_cycle(self) -> bool:
        """Run one complete cycle; publish only if every request succeeded. Return success."""
        with gc_paused():  # a pull makes no reference cycles, but many objects: see gc_paused
            succeeded = self._cycle()
        release_free_heap()  # what the pull freed leaves RSS now, not never: see release_free_heap
        return succeeded

    def _cycle(self) -> bool:
        started = self._monotonic()
        stats = FetchStats()
        labels = self._label_values
        labelled(self.metrics.polls, labels).inc()
        try:
            try:
                data, pull_reason = _run_bounded(
                    lambda: self._fetch(stats), self.settings.timeout_seconds + BACKSTOP_GRACE_SECONDS
                )
            except SodaError as exc:  # CredentialsError too: its reason is "credentials"
                raise CycleFailed(exc.reason, str(exc)) from None
            snapshot = build_snapshot(data, self._clock(), self.settings.snapshot)
            self.state.publish(self.organization, self.labels, snapshot, self.datasets.datasets)
        except CycleFailed as failure:
            self._last_ok = False
            self._fail(failure.reason, str(failure), started, stats)
            return False
        except Exception as exc:  # a bug, not a Soda fault: keep serving, but show the trace once
            self._last_ok = False
            self._log.exception("poll", outcome="failure", reason="internal", error=str(exc))
            self._fail("internal", f"internal error: {type(exc).__name__}", started, stats, logged=True)
            return False
        self._last_ok = True
        if pull_reason is None:
            labelled(self.metrics.polls_skipped, labels).inc()
        else:
            self._kept, self._pulled_at = data, self._monotonic()
            for reason, count in snapshot.skipped.items():
                self.metrics.rows_skipped.labels(*labels, reason).inc(count)
            if snapshot.skipped:
                # One warning per cycle, never one per row.
                self._log.warning("rows skipped", skipped=dict(snapshot.skipped))
        labelled(self.metrics.up, labels).set(1)
        labelled(self.metrics.last_success, labels).set(self._clock().timestamp())
        if self.datasets.refresh():
            self.state.publish(self.organization, self.labels, snapshot, self.datasets.datasets)
        duration = self._monotonic() - started
        labelled(self.metrics.poll_duration, labels).observe(duration)
        self.state.record_outcome(
            self.organization,
            PollOutcome(
                True,
                self._clock().timestamp(),
                duration,
                "success",
                open_incidents=snapshot.open_total,
                latest_report_date=snapshot.latest_report_date,
                last_etl_refresh=snapshot.last_etl_refresh,
            ),
        )
        self._log.info(
            "poll",
            outcome="success",
            pulled=pull_reason or "skipped: ETL unchanged",
            pages=stats.pages,
            rows=stats.rows,
            restarts=stats.restarts,
            open=snapshot.open_total,
            resolved=snapshot.resolved_total,
            report_date=str(snapshot.latest_report_date),
            duration_seconds=round(duration, 3),
        )
        return True

    def _fail(
        self, reason: str, message: str, started: float, stats: FetchStats, logged: bool = False
    ) -> None:
        duration = self._monotonic() - started
        labels = self._label_values
        labelled(self.metrics.up, labels).set(0)
        self.metrics.poll_failures.labels(*labels, reason).inc()
        labelled(self.metrics.poll_duration, labels).observe(duration)
        served = self.state.snapshot(self.organization)
        self.state.record_outcome(
            self.organization,
            PollOutcome(
                False,
                self._clock().timestamp(),
                duration,
                f"{reason}: {message}",
                latest_report_date=served.latest_report_date if served else None,
                last_etl_refresh=served.last_etl_refresh if served else None,
            ),
        )
        if not logged:
            self._log.error(
                "poll",
                outcome="failure",
                reason=reason,
                error=message,
                pages=stats.pages,
                rows=stats.rows,
                duration_seconds=round(duration, 3),
                serving="previous snapshot" if self.state.snapshot(self.organization) else "nothing yet",
            )

    def run_forever(self, stop: threading.Event) -> None:
        """Poll now, then every interval, until ``stop`` is set."""
        while not stop.is_set():
            self.run_cycle()
            stop.wait(self.settings.interval_seconds)

    def start(self, stop: threading.Event) -> threading.Thread:
        """Start polling in a daemon thread."""
        thread = threading.Thread(
            target=self.run_forever, args=(stop,), name=f"poller-{self.organization}", daemon=True
        )
        thread.start()
        return thread
