"""The backfill from outside: its CLI run in-process, its output parsed, the simulator's truth per day."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from prometheus_client.openmetrics.parser import text_string_to_metric_families

from exporter.backfill.counts import (
    end_of_day,
)
from exporter.cli.backfill import main as backfill_main
from exporter.incidents.snapshot import midnight_utc
from exporter.simulator import Organization

WINDOW = 30 * 86400.0


Key = tuple[str, tuple[tuple[str, str], ...], float]


def parse(text: str) -> dict[Key, float]:
    """{(metric, sorted labels, timestamp): value} through prometheus_client's OpenMetrics parser."""
    out: dict[Key, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert sample.timestamp is not None
            out[(sample.name, tuple(sorted(sample.labels.items())), float(sample.timestamp))] = sample.value
    return out


def run_cli(argv: list[str], env: dict[str, str]) -> int:
    """Run ``backfill`` with an explicit environment."""
    return backfill_main(argv, env)


def truth(org: Organization, day: date, window: float = WINDOW) -> tuple[Counter[Any], Counter[Any]]:
    """The simulator's open and resolved counts on ``day``, straight from ``state_on``."""
    open_counts: Counter[Any] = Counter()
    resolved_counts: Counter[Any] = Counter()
    for incident in org.incidents:
        state = org.state_on(incident, day)
        if state is None:
            continue
        if state.status != "resolved":
            open_counts[(state.dataset_id, state.severity, state.status)] += 1
        elif state.resolved_at is not None and state.resolved_at.timestamp() >= end_of_day(day) - window:
            resolved_counts[(state.dataset_id, state.severity)] += 1
    return open_counts, resolved_counts


def values_at(samples: dict[Key, float], name: str, day: date, keys: tuple[str, ...]) -> dict[Any, float]:
    """The values of one family at ``day``'s midnight, keyed by the values of ``keys``."""
    at = midnight_utc(day)
    return {
        tuple(dict(labels)[k] for k in keys): value
        for (metric, labels, ts), value in samples.items()
        if metric == name and ts == at
    }
