"""``soda-incidents-exporter backfill``: write the Reporting API's history as an OpenMetrics file."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, NoReturn, TextIO

from exporter.backfill import (
    DAY_SECONDS,
    DayAccumulator,
    DayTally,
    build_days,
    check_label_name,
    date_chunks,
    render_openmetrics,
    request_window,
)
from exporter.cli import DEMO_KEY_ID, DEMO_KEY_SECRET
from exporter.config import FLAGS, Flag, add_flags, resolve_flags
from exporter.durations import parse_duration
from exporter.organizations import REGIONS
from exporter.settings import ConfigError
from exporter.soda.credentials import CredentialsError, CredentialSource
from exporter.soda.errors import SodaBadResponseError, SodaError
from exporter.soda.reporting import ReportingClient

PROG = "soda-incidents-exporter backfill"
# The exporter's own flags that mean the same here: endpoints, credentials, HTTP, paging, window.
SHARED_FLAGS = frozenset((
    "--soda.region", "--soda.reporting-url", "--soda.organization", "--soda.api-key-id-file",
    "--soda.api-key-secret-file", "--soda.request-timeout", "--soda.retries", "--soda.max-retry-after",
    "--poll.page-size", "--poll.concurrency", "--resolved.window",
))  # fmt: skip
BACKFILL_FLAGS: tuple[Flag, ...] = tuple(flag for flag in FLAGS if flag.name in SHARED_FLAGS)


class _Parser(argparse.ArgumentParser):
    """Errors are one line and exit code 2, like the exporter's."""

    def error(self, message: str) -> NoReturn:
        """Print one line naming the problem and exit 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


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


def build_parser() -> argparse.ArgumentParser:
    """The backfill argument parser; the shared flags fall back to the exporter's variables."""
    parser = _Parser(
        prog=PROG,
        allow_abbrev=False,
        description="Write one sample per report date of soda_incidents_open and soda_incidents_resolved "
        "as OpenMetrics, for 'promtool tsdb create-blocks-from openmetrics'. Credentials come from "
        "SODA_API_KEY_ID / SODA_API_KEY_SECRET or the *-file flags.",
    )
    parser.add_argument("--from", dest="first", required=True, metavar="DATE", help="First date, YYYY-MM-DD.")
    parser.add_argument("--to", dest="last", required=True, metavar="DATE", help="Last date, included.")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="Output file ('-': stdout).")
    parser.add_argument(
        "--step",
        default="1d",
        help="Repeat each date's value this often until the next date (default 1d: one sample per date).",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Constant label on every series (repeatable), e.g. job=soda-incidents-exporter.",
    )
    parser.add_argument("--demo", action="store_true", help="Read from an embedded Soda Cloud simulator.")
    add_flags(parser, BACKFILL_FLAGS)
    return parser


def _day(flag: str, text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag}: {text!r} is not a date (use YYYY-MM-DD)") from None


def _labels(items: Sequence[str], organization: str | None) -> tuple[tuple[str, str], ...]:
    reserved = {"dataset_id", "severity", "status", "organization"}
    labels = [("organization", organization)] if organization else []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--label: {item!r} is not NAME=VALUE")
        try:
            check_label_name(name, reserved)
        except ValueError as exc:
            raise ConfigError(f"--label: {exc}") from None
        reserved.add(name)
        labels.append((name, value))
    return tuple(labels)


def parse_options(namespace: argparse.Namespace, environ: Mapping[str, str], today: date) -> BackfillOptions:
    """Validate dates, step, labels and the shared flags; raise ConfigError naming the flag."""
    first, last = _day("--from", namespace.first), _day("--to", namespace.last)
    if first > last:
        raise ConfigError(f"--from: {first} is after --to {last}")
    if last > today:
        raise ConfigError(f"--to: {last} is in the future (today is {today} UTC)")
    try:
        step = parse_duration(namespace.step)
    except ValueError as exc:
        raise ConfigError(f"--step: {namespace.step!r} {exc}") from None
    if not 1 <= step <= DAY_SECONDS:
        raise ConfigError(f"--step: {namespace.step!r} must be between 1s and 1d")
    values = resolve_flags(namespace, environ, BACKFILL_FLAGS)
    return BackfillOptions(
        first=first,
        last=last,
        output=namespace.output,
        step_seconds=step,
        labels=_labels(namespace.label, values["soda_organization"]),
        values=values,
        demo=bool(namespace.demo),
    )


def _credentials(values: Mapping[str, Any], environ: Mapping[str, str]) -> CredentialSource:
    source = CredentialSource(
        key_id=environ.get("SODA_API_KEY_ID") or None,
        key_secret=environ.get("SODA_API_KEY_SECRET") or None,
        key_id_file=values["soda_api_key_id_file"],
        key_secret_file=values["soda_api_key_secret_file"],
    )
    try:
        source.get()
    except CredentialsError as exc:
        raise ConfigError(str(exc)) from None
    return source


def collect(
    client: ReportingClient, options: BackfillOptions, progress: TextIO
) -> tuple[dict[str, DayTally], dict[str, DayTally], dict[str, int]]:
    """Query both statuses chunk by chunk; return per-date tallies and the rows skipped by reason."""
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
            print(f"{PROG}: {first}..{last} {status}: {sink.distinct_rows} rows", file=progress)
    return tallies[0], tallies[1], skipped


def _write(chunks: Iterator[str], output: str) -> tuple[int, int]:
    """Write the text to ``output`` (atomically for a file); return (series, samples)."""
    series = samples = 0

    def counted(handle: TextIO) -> None:
        nonlocal series, samples
        for chunk in chunks:
            if not chunk.startswith("#"):
                series += 1
                samples += chunk.count("\n")
            handle.write(chunk)

    if output == "-":
        counted(sys.stdout)
        sys.stdout.flush()
        return series, samples
    directory = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(prefix=".backfill-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            counted(handle)
        os.chmod(tmp, 0o644)  # mkstemp gives 0600; promtool may run as another user
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return series, samples


def run(options: BackfillOptions, client: ReportingClient, progress: TextIO) -> int:
    """Fetch, aggregate and write; return the exit code."""
    started = time.monotonic()
    try:
        unresolved, resolved, skipped = collect(client, options, progress)
    except SodaError as exc:
        print(f"{PROG}: error: {exc}", file=progress)
        return 1
    days = build_days(unresolved, resolved)
    chunks = render_openmetrics(
        days, labels=options.labels, step_seconds=options.step_seconds, until=time.time()
    )
    try:
        series, samples = _write(chunks, options.output)
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
    print(
        f"{PROG}: wrote {samples} samples of {series} series for {len(days)} report dates "
        f"to {options.output} in {time.monotonic() - started:.1f}s",
        file=progress,
    )
    return 0


def _client(options: BackfillOptions, url: str, credentials: CredentialSource) -> ReportingClient:
    values = options.values
    return ReportingClient(
        url,
        credentials,
        page_size=values["poll_page_size"],
        concurrency=values["poll_concurrency"],
        read_timeout=values["soda_request_timeout"],
        retries=values["soda_retries"],
        max_retry_after=values["soda_max_retry_after"],
    )


def main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """Parse arguments, run on Soda Cloud (or the embedded simulator with --demo), write the file."""
    env = os.environ if environ is None else environ
    parser = build_parser()
    namespace = parser.parse_args(list(argv))
    try:
        options = parse_options(namespace, env, datetime.now(timezone.utc).date())
        if options.demo:
            return _run_demo(options)
        url = options.values["soda_reporting_url"] or REGIONS[options.values["soda_region"]][0]
        credentials = _credentials(options.values, env)
    except ConfigError as exc:
        parser.error(str(exc))
    client = _client(options, url, credentials)
    try:
        return run(options, client, sys.stderr)
    finally:
        client.close()


def _run_demo(options: BackfillOptions) -> int:
    from exporter.simulator import SimulatorServer, generate_organisation

    demo_credentials = CredentialSource(key_id=DEMO_KEY_ID, key_secret=DEMO_KEY_SECRET)
    organisation = generate_organisation()
    with SimulatorServer(organisation, api_key_id=DEMO_KEY_ID, api_key_secret=DEMO_KEY_SECRET) as simulator:
        client = _client(options, simulator.reporting_url, demo_credentials)
        try:
            return run(options, client, sys.stderr)
        finally:
            client.close()
