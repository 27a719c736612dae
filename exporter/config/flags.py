"""Command-line flags in Prometheus's dotted style, each with an environment variable behind it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter.config.durations import format_duration, parse_duration
from exporter.config.organizations import REGIONS
from exporter.exposition import catalogue
from exporter.incidents.snapshot import DEFAULT_AGE_BUCKETS
from exporter.incidents.teams import DEFAULT_TEAM_FROM, parse_team_from

DEFAULT_PORT = 9877
DEFAULT_LISTEN_ADDRESS = f":{DEFAULT_PORT}"


def env_var_for(flag: str) -> str:
    """Map a flag to its variable: ``--soda.cloud-url`` -> ``SODA_CLOUD_URL``, others get SODA_EXPORTER_."""
    name = flag.lstrip("-").upper().replace(".", "_").replace("-", "_")
    return name if name.startswith("SODA_") else f"SODA_EXPORTER_{name}"


@dataclass(frozen=True)
class Flag:
    """One flag: its default (as text, parsed like user input) and its parser."""

    name: str
    default: str | None
    help: str
    parse: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    env: str | None = None
    boolean: bool = False  # a switch: ``--flag`` alone means true; its variable takes true/false
    repeatable: bool = False  # may be given more than once; its variable takes a comma-separated list

    @property
    def env_name(self) -> str:
        """The environment variable that backs this flag."""
        return self.env or env_var_for(self.name)

    @property
    def dest(self) -> str:
        """Attribute name in the parsed namespace."""
        return self.name.lstrip("-").replace(".", "_").replace("-", "_")


def _positive_duration(text: str) -> float:
    if text.strip().startswith("-"):
        raise ValueError("must be greater than zero")
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError("must be greater than zero")
    return seconds


def page_size(text: str) -> int:
    """A Reporting API page size: 1 to 1000 rows."""
    value = int(text)
    if not 1 <= value <= 1000:
        raise ValueError("must be between 1 and 1000 (the Reporting API's limit)")
    return value


def non_negative_int(text: str) -> int:
    """A whole number, 0 or more."""
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _concurrency(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 16:
        raise ValueError("must be between 1 and 16")
    return value


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def parse_bool(text: str) -> bool:
    """The one reading of a boolean flag or variable: 1/true/yes/on or 0/false/no/off."""
    value = text.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ValueError(f"must be one of {', '.join(TRUE_WORDS)} (true) or {', '.join(FALSE_WORDS)} (false)")


# Prometheus exporters (the exporter-toolkit's promlog) spell it "warn"; "warning" is Python's name.
LOG_LEVELS = ("debug", "info", "warn", "warning", "error")


def _log_level(text: str) -> str:
    value = text.lower()
    return "warning" if value == "warn" else value


def _queue_size(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100_000:
        raise ValueError("must be between 1 and 100000")
    return value


def _buckets(text: str) -> tuple[float, ...]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError("must be a comma-separated, strictly increasing list of durations")
    values: list[float] = []
    for position, part in enumerate(parts, 1):
        try:
            values.append(parse_duration(part))
        except ValueError:
            raise ValueError(
                f"has item {position}, {part!r}, which is not a duration (e.g. 90s, 1h, 2d)"
            ) from None
    for (text_a, a), (text_b, b) in itertools.pairwise(zip(parts, values, strict=True)):
        if b <= a:
            raise ValueError(f"must increase strictly, but {text_b!r} follows {text_a!r}")
    return tuple(values)


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return text.rstrip("/")


def _telemetry_path(text: str) -> str:
    if not text.startswith("/") or text in ("/", "/healthz", "/readyz"):
        raise ValueError("must start with / and not clash with /, /healthz or /readyz")
    return text


def parse_listen_address(text: str) -> tuple[str, int]:
    """Split ``host:port`` (``:9877`` means every interface, IPv6 and IPv4; ``[::1]:9877`` for IPv6)."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or (":" in host and not host.startswith("[")):
        raise ValueError("must look like host:port, [ipv6]:port or :port")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError("port must be between 0 and 65535")
    return host.strip("[]"), port


FLAGS: tuple[Flag, ...] = (
    Flag(
        "--web.listen-address",
        DEFAULT_LISTEN_ADDRESS,
        "Address to serve metrics on (:PORT: IPv6 and IPv4); repeat, or comma-separate in the variable.",
        parse_listen_address,
        repeatable=True,
    ),
    Flag(
        "--web.config.file",
        None,
        "Web configuration file (TLS, basic auth, headers) in the Prometheus exporter-toolkit format; "
        "re-read when it or a file it names changes.",
    ),
    Flag("--web.telemetry-path", "/metrics", "Path under which to expose metrics.", _telemetry_path),
    Flag(
        "--web.read-header-timeout",
        "10s",
        "Longest time for a TLS handshake and a request's head.",
        _positive_duration,
    ),
    Flag("--web.read-timeout", "30s", "Longest time for a whole request, head and body.", _positive_duration),
    Flag("--web.idle-timeout", "2m", "Close kept-alive connections idle this long.", _positive_duration),
    Flag(
        "--web.write-timeout",
        "30s",
        "Drop a client that takes no byte of its response for this long.",
        _positive_duration,
    ),
    Flag("--web.max-workers", None, "Deprecated, ignored: the server has no thread pool now.", _concurrency),
    Flag("--soda.region", "eu", "Soda Cloud region; picks both base URLs.", str, tuple(REGIONS)),
    Flag("--soda.reporting-url", None, "Reporting API base URL including /v1 (overrides the region).", _url),
    Flag("--soda.cloud-url", None, "Soda Cloud API base URL (overrides the region).", _url),
    Flag("--soda.organization", None, "Value of an organization label on every series (default: none)."),
    Flag("--soda.api-key-id-file", None, "File holding the API key id (else $SODA_API_KEY_ID)."),
    Flag("--soda.api-key-secret-file", None, "File holding the API key secret (else $SODA_API_KEY_SECRET)."),
    Flag("--soda.request-timeout", "30s", "Read timeout of one HTTP request.", _positive_duration),
    Flag("--soda.retries", "3", "Retries of one request on 429, 5xx, timeouts and resets.", non_negative_int),
    Flag("--soda.max-retry-after", "30s", "Longest Retry-After wait honoured.", parse_duration),
    Flag("--poll.interval", "5m", "Time between poll cycles.", _positive_duration),
    Flag("--poll.lookback", "3d", "Report-date window of the open-incident query.", _positive_duration),
    Flag("--poll.timeout", "2m", "Upper bound of one whole poll cycle.", _positive_duration),
    Flag(
        "--poll.max-age",
        "6h",
        "Pull incidents at least this often, even if Soda's ETL did not run (0: every cycle).",
        parse_duration,
    ),
    Flag("--poll.page-size", "1000", "Rows per Reporting API page (1-1000).", page_size),
    Flag(
        "--poll.concurrency", "4", "Pages fetched in parallel after the first (1 = sequential).", _concurrency
    ),
    Flag(
        "--datasets.interval",
        "1h",
        "Refresh dataset names at most this often (0 turns it off).",
        parse_duration,
    ),
    Flag(
        "--datasets.team-from",
        DEFAULT_TEAM_FROM,
        f"Where {catalogue.DATASET_INFO.name}'s team label comes from: attribute:NAME or tag:PREFIX "
        "(a PREFIX:team tag), comma-separated and tried in order, or none.",
        parse_team_from,
    ),
    Flag("--resolved.window", "30d", "Window of resolved incidents counted.", _positive_duration),
    Flag(
        "--incident-info.limit",
        "500",
        f"Cap on {catalogue.INCIDENT_INFO.name} series (0 turns it off).",
        non_negative_int,
    ),
    Flag(
        "--metrics.age-buckets",
        ",".join(format_duration(b) for b in DEFAULT_AGE_BUCKETS),
        "Upper bounds of the age and resolution-duration histograms.",
        _buckets,
    ),
    Flag("--config.file", None, "YAML file listing several organisations (replaces the --soda.* endpoints)."),
    Flag("--log.level", "info", "Minimum log level.", _log_level, LOG_LEVELS),
    Flag(
        "--log.format", None, "Log format (default: console on a TTY, else json).", str, ("json", "console")
    ),
    Flag(
        "--webhook.enable",
        "false",
        "Serve the Alertmanager webhook that updates Soda incidents, at /alertmanager/webhook.",
        parse_bool,
        boolean=True,
    ),
    Flag(
        "--webhook.token-file",
        None,
        "File holding the webhook's bearer token (else $SODA_EXPORTER_WEBHOOK_TOKEN).",
    ),
    Flag(
        "--webhook.dry-run",
        "false",
        "Log the updates the webhook would send; send none.",
        parse_bool,
        boolean=True,
    ),
    Flag("--webhook.actions-file", None, "YAML file of more soda_action names and the fields each sets."),
    Flag("--webhook.queue-size", "100", "Updates the webhook holds before it answers 503.", _queue_size),
    Flag(
        "--demo",
        "false",
        "Run against an embedded Soda Cloud simulator (no credentials needed).",
        parse_bool,
        boolean=True,
    ),
)
