"""The "Soda Incidents — Overview" dashboard: open incidents, their age, resolution and data freshness."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.models import common as cm

from exporter.exposition import catalogue
from soda_dashboards.common import (
    AGE_STEPS,
    BUCKET_NAMES,
    BY_SEVERITY,
    DATASET_KEY,
    INCIDENTS,
    OPEN_AGE_RECORD,
    TARGET,
    Board,
    bargauge_panel,
    heatmap_query,
    label_variable,
    of_owners,
    ownership,
    query,
    rename_buckets,
    selected,
    stat_panel,
    target_variables,
    thresholds,
    timeseries_panel,
    with_dataset_names,
)
from soda_dashboards.overview_details import freshness_row, incidents_table, resolution_row

UID = "soda-incidents-overview"
TITLE = "Soda Incidents — Overview"

COUNT_STEPS = thresholds((None, "green"), (1, "red"))

# Datasets that have incidents, each with its name (or its id when soda_dataset_info has none). Grafana
# needs a query_result() variable on one line; the regex shows the name and keeps the id as the value.
DATASET_IDS = (
    f"group by ({DATASET_KEY}) ({of_owners(f'{catalogue.OPEN.name}{{{TARGET}}}')}"
    f" or {of_owners(f'{catalogue.RESOLVED.name}{{{TARGET}}}')})"
)
DATASET_QUERY = f"query_result({with_dataset_names(DATASET_IDS)})".replace("\n", " ")
DATASET_REGEX = '/dataset_id="(?<value>[^"]+)".*dataset_name="(?<text>[^"]+)"/'


def resolution_quantile(q: str) -> str:
    """The resolution-duration quantile over the selected severities, from the gauge histogram."""
    return (
        f"histogram_quantile({q}, sum by (le) ({catalogue.RESOLUTION_DURATION.name}_bucket{{{BY_SEVERITY}}}))"
    )


def summary_row(board: Board) -> None:
    """Headline numbers."""
    board.row("Summary")
    stats = [
        stat_panel(
            "Open incidents",
            "Incidents open now in the selected datasets and severities.",
            "short",
            query(f"sum({selected(catalogue.OPEN.name)})", instant=True),
        ),
        stat_panel(
            "Critical open incidents",
            "Open incidents of severity critical.",
            "short",
            query("sum(" + selected(catalogue.OPEN.name, ', severity="critical"') + ")", instant=True),
            COUNT_STEPS,
        ),
        stat_panel(
            "Oldest open incident",
            "Age of the oldest listed open incident (recording rule " + OPEN_AGE_RECORD + ").",
            "s",
            query(
                f"topk(1, {with_dataset_names(selected(OPEN_AGE_RECORD))})",
                "{{title}} ({{dataset_name}})",
                instant=True,
            ),
            AGE_STEPS,
            cm.BigValueTextMode.VALUE_AND_NAME,
        ),
        stat_panel(
            "Resolved (30 days)",
            "Incidents resolved within the exporter's resolved window.",
            "short",
            query(f"sum({selected(catalogue.RESOLVED.name)})", instant=True),
        ),
        stat_panel(
            "Resolution time p50",
            "Median time from creation to resolution of incidents resolved in the window.",
            "s",
            query(resolution_quantile("0.5"), instant=True),
        ),
        stat_panel(
            "Resolution time p90",
            "90th percentile of time from creation to resolution of incidents resolved in the window.",
            "s",
            query(resolution_quantile("0.9"), instant=True),
        ),
    ]
    for panel in stats:
        board.add(panel, 4, 4)


def open_row(board: Board) -> None:
    """Open incidents over time, where they are, and how old they are."""
    board.row("Open incidents: trend, datasets and age")
    for label, name in (("severity", "severity"), ("status", "status")):
        board.add(
            timeseries_panel(
                f"Open incidents by {name}",
                f"Open incidents over time, stacked by {name}.",
                "short",
                [query(f"sum by ({label}) ({selected(catalogue.OPEN.name)})", f"{{{{{label}}}}}")],
                stacked=True,
            ),
            12,
            8,
        )
    board.add(
        bargauge_panel(
            "Top datasets by open incidents",
            f"The ten datasets with the most open incidents, by name ({catalogue.DATASET_INFO.name}; "
            "the id if unnamed).",
            "short",
            query(
                "sort_desc(topk(10, "
                + with_dataset_names(f"sum by ({DATASET_KEY}) ({selected(catalogue.OPEN.name)}) > 0")
                + "))",
                "{{dataset_name}}",
                instant=True,
            ),
            thresholds((None, "orange")),
        ),
        12,
        9,
    )
    board.add(
        rename_buckets(
            bargauge_panel(
                "Open incident age distribution",
                f"Open incidents by age, from the {catalogue.OPEN_AGE.name} gauge histogram.",
                "short",
                heatmap_query(f"sum by (le) ({catalogue.OPEN_AGE.name}_bucket{{{BY_SEVERITY}}})"),
                thresholds((None, "blue")),
            ),
            BUCKET_NAMES,
        ),
        12,
        9,
    )


def ownership_row(board: Board) -> None:
    """Who owns the open incidents: by team and by owner, from soda_dataset_info."""
    board.row("Open incidents by owner")
    for label, name in (("team", "team"), ("owner_email", "owner")):
        ids = f"{catalogue.OPEN.name}{{{INCIDENTS}}}"
        expr = (
            f"sort_desc(sum by ({label}) (\n"
            f"(sum by ({DATASET_KEY}) ({selected(catalogue.OPEN.name)}) > 0)\n"
            f"* on ({DATASET_KEY}) group_left ({label})\n({ownership(label, ids)})\n))"
        )
        board.add(
            bargauge_panel(
                f"Open incidents by {name}",
                f"Open incidents per dataset {name} ({catalogue.DATASET_INFO.name}'s {label} label; "
                f'"none" when the dataset has no {name} or no {catalogue.DATASET_INFO.name}).',
                "short",
                query(expr, f"{{{{{label}}}}}", instant=True),
                thresholds((None, "orange")),
            ),
            12,
            9,
        )


def build() -> dict[str, Any]:
    """The overview dashboard as JSON-compatible data."""
    board = Board(
        UID, TITLE, "Open and resolved Soda Cloud incidents, from the Soda incidents exporter.", "now-7d"
    )
    board.variables(
        [
            *target_variables(),
            label_variable("team", "Team", f"label_values({catalogue.DATASET_INFO.name}{{{TARGET}}}, team)"),
            label_variable(
                "owner", "Owner", f"label_values({catalogue.DATASET_INFO.name}{{{TARGET}}}, owner_email)"
            ),
            label_variable("dataset", "Dataset", DATASET_QUERY).regex(DATASET_REGEX),
            label_variable(
                "severity", "Severity", f"label_values({catalogue.OPEN.name}{{{TARGET}}}, severity)"
            ),
        ]
    )
    summary_row(board)
    open_row(board)
    ownership_row(board)
    resolution_row(board)
    board.row("Incident list")
    board.add(incidents_table(), 24, 12)
    freshness_row(board)
    return board.to_dict()
