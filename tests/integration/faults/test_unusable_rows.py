"""Rows Soda sends that cannot be read: what is still counted, and when a cycle fails instead."""

from __future__ import annotations

from collections.abc import Callable

from exporter.app import Exporter
from exporter.simulator import SimulatorServer
from tests.support.faults import (
    assert_failed_cleanly,
    inject,
    open_counts,
)
from tests.support.http import series
from tests.support.metrics import counter, gauge

StartSim = Callable[..., SimulatorServer]


def skipped(exp: Exporter, reason: str) -> float:
    """soda_exporter_rows_skipped_total for one reason."""
    return counter(exp, "soda_exporter_rows_skipped_total", reason=reason)


def test_a_date_time_report_date_is_read_as_its_date(sim: SimulatorServer, exporter: Exporter) -> None:
    before = open_counts(exporter)
    assert sum(before.values()) == 24
    # naive_timestamps on report_date turns "2026-11-30" into "2026-11-30T00:00:00".
    inject(sim, kind="naive_timestamps", fields=["report_date"])
    assert exporter.pollers[0].run_cycle()
    assert open_counts(exporter) == before
    assert skipped(exporter, "bad_report_date") == 0


def test_rows_with_no_usable_report_date_fail_the_cycle(sim: SimulatorServer, exporter: Exporter) -> None:
    inject(sim, kind="null_fields", fields=["report_date"], status="unresolved")
    assert_failed_cleanly(exporter, sim, "bad_response")


# Ten pages of 10 rows, the last of 6: 4 unusable rows per page is 40 of 96 and is published; 6 per
# page is 60 of 96 and fails.
def test_less_than_half_the_rows_unusable_is_published(sim: SimulatorServer, exporter: Exporter) -> None:
    inject(sim, kind="null_fields", fields=["incident_id"], rows=4, status="unresolved")
    assert exporter.pollers[0].run_cycle()
    assert skipped(exporter, "missing_incident_id") == 40
    assert gauge(exporter, "soda_up") == 1


def test_more_than_half_the_rows_unusable_fails_the_cycle(sim: SimulatorServer, exporter: Exporter) -> None:
    inject(sim, kind="null_fields", fields=["incident_id"], rows=6, status="unresolved")
    assert_failed_cleanly(exporter, sim, "bad_response")
    assert skipped(exporter, "missing_incident_id") == 0  # a failed cycle publishes no counts


def test_an_unparseable_created_at_keeps_every_incident_open(
    sim: SimulatorServer, exporter: Exporter
) -> None:
    inject(sim, kind="unknown_values", values={"created_at": "not-a-timestamp"})
    assert exporter.pollers[0].run_cycle()
    text = exporter.state.exposition.text.decode()
    assert sum(series(text, "soda_incidents_open").values()) == len(sim.organization.open_incidents()) == 24
    assert len(series(text, "soda_incident_info")) == 24
    assert series(text, "soda_incident_created_timestamp_seconds") == {}
    age_counts = series(text, "soda_incident_open_age_seconds_gcount")
    assert len(age_counts) == 3  # one per severity, all at 0: the count can be lower than the open count
    assert sum(age_counts.values()) == 0
    assert skipped(exporter, "bad_created_at") == 24


def test_rows_without_a_dataset_id_count_under_unknown(sim: SimulatorServer, exporter: Exporter) -> None:
    inject(sim, kind="null_fields", fields=["dataset_id"], remove=True, status="unresolved")
    assert exporter.pollers[0].run_cycle()
    counts = open_counts(exporter)
    assert sum(counts.values()) == 24
    assert sum(v for (dataset, _, _), v in counts.items() if dataset == "unknown") == 24
