"""Shared building blocks of the Soda dashboards: data source, variables, queries, panels, layout."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from grafana_foundation_sdk.builders import bargauge, common, dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from exporter.exposition import catalogue

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
TAGS = ["soda", "soda-incidents-exporter"]

# Label matchers shared by the queries. PROCESS selects series about the exporter process or its
# scrape (up, process_*, soda_exporter_build_info), which never carry `organization`. TARGET adds the
# organisation: with --config.file every Soda series carries organization="<name>"; single-organisation
# exporters have no such label, and `organization=~".*"` (the variable's All) also matches its absence.
PROCESS = 'job=~"$job", instance=~"$instance"'
TARGET = f'{PROCESS}, organization=~"$organization"'
BY_SEVERITY = f'{TARGET}, severity=~"$severity"'
INCIDENTS = f'{BY_SEVERITY}, dataset_id=~"$dataset"'

# What identifies a dataset across exporters: dataset ids are unique within an organisation.
DATASET_KEY = "organization, dataset_id"
# The overview's team and owner variables, matched against soda_dataset_info's labels. A series without
# the label (soda_up) matches them exactly when the selection includes the empty value, as All does.
OWNERSHIP = 'team=~"$team", owner_email=~"$owner"'

# Recording rules of deploy/prometheus/soda-incidents.rules.yml used by the dashboards.
OPEN_AGE_RECORD = "soda:incident_open_age_seconds"
RESOLUTION_QUANTILE_RECORD = "soda:incident_resolution_duration_seconds:histogram_quantile"
RESOLUTION_SEVERITY_QUANTILE_RECORD = f"severity:{catalogue.RESOLUTION_DURATION.name}:histogram_quantile"

# Age and duration buckets of the exporter's gauge histograms, named as the ranges they count.
BUCKET_NAMES = {
    "3600": "< 1h",
    "21600": "1h - 6h",
    "43200": "6h - 12h",
    "86400": "12h - 1d",
    "172800": "1d - 2d",
    "259200": "2d - 3d",
    "604800": "3d - 1w",
    "1209600": "1w - 2w",
    "2592000": "2w - 30d",
    "7776000": "30d - 90d",
    "15552000": "90d - 180d",
    "31536000": "180d - 1y",
    "+Inf": "> 1y",
}

PanelT = TypeVar("PanelT", stat.Panel, timeseries.Panel, bargauge.Panel)


def dataset_names(ids: str) -> str:
    """One series valued 1 per (organization, dataset_id) of ``ids``, labelled with its dataset_name.

    The name comes from soda_dataset_info; a dataset without one (names not read yet, a failed refresh,
    an empty name) gets its id as dataset_name, so joining on these never drops a series.
    """
    return (
        f'max by ({DATASET_KEY}, dataset_name) ({catalogue.DATASET_INFO.name}{{{TARGET}, dataset_name!=""}})'
        f" or on ({DATASET_KEY}) "
        f'label_replace(group by ({DATASET_KEY}) ({ids}), "dataset_name", "$1", "dataset_id", "(.+)")'
    )


def of_owners(selector: str) -> str:
    """``selector`` (one vector selector with a dataset_id) kept to datasets of the selected teams and owners.

    A dataset without a soda_dataset_info series has no known team or owner: it is kept while the team
    and owner selections include the empty value (All does). Use it inside parentheses.
    """
    return (
        f"{selector} and on ({DATASET_KEY}) {catalogue.DATASET_INFO.name}{{{TARGET}, {OWNERSHIP}}}"
        f" or {selector} unless on ({DATASET_KEY}) {catalogue.DATASET_INFO.name}{{{TARGET}}}"
        f" and on () group({catalogue.UP.name}{{{TARGET}, {OWNERSHIP}}})"
    )


def selected(metric: str, extra: str = "") -> str:
    """``metric`` of the selected organisation, severities, datasets, teams and owners."""
    return of_owners(f"{metric}{{{INCIDENTS}{extra}}}")


def ownership(label: str, ids: str) -> str:
    """One series valued 1 per dataset of ``ids`` with its ``label`` (team or owner_email), "none" if unknown.

    The newest soda_dataset_info series of a dataset wins, so a brief overlap after an owner change
    never makes a join fail; a dataset without one, or with the label empty, gets "none".
    """
    newest = f"topk by ({DATASET_KEY}) (1, timestamp({catalogue.DATASET_INFO.name}{{{TARGET}}}))"
    return (
        f"label_replace(group by ({DATASET_KEY}, {label}) ({newest})"
        f" or on ({DATASET_KEY}) group by ({DATASET_KEY}) ({ids}),"
        f' "{label}", "none", "{label}", "")'
    )


def with_ownership(expr: str) -> str:
    """``expr`` (series with a dataset_id) with its dataset's team and owner_email ("none" if unknown)."""
    return (
        f"({expr})\n* on ({DATASET_KEY}) group_left (team)\n({ownership('team', expr)})"
        f"\n* on ({DATASET_KEY}) group_left (owner_email)\n({ownership('owner_email', expr)})"
    )


def with_dataset_names(expr: str) -> str:
    """``expr`` (series with a dataset_id) with a dataset_name label joined from soda_dataset_info."""
    return f"({expr})\n* on ({DATASET_KEY}) group_left (dataset_name)\n({dataset_names(expr)})"


def query(expr: str, legend: str = "", *, instant: bool = False, ref: str = "A") -> prometheus.Dataquery:
    """A Prometheus query on the dashboard's data source variable."""
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    q = q.instant() if instant else q.range()
    return q.legend_format(legend) if legend else q


def p50_and_p90(expr_of: Callable[[str], str], legend_prefix: str = "") -> list[prometheus.Dataquery]:
    """The median and 90th percentile (refs A, B; legends ending p50, p90) of ``expr_of(quantile)``."""
    return [
        query(expr_of(quantile), f"{legend_prefix}p{percent}", ref=ref)
        for quantile, percent, ref in (("0.5", "50", "A"), ("0.9", "90", "B"))
    ]


def heatmap_query(expr: str) -> prometheus.Dataquery:
    """An instant query of cumulative ``le`` buckets that Grafana turns into per-bucket counts."""
    return query(expr, "{{le}}", instant=True).format(PromQueryFormat.HEATMAP)


def table_query(expr: str) -> prometheus.Dataquery:
    """An instant query whose labels become table columns."""
    return query(expr, instant=True).format(PromQueryFormat.TABLE)


def thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    """Absolute thresholds from (value, colour) pairs; the first value is None (the base)."""
    return (
        dashboard.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in steps])
    )


NEUTRAL = thresholds((None, "blue"))
AGE_STEPS = thresholds((None, "green"), (86400, "orange"), (604800, "red"))


def value_map(mapping: dict[str, tuple[str, str]]) -> list[dm.ValueMapping]:
    """Value mappings from {value: (text, colour)}."""
    options = {
        k: dm.ValueMappingResult(text=t, color=c, index=i) for i, (k, (t, c)) in enumerate(mapping.items())
    }
    return [dm.ValueMap(options=options)]


OneQueryPanel = TypeVar("OneQueryPanel", stat.Panel, bargauge.Panel)


def one_query(
    panel: OneQueryPanel,
    title: str,
    description: str,
    unit: str,
    target: prometheus.Dataquery,
    steps: dashboard.ThresholdsConfig,
) -> OneQueryPanel:
    """What every panel of one instant query shares: texts, unit, query, thresholds, the last value shown."""
    return (
        panel.title(title)
        .description(description)
        .unit(unit)
        .with_target(target)
        .thresholds(steps)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def stat_panel(
    title: str,
    description: str,
    unit: str,
    target: prometheus.Dataquery,
    steps: dashboard.ThresholdsConfig = NEUTRAL,
    text_mode: cm.BigValueTextMode | str = cm.BigValueTextMode.AUTO,
) -> stat.Panel:
    """A single-value panel showing the last value of one instant query."""
    return (
        one_query(stat.Panel(), title, description, unit, target, steps)
        .color_mode(cm.BigValueColorMode.VALUE)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .text_mode(cm.BigValueTextMode(text_mode))
    )


def timeseries_panel(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus.Dataquery],
    *,
    stacked: bool = False,
    bars: bool = False,
) -> timeseries.Panel:
    """A time series panel with a table legend showing last and max values."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .targets(list(targets))
        .fill_opacity(30 if stacked or bars else 10)
        .legend(
            common.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        )
        .thresholds(NEUTRAL)
    )
    if stacked:
        panel = panel.stacking(common.StackingConfig().mode(cm.StackingMode.NORMAL))
    if bars:
        panel = panel.draw_style(cm.GraphDrawStyle.BARS)
    return panel


def bargauge_panel(
    title: str, description: str, unit: str, target: prometheus.Dataquery, steps: dashboard.ThresholdsConfig
) -> bargauge.Panel:
    """Horizontal bars, one per series of an instant query."""
    return (
        one_query(bargauge.Panel(), title, description, unit, target, steps)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .display_mode(cm.BarGaugeDisplayMode.GRADIENT)
        .show_unfilled(True)
        .min(0)
    )


def rename_buckets(panel: bargauge.Panel, names: dict[str, str]) -> bargauge.Panel:
    """Give ``le`` bucket series readable names (the exporter may print 3600 as 3600.0)."""
    for le, name in names.items():
        pattern = "^\\+Inf$" if le == "+Inf" else f"^{le}(\\.0+)?$"
        panel = panel.override_by_regexp(pattern, [dm.DynamicConfigValue(id_val="displayName", value=name)])
    return panel


def datasource_variable() -> dashboard.DatasourceVariable:
    """The Prometheus data source every panel queries."""
    return dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")


def label_variable(name: str, label: str, expr: str) -> dashboard.QueryVariable:
    """A multi-value variable listing the values of one label, All by default."""
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(expr)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
    )


def target_variables() -> list[Any]:
    """The data source, job, instance and organisation variables that both dashboards have."""
    return [
        datasource_variable(),
        label_variable("job", "Job", f"label_values({catalogue.BUILD_INFO.name}, job)"),
        label_variable(
            "instance", "Instance", f'label_values({catalogue.BUILD_INFO.name}{{job=~"$job"}}, instance)'
        ),
        # Lists nothing for single-organisation exporters; All (.*) then matches their unlabelled series.
        label_variable(
            "organization", "Organisation", f"label_values({catalogue.UP.name}{{{PROCESS}}}, organization)"
        ),
    ]


class Board:
    """A dashboard under construction that numbers its panels and lays them out left to right."""

    def __init__(self, uid: str, title: str, description: str, time_from: str) -> None:
        self.next_id = 1
        self.builder = (
            dashboard.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags(TAGS)
            .editable()
            .timezone("browser")
            .time(time_from, "now")
            .refresh("1m")
            .tooltip(dm.DashboardCursorSync.CROSSHAIR)
            .link(
                dashboard.DashboardLink("Soda dashboards")
                .type(dm.DashboardLinkType.DASHBOARDS)
                .tags(["soda-incidents-exporter"])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
        )

    def _id(self) -> int:
        """The next unused panel id."""
        self.next_id += 1
        return self.next_id - 1

    def variables(self, variables: Sequence[Any]) -> None:
        """Set the template variables, in display order."""
        self.builder.variables(list(variables))

    def row(self, title: str) -> None:
        """Start a new (expanded) row."""
        self.builder.with_row(dashboard.Row(title).id(self._id()))

    def add(self, panel: PanelT | Any, width: int, height: int) -> None:
        """Append a panel of ``width`` grid columns (out of 24) and ``height`` rows."""
        self.builder.with_panel(panel.id(self._id()).datasource(DATASOURCE).span(width).height(height))

    def to_dict(self) -> dict[str, Any]:
        """The dashboard as plain JSON-compatible data."""
        result: dict[str, Any] = json.loads(json.dumps(self.builder.build(), cls=JSONEncoder))
        return result


def render(model: dict[str, Any]) -> str:
    """Serialise a dashboard the way it is committed: sorted keys, two-space indent, final newline."""
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
