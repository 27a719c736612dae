"""The exporter's own renderer writes exactly the bytes prometheus_client writes for the same families."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporter.exposition.collector import LabelledSnapshot, SnapshotCollector, render_snapshots
from exporter.incidents.datasets import DatasetInfo
from exporter.incidents.fold import resolved_accumulator, unresolved_accumulator
from exporter.incidents.snapshot import PollData, SnapshotSettings, build_snapshot
from exporter.simulator import generate_organization
from tests.support.rows import incident_row as row
from tests.support.rows import snapshot_of

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def reference(items: list[LabelledSnapshot]) -> tuple[bytes, bytes]:
    """Text and OpenMetrics bytes as prometheus_client renders SnapshotCollector's families."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(lambda: items))
    return generate_latest(registry), generate_openmetrics(registry)


def assert_identical(items: list[LabelledSnapshot]) -> None:
    text, om = reference(items)
    rendered = render_snapshots(items)
    assert rendered.text == text
    assert rendered.openmetrics == om
    assert gzip.decompress(rendered.text_gzip) == text
    assert gzip.decompress(rendered.openmetrics_gzip) == om


def awkward_snapshot() -> LabelledSnapshot:
    """Label values needing every escape, unknown values, a capped info family, resolved incidents."""
    unresolved = [
        row("a", "2026-11-20", title='say "hi"\\now', check_name="line\nbreak", severity="Critical"),
        row("b", "2026-11-20", dataset='ds-"q"', status="", lead_email=None, created="2026-11-20T11:59:00Z"),
        row("c", "2026-11-20", dataset="ds-ü", severity="weird", status="Fixing"),
        row("d", "2026-11-19"),
    ]
    resolved = [
        row("r1", "2026-11-20", status="resolved", resolved="2026-11-19T10:00:00Z"),
        row("r2", "2026-11-20", status="resolved", resolved="2026-11-20T10:00:00Z", severity="minor"),
    ]
    datasets = (
        DatasetInfo("ds-a", "orders", "Orders", "snowflake", ""),
        DatasetInfo('ds-"q"', "back\\slash", "new\nline", "pg", "o@example.com"),
    )
    return LabelledSnapshot((), snapshot_of(unresolved, resolved, info_limit=2), datasets)


def test_nothing_published_renders_as_nothing() -> None:
    assert_identical([])


def test_awkward_values_render_identically() -> None:
    assert_identical([awkward_snapshot()])


def test_several_organizations_with_constant_labels_render_identically() -> None:
    first = awkward_snapshot()
    second = LabelledSnapshot((("organization", 'b"2'),), snapshot_of([row("z", "2026-11-18")]))
    assert_identical([LabelledSnapshot((("organization", "a\\1"),), first.snapshot, first.datasets), second])


def test_an_empty_snapshot_renders_identically() -> None:
    assert_identical([LabelledSnapshot((("organization", "x"),), snapshot_of([]))])


@pytest.mark.parametrize("seed", [1, 2])
def test_a_generated_organization_renders_identically(seed: int) -> None:
    org = generate_organization(seed=seed, incidents=400, datasets=30, days=40, now=NOW)
    u, r = unresolved_accumulator(), resolved_accumulator()
    u.add_rows(org.incident_rows("unresolved", datetime(2026, 11, 17, tzinfo=timezone.utc), NOW))
    r.add_rows(org.incident_rows("resolved", datetime(2026, 10, 21, tzinfo=timezone.utc), NOW))
    snap = build_snapshot(PollData(u, r, NOW), NOW, SnapshotSettings(info_limit=50))
    assert snap.open_total > 50 and snap.resolved_total > 0
    assert_identical([LabelledSnapshot((("organization", "org"),), snap)])


def test_an_incident_without_a_usable_created_at_renders_identically() -> None:
    snap = snapshot_of([row("a", "2026-11-20", created="yesterday"), row("b", "2026-11-20")])
    assert {inc.incident_id: inc.created_at for inc in snap.incidents}["a"] is None
    assert_identical([LabelledSnapshot((), snap)])
