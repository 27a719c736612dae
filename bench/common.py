"""Shared pieces of the benchmark: figures, sizes, subprocesses and /proc readers."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
KEY_ID = "bench-key-id"
KEY_SECRET = "bench-key-secret-0000"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda value, limit: value <= limit,
    "<": lambda value, limit: value < limit,
    ">=": lambda value, limit: value >= limit,
    ">": lambda value, limit: value > limit,
}


@dataclass
class Figure:
    """One measured figure (a ratio or a latency), its target ``op limit`` and whether the run met it."""

    id: str
    name: str
    value: float
    unit: str
    op: str = ""
    limit: float | None = None

    @property
    def target(self) -> str:
        """The target as text, e.g. ``<= 1.3``; empty for figures reported without one."""
        return f"{self.op} {self.limit:g}" if self.op and self.limit is not None else ""

    @property
    def met(self) -> bool | None:
        """Whether the value meets the target; None without a target."""
        if not self.op or self.limit is None:
            return None
        return _COMPARE[self.op](self.value, self.limit)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "target": self.target, "met": self.met}


@dataclass
class ScenarioResult:
    """What one scenario produced: its figures and the raw measurements behind them."""

    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        """Append a figure and return it."""
        self.figures.append(figure)
        return figure


@dataclass(frozen=True)
class OrgSpec:
    """Arguments of ``generate_organization`` for one simulated organisation."""

    incidents: int
    datasets: int
    days: int = 60
    resolved_fraction: float = 0.03
    seed: int = 7

    def argv(self) -> list[str]:
        """Command-line form understood by ``bench.simproc``."""
        return [
            f"--incidents={self.incidents}",
            f"--datasets={self.datasets}",
            f"--days={self.days}",
            f"--resolved-fraction={self.resolved_fraction}",
            f"--seed={self.seed}",
        ]


def stop_event() -> threading.Event:
    """An event set by SIGTERM or SIGINT, or when the parent closes our stdin (so no child outlives a run)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def stop_at_eof() -> None:
        sys.stdin.read()
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threading.Thread(target=stop_at_eof, daemon=True).start()
    return stop


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return float(statistics.median(values))


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, rounded for display (0 when the denominator is 0)."""
    return round(numerator / denominator, 4) if denominator else 0.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by process ``pid`` (all its threads)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of process ``pid`` in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def bench_env() -> dict[str, str]:
    """Environment of child processes: the repo importable, the bench key pair set."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    env["SODA_API_KEY_ID"] = KEY_ID
    env["SODA_API_KEY_SECRET"] = KEY_SECRET
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class Child:
    """A child process whose output lines (stdout and stderr) are collected by reader threads."""

    def __init__(self, argv: Sequence[str], name: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=bench_env(),
            cwd=REPO_ROOT,
            text=True,
        )
        self.lines: list[str] = []
        self.cursor = 0
        self._changed = threading.Condition()
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    @property
    def pid(self) -> int:
        """Process id."""
        return self.proc.pid

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_line(self, accept: Callable[[str], Any], timeout: float, *, from_start: bool = False) -> Any:
        """Return ``accept(line)`` for the first later line where it is truthy; fail after ``timeout``.

        Lines are consumed (the cursor moves past the match) unless ``from_start`` scans everything.
        """
        end = time.monotonic() + timeout
        index = 0 if from_start else self.cursor
        with self._changed:
            while True:
                while index < len(self.lines):
                    result = accept(self.lines[index])
                    index += 1
                    if result:
                        if not from_start:
                            self.cursor = index
                        return result
                remaining = end - time.monotonic()
                if remaining <= 0 or self.proc.poll() is not None:
                    tail = "\n".join(self.lines[-20:])
                    raise RuntimeError(f"{self.name}: expected output did not arrive; last lines:\n{tail}")
                self._changed.wait(min(remaining, 0.5))

    def stop(self) -> None:
        """Terminate the process (closing its stdin first) and reap it."""
        if self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
            except OSError:
                pass
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def json_line(line: str) -> dict[str, Any] | None:
    """The line parsed as a JSON object, or None."""
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Simulator:
    """A running simulator subprocess and what it announced."""

    child: Child
    reporting_url: str
    totals: dict[str, int]


@contextmanager
def simulator(spec: OrgSpec, *, page_delay: float = 0.0, encoded: bool = False) -> Iterator[Simulator]:
    """Run ``bench.simproc`` for ``spec`` and yield once it listens (row totals pre-computed)."""
    argv = [sys.executable, "-m", "bench.simproc", *spec.argv(), f"--page-delay={page_delay}"]
    child = Child([*argv, "--encoded"] if encoded else argv, "simulator")
    try:
        ready = child.wait_line(lambda line: (json_line(line) or {}).get("reporting_url") and line, 300)
        info = json.loads(ready)
        yield Simulator(child, info["reporting_url"], info["totals"])
    finally:
        child.stop()


def exporter_argv(reporting_url: str, *extra: str, tls: tuple[Path, Path] | None = None) -> list[str]:
    """Command line of a real exporter subprocess pointed at the simulator, on a free port.

    With ``tls`` (certificate and key files) the exporter runs behind ``bench.tls``'s TLS door.
    """
    program = ["bench.tls", str(tls[0]), str(tls[1])] if tls else ["exporter.cli"]
    return [
        sys.executable,
        "-m",
        *program,
        "--web.listen-address=127.0.0.1:0",
        f"--soda.reporting-url={reporting_url}",
        "--log.format=json",
        *extra,
    ]


@dataclass(frozen=True)
class ExporterProcess:
    """A running exporter subprocess and the port it bound."""

    child: Child
    port: int

    def next_poll(self, timeout: float) -> dict[str, Any]:
        """Wait for the next canonical ``poll`` log line and return it; fail on a failed cycle."""
        event = self.child.wait_line(lambda line: _poll_event(json_line(line)), timeout)
        if event.get("outcome") != "success":
            raise RuntimeError(f"exporter poll failed: {event}")
        return dict(event)


def _poll_event(event: dict[str, Any] | None) -> dict[str, Any] | None:
    return event if event and event.get("event") == "poll" else None


@contextmanager
def exporter_process(
    reporting_url: str, *extra: str, tls: tuple[Path, Path] | None = None
) -> Iterator[ExporterProcess]:
    """Run the exporter CLI (or, with ``tls``, behind a TLS door) as a subprocess; yield once it listens."""
    child = Child(exporter_argv(reporting_url, *extra, tls=tls), "exporter")
    try:
        started = child.wait_line(
            lambda line: (json_line(line) or {}).get("event") == "started" and line, 60, from_start=True
        )
        port = int(json.loads(started)["listen"].rsplit(":", 1)[1])
        yield ExporterProcess(child, port)
    finally:
        child.stop()
