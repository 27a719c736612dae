"""One backfill run: read each organisation's history chunk by chunk, count it per date, write one file."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TextIO

from exporter.backfill.counts import (
    DayAccumulator,
    DayCounts,
    DayTally,
    build_days,
    date_chunks,
    render_labelled,
    request_window,
)
from exporter.backfill.output import check_writable, plural, write_counted
from exporter.soda.errors import SodaBadResponseError, SodaError
from exporter.soda.reporting import ReportingClient

PROG = "soda-incidents-exporter backfill"
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class BackfillOptions:
    """A validated backfill request."""

    first: date
    last: date
    output: str
    step_seconds: float
    labels: tuple[tuple[str, str], ...]
    values: Mapping[str, Any]
    demo: bool


def collect(
    client: ReportingClient, options: BackfillOptions, progress: TextIO, name: str = ""
) -> tuple[dict[str, DayTally], dict[str, DayTally], dict[str, int]]:
    """Query both statuses chunk by chunk; return per-date tallies and the rows skipped by reason."""
    where = f"{name}: " if name else ""
    window = options.values["resolved_window"]
    tallies: tuple[dict[str, DayTally], dict[str, DayTally]] = ({}, {})
    skipped: dict[str, int] = {}
    for first, last in date_chunks(options.first, options.last):
        from_dt, to_dt = request_window(first, last)
        for resolved, into in ((False, tallies[0]), (True, tallies[1])):

            def new_sink(resolved: bool = resolved, first: date = first, last: date = last) -> DayAccumulator:
                return DayAccumulator(
                    resolved=resolved, first=first, last=last, resolved_window_seconds=window
                )

            status = "resolved" if resolved else "unresolved"
            sink = client.fetch_incidents(status, from_dt, to_dt, new_sink)
            if sink.mostly_unusable():
                # As in the live exporter: history made mostly of unreadable rows is not written.
                raise SodaBadResponseError(
                    f"POST /impact/incidents status={status} {first}..{last}: more than half of "
                    f"{sink.distinct_rows} rows unusable ({dict(sink.skipped)})"
                )
            into.update(sink.days)  # chunks never share a date
            for reason, count in sink.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + count
            print(f"{PROG}: {where}{first}..{last} {status}: {sink.distinct_rows} rows", file=progress)
    return tallies[0], tallies[1], skipped


def run(options: BackfillOptions, clients: Sequence[tuple[Labels, ReportingClient]], progress: TextIO) -> int:
    """Fetch every organisation, aggregate and write one file; return the exit code (1: nothing written)."""
    started = time.monotonic()
    try:
        check_writable(options.output)
    except OSError as exc:
        print(f"{PROG}: error: cannot write {options.output}: {exc.strerror or exc}", file=progress)
        return 1
    parts: list[tuple[Labels, list[DayCounts]]] = []
    skipped: dict[str, int] = {}
    for labels, client in clients:
        name = dict(labels).get("organization", "") if len(clients) > 1 else ""
        try:
            unresolved, resolved, org_skipped = collect(client, options, progress, name)
        except SodaError as exc:
            print(f"{PROG}: error: {name + ': ' if name else ''}{exc}", file=progress)
            return 1
        parts.append((labels, build_days(unresolved, resolved)))
        for reason, count in org_skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    days = {counts.day for _, part in parts for counts in part}
    chunks = render_labelled(parts, step_seconds=options.step_seconds, until=time.time())
    try:
        series, samples = write_counted(chunks, options.output)
    except OSError as exc:
        print(f"{PROG}: error: cannot write {options.output}: {exc.strerror or exc}", file=progress)
        return 1
    if skipped:
        reasons = ", ".join(f"{reason}={count}" for reason, count in sorted(skipped.items()))
        print(f"{PROG}: skipped rows: {reasons}", file=progress)
    if not days:
        print(
            f"{PROG}: warning: no report date between {options.first} and {options.last} has data",
            file=progress,
        )
    where = "standard output" if options.output == "-" else options.output
    print(
        f"{PROG}: wrote {plural(samples, 'sample', 'samples')} of {plural(series, 'series', 'series')} "
        f"for {plural(len(days), 'report date', 'report dates')} to {where} "
        f"in {time.monotonic() - started:.1f}s",
        file=progress,
    )
    return 0
