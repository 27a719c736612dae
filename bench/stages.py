"""Where a cycle's time goes: the exporter's steps timed by wrapping them for one instrumented cycle.

Steps: fetch wait (an HTTP request, up to its body read), decode, fold (the accumulators' page
folding, and building their newest rows), snapshot (minus that), render and publish (minus render).
Wrapped steps may run in page threads, so these are thread-seconds: at ``--poll.concurrency 1`` they
add up to the cycle's wall time, less the poller's own bookkeeping. Each step's CPU time (of the
thread running it) is kept too: on a shared machine it varies less than wall time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.inproc import timed_cycle
from exporter.app import Exporter
from exporter.exposition import state
from exporter.incidents import fold as accumulate
from exporter.poll import poller
from exporter.soda import http as soda_http

STAGES = ("fetch_wait", "decode", "fold", "snapshot", "render", "publish")
_PATCHING = threading.Lock()  # the wrappers are module-wide: one instrumented cycle at a time


class StageClock:
    """Thread-safe per-stage totals, with nested stages subtracted from the stage around them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys([*STAGES, "request", "newest"], 0.0)
        self.cpu: dict[str, float] = dict.fromkeys([*STAGES, "request", "newest"], 0.0)
        self._lock = threading.Lock()

    def timed(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` wrapped so that its wall time is added to ``stage``."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started, cpu_started = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
                with self._lock:
                    self.seconds[stage] += elapsed
                    self.cpu[stage] += cpu

        return wrapper

    def result(self, cpu: bool = False) -> dict[str, float]:
        """Seconds (wall, or CPU of the threads) per stage, nested stages taken out of their callers."""
        s = self.cpu if cpu else self.seconds
        return {
            "fetch_wait": s["request"],  # sending and reading the body: decoding is done after it
            "decode": s["decode"],
            # Building the newest rows is folding, done lazily when the snapshot first reads them.
            "fold": s["fold"] + s["newest"],
            "snapshot": max(0.0, s["snapshot"] - s["newest"]),
            "render": s["render"],
            "publish": max(0.0, s["publish"] - s["render"]),
        }


@contextmanager
def instrumented(clock: StageClock) -> Iterator[None]:
    """Wrap the exporter's steps (module-level names, looked up at call time) while inside."""
    acc_cls = accumulate.RowAccumulator
    targets: list[tuple[Any, str, str]] = [
        (soda_http, "_loads", "decode"),
        (soda_http.SodaHttp, "request_later", "request"),  # request() sends through it too
        (acc_cls, "add_rows", "fold"),
        (acc_cls, "add_records", "fold"),
        (acc_cls, "_build_newest", "newest"),
        (poller, "build_snapshot", "snapshot"),
        (state, "render_snapshots", "render"),
        (state.ExporterState, "publish", "publish"),
    ]
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in targets]
    try:
        for owner, name, stage in targets:
            setattr(owner, name, clock.timed(stage, getattr(owner, name)))
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def breakdown(app: Exporter) -> dict[str, Any]:
    """One instrumented cycle: seconds and share of each stage, and the cycle's wall time."""
    clock = StageClock()
    with _PATCHING, instrumented(clock):
        wall = timed_cycle(app)
    seconds = clock.result()
    total = sum(seconds.values()) or 1.0
    return {
        "wall_seconds": wall,
        "seconds": {name: round(value, 4) for name, value in seconds.items()},
        "cpu_seconds": {name: round(value, 4) for name, value in clock.result(cpu=True).items()},
        "share_percent": {name: round(100 * value / total, 1) for name, value in seconds.items()},
    }


def share_line(result: dict[str, Any]) -> str:
    """The shares as one printable line."""
    shares = result["share_percent"]
    return ", ".join(f"{name.replace('_', ' ')} {shares[name]:.0f}%" for name in STAGES)
