"""Generate the Prometheus recording and alerting rules for the Soda incidents exporter.

The rules are built from a small set of thresholds so that other renderers (for example a Helm
chart) can produce the same rules with their own values::

    python deploy/prometheus/generate.py           # rewrite the committed rule files
    python deploy/prometheus/generate.py --check   # exit 1 when they are out of date
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # the metric names come from the package, installed or not
    sys.path.insert(0, str(ROOT))

from exporter.exposition import catalogue  # noqa: E402

RULES_FILE = HERE / "soda-incidents.rules.yml"
ACTIONS_FILE = HERE / "soda-incidents-actions.rules.yml"

# The one place that says where runbooks live; each alert links to the section named after it.
RUNBOOK_URL_BASE = "https://github.com/soda-incidents-exporter/soda-incidents-exporter/blob/main/README.md"

# Recording rule names shared with the Grafana dashboards.
OPEN_AGE_RECORD = "soda:incident_open_age_seconds"
RESOLUTION_QUANTILE_RECORD = "soda:incident_resolution_duration_seconds:histogram_quantile"
RESOLUTION_SEVERITY_QUANTILE_RECORD = f"severity:{catalogue.RESOLUTION_DURATION.name}:histogram_quantile"

# Labels every aggregation keeps: target identity plus the optional multi-organisation label.
TARGET_LABELS = "job, instance, organization"
# One dataset of one target, and what the incident alerts copy from its soda_dataset_info series.
DATASET_KEY = f"{TARGET_LABELS}, dataset_id"
DATASET_LABELS = "dataset_name, datasource_name, owner_email, team"

DEFAULT_THRESHOLDS: dict[str, Any] = {
    "runbook_url_base": RUNBOOK_URL_BASE,
    "exporter_job_regex": "soda-incidents-exporter",
    "exporter_down_for": "5m",
    "poll_failing_for": "15m",
    "reporting_stale_seconds": 36 * 3600,
    "reporting_stale_for": "10m",
    "critical_incident_for": "5m",
    "unattended_seconds": 24 * 3600,
    "unattended_for": "10m",
    "rising_window": "1d",
    "rising_min_increase": 10,
    "rising_min_ratio": 0.5,
    "rising_for": "30m",
}


def merge_thresholds(thresholds: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the defaults overridden by ``thresholds``; unknown keys are an error."""
    merged = dict(DEFAULT_THRESHOLDS)
    unknown = sorted(set(thresholds or {}) - set(DEFAULT_THRESHOLDS))
    if unknown:
        raise ValueError(f"unknown threshold(s): {', '.join(unknown)}")
    merged.update(thresholds or {})
    return merged


def human_seconds(value: Any) -> str:
    """Render a number of seconds as a short duration (129600 -> 36h); other values unchanged."""
    if not isinstance(value, int) or isinstance(value, bool):
        return str(value)
    if value >= 2 * 86400 and value % 86400 == 0:
        return f"{value // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return f"{value}s"


def percent(value: Any) -> str:
    """Render a ratio as a percentage (0.5 -> 50%); other values unchanged."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value * 100:g}%"
    return str(value)


def runbook_url(base: str, alert: str) -> str:
    """Link to the README section of ``alert`` (GitHub lowercases heading anchors)."""
    return f"{base}#{alert.lower()}"


def alert(
    t: Mapping[str, Any],
    name: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    extra_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One alerting rule with the labels and annotations every alert carries."""
    labels = {"severity": severity, **(extra_labels or {})}
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": labels,
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": runbook_url(str(t["runbook_url_base"]), name),
        },
    }


OPEN_AGE_EXPR = (
    f"{catalogue.INCIDENT_INFO.name}{{selector}}\n"
    f"  * on ({TARGET_LABELS}, incident_id) group_left ()\n"
    f"  (time() - {catalogue.INCIDENT_CREATED.name})\n"
)


# One soda_dataset_info series per dataset even while two exist (an owner or name change seen without a
# staleness marker, e.g. through remote storage): the one with the newest sample wins, so the join below
# never fails with "many-to-many matching". A dataset listed without a name gets its id as the name.
_NEWEST_INFO = f"topk by ({DATASET_KEY}) (1, timestamp({catalogue.DATASET_INFO.name}))"
DATASET_INFO_EXPR = (
    f"group by ({DATASET_KEY}, {DATASET_LABELS}) (\n"
    f'  label_replace({_NEWEST_INFO}, "dataset_name", "$1", "dataset_id", "(.+)")\n'
    f'    unless on ({DATASET_KEY}) {catalogue.DATASET_INFO.name}{{dataset_name!=""}}\n'
    f"  or on ({DATASET_KEY})\n"
    f"  {_NEWEST_INFO}\n"
    ")"
)


def with_dataset_labels(expr: str) -> str:
    """``expr`` (series with a dataset_id) with the dataset's name, data source, owner and team joined on.

    The join keeps the value of ``expr``. A dataset without a soda_dataset_info series (names turned
    off, not read yet, a failed refresh, a dataset newer than the last refresh) still alerts, with its
    id as dataset_name, so missing or stale names never drop an alert.
    """
    inner = expr.strip().replace("\n", "\n  ")
    info = DATASET_INFO_EXPR.replace("\n", "\n  ")
    return (
        f"(\n  {inner}\n)\n"
        f"* on ({DATASET_KEY}) group_left ({DATASET_LABELS})\n"
        f"  {info}\n"
        f"or on ({DATASET_KEY})\n"
        f'label_replace(\n  {inner},\n  "dataset_name", "$1", "dataset_id", "(.+)"\n)\n'
    )


# What an incident alert says of its dataset: the name (the id when it has none) and what else is known.
DATASET_TEXT = (
    "{{ $labels.dataset_name }} ({{ with $labels.datasource_name }}data source {{ . }}, {{ end }}"
    "owner {{ with $labels.owner_email }}{{ . }}{{ else }}none{{ end }}"
    "{{ with $labels.team }}, team {{ . }}{{ end }}; id {{ $labels.dataset_id }})"
)


def unattended_expr(t: Mapping[str, Any]) -> str:
    """Open incidents still ``reported`` past the threshold, computed from the raw series."""
    return OPEN_AGE_EXPR.format(selector='{status="reported"}') + f"> {t['unattended_seconds']}\n"


def recording_rules() -> list[dict[str, Any]]:
    """Recording rules for the queries the dashboards and alerts run most."""
    rules: list[dict[str, Any]] = [{"record": OPEN_AGE_RECORD, "expr": OPEN_AGE_EXPR.format(selector="")}]
    for record, by in ((RESOLUTION_QUANTILE_RECORD, ""), (RESOLUTION_SEVERITY_QUANTILE_RECORD, "severity, ")):
        for quantile in ("0.5", "0.9"):
            expr = (
                f"histogram_quantile({quantile},\n"
                f"  sum by ({TARGET_LABELS}, {by}le) ({catalogue.RESOLUTION_DURATION.name}_bucket)\n"
                ")\n"
            )
            rules.append({"record": record, "expr": expr, "labels": {"quantile": quantile}})
    return rules


def alerting_rules(t: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The alerting rules, thresholds taken from ``t``."""
    job = f'job=~"{t["exporter_job_regex"]}"'
    stale = human_seconds(t["reporting_stale_seconds"])
    unattended = human_seconds(t["unattended_seconds"])
    window = t["rising_window"]
    current = f"sum by ({TARGET_LABELS}) ({catalogue.OPEN.name})"
    previous = f"sum by ({TARGET_LABELS}) ({catalogue.OPEN.name} offset {window})"
    return [
        alert(
            t,
            "SodaExporterDown",
            f"up{{{job}}} == 0\nor\nabsent(up{{{job}}})\n",
            t["exporter_down_for"],
            "warning",
            "The Soda incidents exporter cannot be scraped.",
            "Prometheus has not scraped a Soda incidents exporter target "
            f'(job=~"{t["exporter_job_regex"]}") successfully for {t["exporter_down_for"]}: '
            "{{ with $labels.instance }}target {{ . }} is down{{ else }}no target matches{{ end }}. "
            "Soda incident metrics and alerts are blind meanwhile.",
        ),
        alert(
            t,
            "SodaExporterPollFailing",
            f"{catalogue.UP.name} == 0\n",
            t["poll_failing_for"],
            "warning",
            "The Soda incidents exporter cannot poll Soda Cloud.",
            "Exporter {{ $labels.instance }} has failed every poll of Soda Cloud for "
            f"{t['poll_failing_for']}; its incident metrics are stale. "
            f"See {catalogue.POLL_FAILURES.name} by reason.",
        ),
        alert(
            t,
            "SodaReportingDataStale",
            f"time() - {catalogue.LAST_ETL_REFRESH.name} > {t['reporting_stale_seconds']}\n",
            t["reporting_stale_for"],
            "warning",
            "Soda Cloud reporting data is stale.",
            "The Soda Cloud reporting ETL seen by {{ $labels.instance }} was last refreshed "
            f"{{{{ $value | humanizeDuration }}}} ago, more than {stale}.",
        ),
        alert(
            t,
            "SodaCriticalIncidentOpen",
            with_dataset_labels(f'sum by ({DATASET_KEY}) ({catalogue.OPEN.name}{{severity="critical"}}) > 0'),
            t["critical_incident_for"],
            "critical",
            "A critical Soda incident is open on dataset {{ $labels.dataset_name }}.",
            f"{{{{ $value }}}} critical Soda incident(s) are open on dataset {DATASET_TEXT}.",
        ),
        alert(
            t,
            "SodaIncidentUnattended",
            with_dataset_labels(f'{OPEN_AGE_RECORD}{{status="reported"}} > {t["unattended_seconds"]}'),
            t["unattended_for"],
            "warning",
            "Soda incident {{ $labels.incident_id }} on dataset {{ $labels.dataset_name }} "
            "has not been picked up.",
            f'Incident {{{{ $labels.incident_id }}}} "{{{{ $labels.title }}}}" on dataset {DATASET_TEXT} '
            f"is still in status reported more than {unattended} after it was opened "
            "({{ $value | humanizeDuration }} ago; lead: {{ $labels.lead_email }}).",
            {"incident_severity": "{{ $labels.severity }}"},
        ),
        alert(
            t,
            "SodaOpenIncidentsRising",
            f"({current}\n  - {previous}\n) > {t['rising_min_increase']}\n"
            f"and\n{current}\n  > (1 + {t['rising_min_ratio']}) * {previous}\n",
            t["rising_for"],
            "warning",
            "Open Soda incidents are rising sharply.",
            "Open Soda incidents on {{ $labels.instance }} grew by {{ $value }} "
            f"over the last {window}: "
            f"more than {t['rising_min_increase']}, and more than {percent(t['rising_min_ratio'])} "
            f"of the count {window} earlier.",
        ),
    ]


def build_rules(thresholds: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The content of soda-incidents.rules.yml for the given thresholds."""
    t = merge_thresholds(thresholds)
    return {
        "groups": [
            {"name": "soda-incidents-exporter.rules", "rules": recording_rules()},
            {"name": "soda-incidents-exporter.alerts", "rules": alerting_rules(t)},
        ]
    }


def build_action_rules(thresholds: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The optional rules that ask the Alertmanager webhook to escalate unattended incidents."""
    t = merge_thresholds(thresholds)
    base = next(r for r in alerting_rules(t) if r["alert"] == "SodaIncidentUnattended")
    expr = "label_replace(\n  " + with_dataset_labels(unattended_expr(t)).strip().replace("\n", "\n  ")
    expr += ',\n  "soda_incident_id", "$1", "incident_id", "(.+)"\n)\n'
    rule = {**base, "expr": expr, "labels": {**base["labels"], "soda_action": "escalate"}}
    return {"groups": [{"name": "soda-incidents-exporter.actions", "rules": [rule]}]}


class _Dumper(yaml.SafeDumper):
    """YAML dumper that writes multi-line strings as literal blocks."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    """Represent multi-line strings with ``|`` so PromQL stays readable."""
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def render(rules: Mapping[str, Any], title: str) -> str:
    """Serialise a rules document with a header saying how it was made."""
    header = (
        f"# {title}\n"
        "# Generated by deploy/prometheus/generate.py from its DEFAULT_THRESHOLDS:\n"
        "# edit that, not this file.\n"
    )
    body = yaml.dump(dict(rules), Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)
    return header + body


def rendered_files(thresholds: Mapping[str, Any] | None = None) -> dict[Path, str]:
    """Map each committed rules file to the text it should hold."""
    return {
        RULES_FILE: render(build_rules(thresholds), "Soda incidents exporter: recording and alerting rules."),
        ACTIONS_FILE: render(
            build_action_rules(thresholds),
            "Optional: asks the Alertmanager webhook to escalate unattended Soda incidents.",
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the rule files, or with --check report whether they are up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered_files().items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python deploy/prometheus/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
