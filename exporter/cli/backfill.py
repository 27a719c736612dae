"""``soda-incidents-exporter backfill``: write the Reporting API's history as an OpenMetrics file."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

from exporter.backfill.counts import DAY_SECONDS, check_label_name
from exporter.backfill.run import PROG, BackfillOptions, Labels, run
from exporter.config.arguments import OneLineParser, add_flags, parse_flags
from exporter.config.durations import parse_duration
from exporter.config.flags import FLAGS, Flag
from exporter.config.organizations import REGIONS, OrganizationsFileError, load_organizations
from exporter.config.settings import ConfigError, credentials_from
from exporter.exposition import catalogue
from exporter.logs import add_secret_source, configure_logging
from exporter.soda.credentials import CredentialSource
from exporter.soda.reporting import ReportingClient

# The exporter's own flags that mean the same here: endpoints, credentials, HTTP, paging, window.
SHARED_FLAGS = frozenset((
    "--soda.region", "--soda.reporting-url", "--soda.organization", "--soda.api-key-id-file",
    "--soda.api-key-secret-file", "--soda.request-timeout", "--soda.retries", "--soda.max-retry-after",
    "--poll.page-size", "--poll.concurrency", "--resolved.window", "--config.file",
))  # fmt: skip
BACKFILL_FLAGS: tuple[Flag, ...] = tuple(flag for flag in FLAGS if flag.name in SHARED_FLAGS)


def build_parser() -> argparse.ArgumentParser:
    """The backfill argument parser; the shared flags fall back to the exporter's variables."""
    parser = OneLineParser(
        prog=PROG,
        allow_abbrev=False,
        description=f"Write one sample per report date of {catalogue.OPEN.name} and "
        f"{catalogue.RESOLVED.name} as OpenMetrics, for 'promtool tsdb create-blocks-from openmetrics'. "
        "Credentials come from SODA_API_KEY_ID / SODA_API_KEY_SECRET or the *-file flags.",
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
    reserved = {*catalogue.OPEN.labels, *catalogue.RESOLVED.labels, "organization"}
    labels = [("organization", organization)] if organization else []
    given: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--label: {item!r} is not NAME=VALUE")
        if name in given:
            raise ConfigError(
                f"--label: {name!r} is given twice ({name}={given[name]}, {item}); give each label once"
            )
        try:
            check_label_name(name, reserved)
        except ValueError as exc:
            raise ConfigError(f"--label: {exc}") from None
        given[name] = value
        labels.append((name, value))
    return tuple(labels)


def parse_options(namespace: argparse.Namespace, values: dict[str, Any], today: date) -> BackfillOptions:
    """Validate dates, step and labels beside the resolved shared flags; raise ConfigError naming the flag."""
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
    if values["config_file"] and values["soda_organization"]:
        raise ConfigError("--soda.organization: not with --config.file, whose organisations have their names")
    return BackfillOptions(
        first=first,
        last=last,
        output=namespace.output,
        step_seconds=step,
        labels=_labels(namespace.label, values["soda_organization"]),
        values=values,
        demo=bool(namespace.demo),
    )


def _sources(
    options: BackfillOptions, environ: Mapping[str, str]
) -> list[tuple[Labels, str, CredentialSource]]:
    """(labels, Reporting API URL, credentials) of each organisation to read: --config.file's, or the one."""
    path = options.values["config_file"]
    if not path:
        url = options.values["soda_reporting_url"] or REGIONS[options.values["soda_region"]][0]
        return [(options.labels, url, credentials_from(options.values, environ))]
    try:
        orgs = load_organizations(path, environ)
    except OrganizationsFileError as exc:
        raise ConfigError(f"--config.file: {exc}") from None
    return [
        ((("organization", str(org.name)), *options.labels), org.reporting_url, org.credentials)
        for org in orgs
    ]


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
    # Log lines go to stderr, warnings and worse only: unconfigured, structlog would print every
    # line (debug included) to stdout, into the OpenMetrics of ``-o -``.
    configure_logging("warning", "console", stream=sys.stderr)
    parser = build_parser()
    namespace, values = parse_flags(parser, argv, env, BACKFILL_FLAGS)
    try:
        options = parse_options(namespace, values, datetime.now(timezone.utc).date())
        if options.demo:
            return _run_demo(options)
        sources = _sources(options, env)
    except ConfigError as exc:
        parser.error(str(exc))
    for _, _, credentials in sources:
        add_secret_source(credentials.secrets)
    clients = [(labels, _client(options, url, credentials)) for labels, url, credentials in sources]
    try:
        return run(options, clients, sys.stderr)
    finally:
        for _, client in clients:
            client.close()


def _run_demo(options: BackfillOptions) -> int:
    from exporter.cli.demo import demo_credentials
    from exporter.simulator import SimulatorServer, generate_organization

    with SimulatorServer(generate_organization()) as simulator:  # it accepts the demo key pair
        client = _client(options, simulator.reporting_url, demo_credentials())
        try:
            return run(options, [(options.labels, client)], sys.stderr)
        finally:
            client.close()
