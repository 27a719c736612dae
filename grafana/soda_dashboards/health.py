"""The "Soda Incidents Exporter — Health" dashboard: is the exporter polling Soda Cloud and being scraped."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.models import common as cm

from exporter.exposition import catalogue
from soda_dashboards.common import (
    PROCESS,
    TARGET,
    Board,
    p50_and_p90,
    query,
    stat_panel,
    target_variables,
    thresholds,
    timeseries_panel,
    value_map,
)

UID = "soda-incidents-exporter-health"
TITLE = "Soda Incidents Exporter — Health"

# Polls are minutes apart: rate them over at least a few minutes so the graphs are not mostly gaps.
POLL_INTERVAL = "5m"
RATE = "$__rate_interval"

UP_MAP = {"0": ("Down", "red"), "1": ("Up", "green")}
POLL_MAP = {"0": ("Failing", "red"), "1": ("OK", "green")}
UP_STEPS = thresholds((None, "red"), (1, "green"))


def growth_by_reason(counter: str) -> str:
    """How much ``counter`` grew per interval, summed by reason."""
    return f"sum by (reason) (increase({counter}{{{TARGET}}}[{RATE}]))"


def by_reason_bars(title: str, description: str, expr: str) -> timeseries.Panel:
    """Stacked bars of a count per poll interval, one series per reason."""
    panel = timeseries_panel(
        title, description, "short", [query(expr, "{{reason}}")], stacked=True, bars=True
    )
    return panel.interval(POLL_INTERVAL)


def status_row(board: Board) -> None:
    """Headline state of the exporter."""
    board.row("Status")
    up = stat_panel(
        "Soda Cloud polling",
        f"{catalogue.UP.name}: whether the exporter's last poll cycle of Soda Cloud succeeded.",
        "none",
        query(f"min({catalogue.UP.name}{{{TARGET}}})", instant=True),
        UP_STEPS,
    ).mappings(value_map(POLL_MAP))
    target = stat_panel(
        "Scrape target",
        "up: whether Prometheus' last scrape of the exporter succeeded.",
        "none",
        query(f"min(up{{{PROCESS}}})", instant=True),
        UP_STEPS,
    ).mappings(value_map(UP_MAP))
    panels = [
        up,
        target,
        stat_panel(
            "Time since last successful poll",
            "Time since the exporter last finished a successful poll cycle.",
            "s",
            query(f"max(time() - {catalogue.LAST_SUCCESS.name}{{{TARGET}}})", instant=True),
            thresholds((None, "green"), (900, "orange"), (3600, "red")),
        ),
        stat_panel(
            "Poll failures (1h)",
            "Failed poll cycles over the last hour, all reasons.",
            "short",
            query(f"sum(increase({catalogue.POLL_FAILURES.name}{{{TARGET}}}[1h]))", instant=True),
            thresholds((None, "green"), (1, "orange")),
        ),
        stat_panel(
            "Scrape duration",
            "How long Prometheus' last scrape of the exporter took.",
            "s",
            query(f"max(scrape_duration_seconds{{{PROCESS}}})", instant=True),
            thresholds((None, "green"), (5, "orange"), (10, "red")),
        ),
        stat_panel(
            "Exporter version",
            f"Version of the exporter ({catalogue.BUILD_INFO.name}).",
            "none",
            query(
                f"max by (version) ({catalogue.BUILD_INFO.name}{{{PROCESS}}})", "{{version}}", instant=True
            ),
            text_mode=cm.BigValueTextMode.NAME,
        ),
    ]
    for panel in panels:
        board.add(panel, 4, 4)


def polling_row(board: Board) -> None:
    """How polling Soda Cloud goes: duration, outcome, API calls."""
    board.row("Polling Soda Cloud")
    board.add(
        timeseries_panel(
            "Polling and scrape status",
            f"{catalogue.UP.name} (last poll cycle succeeded) per instance and organisation, "
            "and up (last scrape succeeded) per instance.",
            "none",
            [
                query(
                    f"min by (instance, organization) ({catalogue.UP.name}{{{TARGET}}})",
                    "polling {{instance}} {{organization}}",
                    ref="A",
                ),
                query(f"up{{{PROCESS}}}", "scrape {{instance}}", ref="B"),
            ],
        )
        .min(0)
        .max(1),
        12,
        8,
    )
    board.add(
        timeseries_panel(
            "Poll duration",
            "Wall time of poll cycles: median, 90th percentile and mean.",
            "s",
            [
                *p50_and_p90(
                    lambda q: (
                        f"histogram_quantile({q}, sum by (le) "
                        f"(rate({catalogue.POLL_DURATION.name}_bucket{{{TARGET}}}[{RATE}])))"
                    )
                ),
                query(
                    f"sum(rate({catalogue.POLL_DURATION.name}_sum{{{TARGET}}}[{RATE}]))\n"
                    f"/ sum(rate({catalogue.POLL_DURATION.name}_count{{{TARGET}}}[{RATE}]))",
                    "mean",
                    ref="C",
                ),
            ],
        ).interval(POLL_INTERVAL),
        12,
        8,
    )
    board.add(
        by_reason_bars(
            "Poll failures by reason",
            "Failed poll cycles per interval, by reason (auth, timeout, connection, server_error, ...).",
            growth_by_reason(catalogue.POLL_FAILURES.name),
        ),
        12,
        8,
    )
    board.add(
        timeseries_panel(
            "Soda Cloud API requests by endpoint and code",
            "HTTP requests to Soda Cloud per second, retries included.",
            "reqps",
            [
                query(
                    f"sum by (endpoint, code) (rate({catalogue.API_REQUESTS.name}{{{TARGET}}}[{RATE}]))",
                    "{{endpoint}} {{code}}",
                )
            ],
            stacked=True,
        ).interval(POLL_INTERVAL),
        12,
        8,
    )
    board.add(
        timeseries_panel(
            "Poll cycles",
            "Poll cycles started, and those skipped because Soda's ETL had not refreshed, per minute.",
            "opm",
            [
                query(f"sum(rate({catalogue.POLLS.name}{{{TARGET}}}[{RATE}])) * 60", "started", ref="A"),
                query(
                    f"sum(rate({catalogue.POLLS_SKIPPED.name}{{{TARGET}}}[{RATE}])) * 60",
                    "skipped",
                    ref="B",
                ),
            ],
        ).interval(POLL_INTERVAL),
        12,
        8,
    )
    board.add(
        by_reason_bars(
            "Reporting rows skipped by reason",
            "Reporting API rows the exporter could not use, per interval, by reason.",
            growth_by_reason(catalogue.ROWS_SKIPPED.name),
        ),
        12,
        8,
    )


def or_zero(expr: str) -> str:
    """``expr``, or 0 while the selected exporters poll but have recorded nothing of it (no failure yet)."""
    return f"{expr}\nor on () 0 * sum({catalogue.UP.name}{{{TARGET}}})"


def datasets_row(board: Board) -> None:
    """Dataset names (soda_dataset_info) and the incident pulls saved by ETL-aware polling."""
    board.row("Dataset names and skipped pulls")
    failures = catalogue.DATASET_REFRESH_FAILURES.name
    stats = [
        stat_panel(
            "Datasets with names",
            f"Datasets listed in {catalogue.DATASET_INFO.name} (from Soda's /coverage/datasets); "
            "dashboards show the others by id.",
            "short",
            query(or_zero(f"count({catalogue.DATASET_INFO.name}{{{TARGET}}})"), instant=True),
        ),
        stat_panel(
            "Dataset name refresh failures (1h)",
            "Failed refreshes of dataset names over the last hour; the last good names are kept "
            "and incident metrics are not affected.",
            "short",
            query(or_zero(f"sum(increase({failures}{{{TARGET}}}[1h]))"), instant=True),
            thresholds((None, "green"), (1, "orange")),
        ),
        stat_panel(
            "Incident pulls skipped (1h)",
            "Poll cycles of the last hour that did not pull incidents again because Soda's "
            "reporting ETL had not refreshed since the last pull.",
            "short",
            query(f"sum(increase({catalogue.POLLS_SKIPPED.name}{{{TARGET}}}[1h]))", instant=True),
        ),
    ]
    for panel in stats:
        board.add(panel, 4, 8)
    board.add(
        by_reason_bars(
            "Dataset name refresh failures by reason",
            "Failed refreshes of dataset names per interval, by reason (none: no failure recorded).",
            growth_by_reason(failures)
            + f"\nor on () label_replace(0 * sum({catalogue.UP.name}{{{TARGET}}}), "
            '"reason", "none", "", "")',
        ),
        12,
        8,
    )


def process_row(board: Board) -> None:
    """Prometheus' view of the scrape, and the exporter process (per process: no organisation)."""
    board.row("Scrape and process")
    board.add(
        timeseries_panel(
            "Scrape duration",
            "How long Prometheus takes to scrape the exporter.",
            "s",
            [query(f"scrape_duration_seconds{{{PROCESS}}}", "{{instance}}")],
        ),
        8,
        8,
    )
    board.add(
        timeseries_panel(
            "Resident memory",
            "Resident memory of the exporter process.",
            "bytes",
            [query(f"process_resident_memory_bytes{{{PROCESS}}}", "{{instance}}")],
        ),
        8,
        8,
    )
    board.add(
        timeseries_panel(
            "CPU usage",
            "CPU time used by the exporter process, as a share of one core.",
            "percentunit",
            [query(f"rate(process_cpu_seconds_total{{{PROCESS}}}[{RATE}])", "{{instance}}")],
        ),
        8,
        8,
    )


def build() -> dict[str, Any]:
    """The health dashboard as JSON-compatible data."""
    board = Board(
        UID, TITLE, "Health of the Soda incidents exporter: polling Soda Cloud and being scraped.", "now-6h"
    )
    board.variables(target_variables())
    status_row(board)
    polling_row(board)
    datasets_row(board)
    process_row(board)
    return board.to_dict()
