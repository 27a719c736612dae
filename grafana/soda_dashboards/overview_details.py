"""The lower rows of the overview dashboard: resolution, the open-incident table, data freshness."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.models import dashboard as dm

from exporter.exposition import catalogue
from soda_dashboards.common import (
    AGE_STEPS,
    BUCKET_NAMES,
    BY_SEVERITY,
    OPEN_AGE_RECORD,
    RESOLUTION_QUANTILE_RECORD,
    RESOLUTION_SEVERITY_QUANTILE_RECORD,
    TARGET,
    Board,
    bargauge_panel,
    heatmap_query,
    p50_and_p90,
    query,
    rename_buckets,
    selected,
    stat_panel,
    table_query,
    thresholds,
    timeseries_panel,
    with_dataset_names,
    with_ownership,
)

TABLE_COLUMNS = {
    "organization": "Organisation",
    "incident_id": "Incident",
    "title": "Title",
    "dataset_name": "Dataset",
    "check_name": "Check",
    "severity": "Severity",
    "status": "Status",
    "team": "Team",
    "owner_email": "Owner",
    "lead_email": "Lead",
    "Value": "Age",
    "dataset_id": "Dataset id",
}


def resolution_row(board: Board) -> None:
    """How long incidents resolved in the window took."""
    board.row("Resolution (resolved window)")
    board.add(
        timeseries_panel(
            "Resolution time trend",
            "p50 and p90 of time to resolution over all severities (recording rule "
            + RESOLUTION_QUANTILE_RECORD
            + ").",
            "s",
            p50_and_p90(lambda q: f'max({RESOLUTION_QUANTILE_RECORD}{{{TARGET}, quantile="{q}"}})'),
        ),
        12,
        8,
    )
    by_severity = RESOLUTION_SEVERITY_QUANTILE_RECORD
    board.add(
        timeseries_panel(
            "Resolution time by severity",
            "p50 and p90 of time to resolution per severity (recording rule "
            + RESOLUTION_SEVERITY_QUANTILE_RECORD
            + ").",
            "s",
            p50_and_p90(
                lambda q: f'max by (severity) ({by_severity}{{{BY_SEVERITY}, quantile="{q}"}})',
                "{{severity}} ",
            ),
        ),
        12,
        8,
    )
    board.add(
        rename_buckets(
            bargauge_panel(
                "Resolution time distribution",
                "Incidents resolved in the window by time to resolution.",
                "short",
                heatmap_query(f"sum by (le) ({catalogue.RESOLUTION_DURATION.name}_bucket{{{BY_SEVERITY}}})"),
                thresholds((None, "green")),
            ),
            BUCKET_NAMES,
        ),
        12,
        9,
    )
    board.add(
        timeseries_panel(
            "Resolved incidents by severity",
            "Incidents resolved within the resolved window, by severity.",
            "short",
            [query(f"sum by (severity) ({selected(catalogue.RESOLVED.name)})", "{{severity}}")],
            stacked=True,
        ),
        12,
        9,
    )


def incidents_table() -> table.Panel:
    """Open incidents with their age: soda_incident_info joined with the creation timestamps."""
    hidden = {"Time": True, "__name__": True, "job": True, "instance": True}
    panel: table.Panel = (
        table.Panel()
        .title("Open incidents")
        .description(
            f"One row per listed open incident: {catalogue.INCIDENT_INFO.name} joined with "
            f"{catalogue.INCIDENT_CREATED.name} (recording rule " + OPEN_AGE_RECORD + "), "
            "and with the dataset's name (its id when it has none), team and owner from "
            f"{catalogue.DATASET_INFO.name}."
        )
        .unit("s")
        .with_target(table_query(with_ownership(with_dataset_names(selected(OPEN_AGE_RECORD)))))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": hidden,
                    "indexByName": {name: i for i, name in enumerate(TABLE_COLUMNS)},
                    "renameByName": TABLE_COLUMNS,
                },
            )
        )
        .sort_by([cb.TableSortByFieldState().display_name("Age").desc(True)])
        .filterable(True)
        .thresholds(AGE_STEPS)
    )
    return panel


def freshness_row(board: Board) -> None:
    """How current the reporting data behind the numbers is."""
    board.row("Data freshness")
    board.add(
        stat_panel(
            "Reporting ETL refresh age",
            "Time since Soda Cloud last refreshed its reporting data.",
            "s",
            query(f"max(time() - {catalogue.LAST_ETL_REFRESH.name}{{{TARGET}}})", instant=True),
            thresholds((None, "green"), (86400, "orange"), (129600, "red")),
        ),
        6,
        5,
    )
    board.add(
        stat_panel(
            "Latest report date age",
            "Time since the latest report date (midnight UTC) seen in the reporting data.",
            "s",
            query(f"max(time() - {catalogue.REPORT_DATE.name}{{{TARGET}}})", instant=True),
            thresholds((None, "green"), (172800, "orange"), (259200, "red")),
        ),
        6,
        5,
    )
    board.add(
        stat_panel(
            "Incidents left out of the table",
            f"Open incidents not listed in {catalogue.INCIDENT_INFO.name} because of the exporter's cap.",
            "short",
            query(f"sum({catalogue.INFO_TRUNCATED.name}{{{TARGET}}})", instant=True),
            thresholds((None, "green"), (1, "orange")),
        ),
        6,
        5,
    )
    board.add(
        timeseries_panel(
            "Reporting data age",
            "Age of the reporting ETL refresh and of the latest report date over time.",
            "s",
            [
                query(
                    f"max(time() - {catalogue.LAST_ETL_REFRESH.name}{{{TARGET}}})",
                    "ETL",
                    ref="A",
                ),
                query(
                    f"max(time() - {catalogue.REPORT_DATE.name}{{{TARGET}}})",
                    "report date",
                    ref="B",
                ),
            ],
        ),
        6,
        5,
    )
