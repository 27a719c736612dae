"""The metric catalogue: every family the exporter can expose, with its type, HELP and labels.

The collector, the self-metrics, the web server, the webhook and the backfill build their families from
these entries; the rules and dashboards generators name metrics through them; the README's metrics table
is checked against them (tests/test_readme.py). Nothing here imports the rest of the package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

MetricType = Literal["gauge", "counter", "histogram", "gaugehistogram", "info"]

# Appended to the HELP of the incident families the collector serves: they are not live values.
CACHED = "Cached from the last successful poll of the Soda Cloud Reporting API."
# Appended instead by the backfill, whose samples are one per report date.
BACKFILLED = "Backfilled per report date."

# Suffixes prometheus_client adds to a family's name when exposing it (the catalogue holds the exposed name).
_SUFFIXES = {"counter": "_total", "info": "_info"}


@dataclass(frozen=True)
class MetricSpec:
    """One metric family: its exposed name, type, HELP, own labels, and what the README says of it.

    ``per_organization`` marks families whose series start with the optional ``organization`` label
    (present when several organisations are polled, or the backfill's own labels).
    ``cached`` marks the incident families whose HELP gains CACHED when the collector serves them.
    """

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()
    per_organization: bool = True
    cached: bool = False
    meaning: str = ""

    @property
    def base(self) -> str:
        """The name prometheus_client is given: without the _total or _info it adds itself."""
        return self.name.removesuffix(_SUFFIXES.get(self.type, ""))

    @property
    def served_help(self) -> str:
        """The HELP text as served on /metrics."""
        return f"{self.help} {CACHED}" if self.cached else self.help

    @property
    def backfill_help(self) -> str:
        """The HELP text the backfill writes."""
        return f"{self.help} {BACKFILLED}"

    def label_names(self, const: Sequence[str] = ()) -> list[str]:
        """The constant labels (e.g. organization) when per-organisation, then its own."""
        return [*const, *self.labels] if self.per_organization else list(self.labels)


def _incident(name: str, type_: MetricType, help_: str, labels: tuple[str, ...], meaning: str) -> MetricSpec:
    return MetricSpec(name, type_, help_, labels, cached=True, meaning=meaning)


OPEN = _incident(
    "soda_incidents_open",
    "gauge",
    "Open incidents by dataset, severity and status (zero-filled).",
    ("dataset_id", "severity", "status"),
    "Open incidents, zero-filled as described above.",
)
OPEN_AGE = _incident(
    "soda_incident_open_age_seconds",
    "gaugehistogram",
    "Age of open incidents (now - created_at), by severity.",
    ("severity",),
    "now \u2212 created_at over open incidents; buckets from `--metrics.age-buckets`. "
    "Recomputed every cycle. Incidents whose `created_at` is unusable are left out, so its count can "
    "be lower than `soda_incidents_open`.",
)
RESOLVED = _incident(
    "soda_incidents_resolved",
    "gauge",
    "Incidents resolved inside the resolved window, by dataset and severity.",
    ("dataset_id", "severity"),
    "Incidents resolved inside the resolved window.",
)
RESOLUTION_DURATION = _incident(
    "soda_incident_resolution_duration_seconds",
    "gaugehistogram",
    "Time from creation to resolution of incidents resolved inside the window.",
    ("severity",),
    "resolved_at \u2212 created_at over those incidents, same buckets.",
)
INCIDENT_INFO = _incident(
    "soda_incident_info",
    "info",
    "One series per open incident, newest first, capped by --incident-info.limit.",
    ("incident_id", "title", "dataset_id", "check_name", "severity", "status", "lead_email"),
    "One series per open incident, newest first, capped by `--incident-info.limit`.",
)
INCIDENT_CREATED = _incident(
    "soda_incident_created_timestamp_seconds",
    "gauge",
    "Creation time of the incidents shown by soda_incident_info.",
    ("incident_id",),
    "Creation time of the incidents in `soda_incident_info` (none for an unusable `created_at`).",
)
INFO_TRUNCATED = _incident(
    "soda_incident_info_truncated",
    "gauge",
    "Open incidents left out of soda_incident_info by the cap.",
    (),
    "Open incidents left out by the cap.",
)
REPORT_DATE = _incident(
    "soda_reporting_report_date_timestamp_seconds",
    "gauge",
    "Latest report date present in the data (midnight UTC).",
    (),
    "Latest report date seen (midnight UTC): the date the open counts are those of, however old.",
)
LAST_ETL_REFRESH = _incident(
    "soda_reporting_last_etl_refresh_timestamp_seconds",
    "gauge",
    "When Soda last refreshed the Reporting API data.",
    (),
    "When Soda last refreshed the Reporting API data.",
)
UP = MetricSpec(
    "soda_up",
    "gauge",
    "1 when the last poll cycle of Soda Cloud succeeded, else 0.",
    meaning="1 when the last poll cycle succeeded.",
)
LAST_SUCCESS = MetricSpec(
    "soda_exporter_last_success_timestamp_seconds",
    "gauge",
    "When the last successful poll cycle finished.",
    meaning="End of the last successful cycle.",
)
POLL_DURATION = MetricSpec(
    "soda_exporter_poll_duration_seconds",
    "histogram",
    "Wall time of poll cycles, successful or not.",
    meaning="Wall time of poll cycles.",
)
POLLS = MetricSpec(
    "soda_exporter_polls_total", "counter", "Poll cycles started.", meaning="Poll cycles started."
)
POLL_FAILURES = MetricSpec(
    "soda_exporter_poll_failures_total",
    "counter",
    "Poll cycles that failed, by reason.",
    ("reason",),
    meaning="Failed cycles: `auth`, `timeout`, `connection`, `server_error`, `rate_limited`, `bad_response`, "
    "`pagination_drift`, `client_error`, `credentials`, `internal`.",
)
API_REQUESTS = MetricSpec(
    "soda_exporter_api_requests_total",
    "counter",
    "HTTP requests made to Soda Cloud, by endpoint and status code (retries included).",
    ("endpoint", "code"),
    meaning="Requests to Soda, retries included (`code` is the HTTP status, `timeout` or "
    "`connection_error`).",
)
ROWS_SKIPPED = MetricSpec(
    "soda_exporter_rows_skipped_total",
    "counter",
    "Reporting API rows skipped because a field was unusable, by reason.",
    ("reason",),
    meaning="Rows with an unusable field, by reason: `not_an_object`, `missing_incident_id`, "
    "`bad_report_date` rows are left out of every count, `bad_status` rows of the open counts; "
    "`missing_dataset_id`, `bad_created_at`, `bad_resolved_at` rows are counted partly (see "
    "[How incidents are counted](#how-incidents-are-counted)).",
)
POLLS_SKIPPED = MetricSpec(
    "soda_exporter_polls_skipped_total",
    "counter",
    "Incident pulls saved because Soda's ETL had not refreshed since the last one.",
    meaning="Incident pulls saved because Soda's data had not changed.",
)
DATASET_INFO = _incident(
    "soda_dataset_info",
    "info",
    "Names, data source, owner and team of each dataset, from /coverage/datasets.",
    ("dataset_id", "dataset_name", "dataset_label", "datasource_name", "owner_email", "team"),
    "One series per dataset, from `/coverage/datasets`, for `group_left` joins.",
)
DATASET_REFRESH_FAILURES = MetricSpec(
    "soda_exporter_dataset_refresh_failures_total",
    "counter",
    "Failed refreshes of dataset names (incident metrics are not affected), by reason.",
    ("reason",),
    meaning="Failed refreshes of dataset names; incident metrics are not affected and the last good names "
    "stay.",
)
INCIDENT_UPDATES = MetricSpec(
    "soda_exporter_incident_updates_total",
    "counter",
    "Incident updates asked for through the Alertmanager webhook, by action and result.",
    ("action", "result"),
    per_organization=False,
    meaning="Only with `--webhook.enable`: incident updates asked for by Alertmanager, by outcome (see "
    "[Acting on incidents](#webhook-metrics)).",
)
UPDATE_QUEUE_LENGTH = MetricSpec(
    "soda_exporter_incident_update_queue_length",
    "gauge",
    "Incident updates accepted by the webhook and not yet sent.",
    per_organization=False,
    meaning="Only with `--webhook.enable`: updates accepted by the webhook and not yet sent.",
)
WEB_AUTH_FAILURES = MetricSpec(
    "soda_exporter_web_auth_failures_total",
    "counter",
    "Requests and client certificates the --web.config.file refused, by reason.",
    ("reason",),
    per_organization=False,
    meaning="Requests and client certificates refused by `--web.config.file`: `missing`, `malformed`, "
    "`unknown_user`, `wrong_password`, `throttled` (basic auth) and `client_certificate` "
    "(`client_allowed_sans`).",
)
WEB_CONFIG_RELOAD_OK = MetricSpec(
    "soda_exporter_web_config_last_reload_successful",
    "gauge",
    "1 when the last (re)load of --web.config.file succeeded or none is used, 0 when the file in "
    "force is an older good version.",
    per_organization=False,
    meaning="1 when the last (re)load of `--web.config.file` succeeded (or none is used); 0 while an older "
    "good version stays in force.",
)
BUILD_INFO = MetricSpec(
    "soda_exporter_build_info",
    "info",
    "Version of the exporter and of Python.",
    ("version", "python_version"),
    per_organization=False,
    meaning="Build information.",
)
HTTP_ACCEPT_FAILURES = MetricSpec(
    "soda_exporter_http_accept_failures_total",
    "counter",
    "Connections the HTTP server could not accept, by reason (e.g. out of file descriptors).",
    ("reason",),
    per_organization=False,
    meaning="Connections the HTTP server could not accept: `process_open_files_limit` (EMFILE), "
    "`system_open_files_limit` (ENFILE), `out_of_memory`. Each failure pauses accepting for a second; one "
    "error line is logged per 10 s while it lasts.",
)

# In the README's order.
CATALOGUE: tuple[MetricSpec, ...] = (
    OPEN,
    OPEN_AGE,
    RESOLVED,
    RESOLUTION_DURATION,
    INCIDENT_INFO,
    INCIDENT_CREATED,
    INFO_TRUNCATED,
    REPORT_DATE,
    LAST_ETL_REFRESH,
    UP,
    LAST_SUCCESS,
    POLL_DURATION,
    POLLS,
    POLL_FAILURES,
    API_REQUESTS,
    ROWS_SKIPPED,
    POLLS_SKIPPED,
    DATASET_INFO,
    DATASET_REFRESH_FAILURES,
    INCIDENT_UPDATES,
    UPDATE_QUEUE_LENGTH,
    WEB_AUTH_FAILURES,
    WEB_CONFIG_RELOAD_OK,
    BUILD_INFO,
    HTTP_ACCEPT_FAILURES,
)
BY_NAME = {spec.name: spec for spec in CATALOGUE}
