"""What a poll keeps in memory: one cycle's rows at a time, with repeated values stored once."""

from __future__ import annotations

import ctypes
import gc
import platform
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exporter.app import Exporter
from exporter.incidents.fold import resolved_accumulator, unresolved_accumulator
from exporter.memory import gc_paused, release_free_heap, return_large_buffers_to_os
from exporter.poll import poller as poller_module
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


def _rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))


def test_the_heap_a_pull_freed_leaves_rss_on_glibc() -> None:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    # 64 MiB in chunks below the mmap threshold, touched so they are resident; the last one stays
    # allocated, so the free space lies below it, where glibc never trims on its own.
    chunks = [libc.malloc(4000) for _ in range(16 * 1024)]
    for chunk in chunks:
        libc.memset(chunk, 1, 4000)
    for chunk in chunks[:-1]:
        libc.free(chunk)
    before = _rss_kib()
    assert release_free_heap()
    after = _rss_kib()
    libc.free(chunks[-1])
    assert before - after > 32 * 1024, (before, after)


def test_every_cycle_ends_by_releasing_the_free_heap(
    simulator: SimulatorServer, start_exporter: StartExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = start_exporter(simulator, "--poll.max-age=0", run=False)
    poller = exporter.pollers[0]
    released: list[bool] = []
    monkeypatch.setattr(poller_module, "release_free_heap", lambda: released.append(gc.isenabled()))
    assert poller.run_cycle()

    def failing_fetch(*args: Any, **kwargs: Any) -> Any:
        raise SodaConnectionError("connection refused")

    monkeypatch.setattr(poller.client, "fetch_incidents", failing_fetch)
    assert not poller.run_cycle()
    assert released == [True, True], "after each cycle, failed ones too, once the collector runs again"


def _days(count: int) -> list[str]:
    return [f"2026-{10 + (n // 28):02d}-{1 + n % 28:02d}" for n in range(count)]


def _retained_bytes(pages: list[list[dict[str, Any]]]) -> int:
    """Bytes still allocated by an accumulator once it has folded ``pages`` (and they are gone)."""
    gc.collect()
    tracemalloc.start()
    acc = resolved_accumulator()
    while pages:
        acc.add_rows(pages.pop(0))
    assert acc.newest
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return held


def test_what_a_pull_keeps_grows_with_incidents_not_rows() -> None:
    def pages(days: int) -> list[list[dict[str, Any]]]:
        return [
            [row(f"i{n}", day, status="resolved", resolved="2026-09-30T00:00:00Z") for n in range(500)]
            for day in _days(days)
        ]

    short, long = _retained_bytes(pages(2)), _retained_bytes(pages(30))
    # 15 times the rows, the same 500 incidents: what is kept may not grow with the rows (a set of row
    # keys would add ~60 bytes per row; a wider date mask adds a few bytes per incident).
    extra_rows = 500 * 28
    assert long - short < 4 * extra_rows, (short, long)


def test_a_page_with_an_unusable_row_folds_its_other_rows_alike() -> None:
    good = [row(f"i{n}", day, dataset=f"ds-{n % 3}") for n in range(20) for day in _days(3)]
    clean, mixed = unresolved_accumulator(), unresolved_accumulator()
    clean.add_rows(good)
    clean.add_rows(good[:5])  # served again: counted once
    mixed.add_rows([*good[:10], row("", "2026-10-01"), *good[10:]])
    mixed.add_rows([*good[:5], "not an object"])
    assert mixed.newest == clean.newest
    assert (mixed.datasets, mixed.severities, mixed.statuses) == (
        clean.datasets,
        clean.severities,
        clean.statuses,
    )
    assert mixed.max_report_date == clean.max_report_date == "2026-10-03"
    assert clean.distinct_rows == 60 and mixed.distinct_rows == 62
    assert mixed.skipped == {"missing_incident_id": 1, "not_an_object": 1}


def test_a_date_time_report_date_is_the_same_row_as_its_date() -> None:
    acc = unresolved_accumulator()
    acc.add_rows([row("a", "2026-11-20"), row("b", "2026-11-19")])
    acc.add_rows([row("a", "2026-11-20T00:00:00"), row("b", "2026-11-20T00:00:00Z")])
    assert acc.distinct_rows == 3
    assert acc.newest["b"].report_date == "2026-11-20" == acc.max_report_date


def test_the_collector_waits_while_any_pull_runs_and_resumes_after() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # a second organisation's pull, at the same time
            assert not gc.isenabled()
        assert not gc.isenabled(), "resumed while a pull still runs"
    assert gc.isenabled()
    gc.disable()  # an operator's (or embedding program's) own choice is kept
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_cycle_pulls_with_the_collector_paused(
    simulator: SimulatorServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter(simulator, "--poll.max-age=0", run=False)
    seen: list[bool] = []
    real_fetch = exporter.pollers[0].client.fetch_incidents

    def fetch(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real_fetch(*args, **kwargs)

    exporter.pollers[0].client.fetch_incidents = fetch  # type: ignore[method-assign]
    assert exporter.pollers[0].run_cycle()
    assert seen == [False, False]
    assert gc.isenabled()
