"""``soda-incidents-exporter incident update``: change a Soda incident from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping

from exporter.config.arguments import OneLineParser, add_flags, join_negative_values, resolve_flags
from exporter.config.flags import FLAGS
from exporter.config.organizations import REGIONS
from exporter.config.settings import ConfigError, credentials_from
from exporter.logs import add_secret_source, configure_logging
from exporter.soda.cloud import SEVERITIES, STATUSES, CloudClient, IncidentUpdate, SodaError, UpdatedIncident

PROG = "soda-incidents-exporter incident"
# The exporter's own flags (and their variables) that say where Soda Cloud is and how to log in.
SHARED_FLAGS = tuple(
    flag
    for flag in FLAGS
    if flag.name
    in (
        "--soda.region",
        "--soda.cloud-url",
        "--soda.api-key-id-file",
        "--soda.api-key-secret-file",
        "--soda.request-timeout",
        "--soda.retries",
        "--soda.max-retry-after",
        "--log.level",
    )
)
CHANGE_OPTIONS = "--status, --severity, --title, --description or --resolution-notes"


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``incident`` and its ``update`` command."""
    parser = OneLineParser(prog=PROG, allow_abbrev=False, description="Act on Soda Cloud incidents.")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser
    )
    update = commands.add_parser(
        "update",
        allow_abbrev=False,
        help="change an incident's status, severity, title, description or resolution notes",
        description="Change a Soda Cloud incident through the Cloud API v1. Soda allows 10 updates per "
        "minute per API key; over that the command waits and retries. Credentials come from "
        "SODA_API_KEY_ID / SODA_API_KEY_SECRET or the *-file flags, as for the exporter.",
    )
    update.add_argument("incident_id", metavar="INCIDENT_ID", help="the incident's id (not its number)")
    update.add_argument("--status", choices=STATUSES, help="new status")
    update.add_argument("--severity", choices=SEVERITIES, help="new severity")
    update.add_argument("--title", help="new title")
    update.add_argument("--description", help="new description")
    update.add_argument("--resolution-notes", dest="resolution_notes", help="new resolution notes")
    update.add_argument("--output", choices=("text", "json"), default="text", help="output format (text)")
    add_flags(update, SHARED_FLAGS)
    return parser


def render_text(incident: UpdatedIncident) -> str:
    """The updated incident for a person: number, name, severity, status and Cloud URL."""
    number = f"#{incident.number}" if incident.number is not None else incident.id
    return (
        f"Updated incident {number}: {incident.name}\n"
        f"  severity:  {incident.severity}\n"
        f"  status:    {incident.status}\n"
        f"  cloud URL: {incident.cloud_url}\n"
    )


def main(argv: list[str], environ: Mapping[str, str] | None = None) -> int:
    """Run ``incident ...``; 0 on success, 1 when Soda refuses or fails, 2 on a usage error."""
    env = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(join_negative_values(argv, SHARED_FLAGS))
    command = f"{PROG} {args.command}"
    try:
        update = IncidentUpdate(
            title=args.title,
            severity=args.severity,
            status=args.status,
            description=args.description,
            resolution_notes=args.resolution_notes,
        )
    except ValueError as exc:  # pragma: no cover - argparse choices already hold the spec's values
        parser.error(str(exc))
    if update.is_empty():
        parser.exit(2, f"{command}: error: nothing to change: give at least one of {CHANGE_OPTIONS}\n")
    if args.title is not None and not args.title.strip():
        parser.exit(2, f"{command}: error: --title must not be empty\n")
    try:
        values = resolve_flags(args, env, SHARED_FLAGS)
        credentials = credentials_from(values, env)
    except ConfigError as exc:
        parser.exit(2, f"{command}: error: {exc}\n")
    configure_logging(str(values["log_level"]), "console")
    add_secret_source(credentials.secrets)
    cloud_url = str(values["soda_cloud_url"] or REGIONS[str(values["soda_region"])][1])
    client = CloudClient(
        cloud_url,
        credentials,
        read_timeout=float(values["soda_request_timeout"]),
        retries=int(values["soda_retries"]),
        max_retry_after=float(values["soda_max_retry_after"]),
    )
    try:
        incident = client.update_incident(args.incident_id, update)
    except SodaError as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{command}: interrupted; the update may or may not have been applied", file=sys.stderr)
        return 130
    finally:
        client.close()
    if args.output == "json":
        print(json.dumps(incident.to_json(), ensure_ascii=False))
    else:
        sys.stdout.write(render_text(incident))
    return 0
