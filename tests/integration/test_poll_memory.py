"""What a poll keeps in memory: one cycle's rows at a time, with repeated values stored once."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from typing import Any

import pytest

from exporter.app import Exporter
from exporter.incidents.fold import resolved_accumulator, unresolved_accumulator
from exporter.memory import return_large_buffers_to_os
from exporter.simulator import SimulatorServer
from exporter.soda.errors import SodaConnectionError
from tests.support.rows import incident_row as row

StartExporter = Callable[..., Exporter]


def test_repeated_values_are_kept_as_one_object_across_pages() -> None:
    acc = unresolved_accumulator()
    # Separate pages decode separate (equal) strings; the accumulator keeps one of each.
    acc.add_rows([row("a", "2026-11-20", dataset="ds-" + "x", check_name="c" * 3, lead_email="l@e")])
    acc.add_rows([row("b", "2026-11-20", dataset="".join(["ds-", "x"]), check_name="".join("ccc"))])
    a, b = acc.newest["a"], acc.newest["b"]
    assert a.dataset_id == b.dataset_id and a.dataset_id is b.dataset_id
    assert a.report_date is b.report_date and a.severity is b.severity and a.status is b.status
    assert a.check_name is b.check_name
    assert a.lead_email == "l@e"


def test_unhashable_details_are_kept_as_they_are() -> None:
    acc = unresolved_accumulator()
    acc.add_rows([row("a", "2026-11-20", check_name=["odd"], lead_email={"odd": 1})])
    assert acc.newest["a"].check_name == ["odd"]
    assert acc.newest["a"].lead_email == {"odd": 1}
    resolved = resolved_accumulator()
    resolved.add_rows([row("a", "2026-11-20", status="resolved", resolved="2026-11-20T01:00:00Z")])
    assert resolved.newest["a"].resolved_at == "2026-11-20T01:00:00Z"


def test_a_pull_frees_the_kept_rows_first_and_a_failed_pull_is_retried(
    simulator: SimulatorServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter(simulator, "--poll.max-age=0", run=False)
    poller = exporter.pollers[0]
    assert poller._pull_reason(None) == "start"
    assert poller.run_cycle() and poller._kept is not None
    kept_during_pull: list[Any] = []
    real_fetch = poller.client.fetch_incidents

    def failing_fetch(*args: Any, **kwargs: Any) -> Any:
        kept_during_pull.append(poller._kept)
        raise SodaConnectionError("connection refused")

    poller.client.fetch_incidents = failing_fetch  # type: ignore[method-assign]
    assert not poller.run_cycle()
    assert kept_during_pull == [None]
    assert poller._pull_reason(None) == "after_failure"
    poller.client.fetch_incidents = real_fetch  # type: ignore[method-assign]
    assert poller.run_cycle() and poller._kept is not None
    assert exporter.state.snapshot(poller.organization) is not None


def test_large_buffers_are_returned_to_the_os_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    assert return_large_buffers_to_os()
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert not return_large_buffers_to_os(), "an operator's own setting wins"
