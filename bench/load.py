"""HTTP load generation: wrk when it is installed, else a small keep-alive loop in Python threads."""

from __future__ import annotations

import http.client
import re
import shutil
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class LoadResult:
    """Throughput and tail latency of one load run."""

    requests_per_second: float
    p99_seconds: float
    requests: int
    errors: int
    tool: str

    def as_dict(self) -> dict[str, float | int | str]:
        """JSON-ready form."""
        return {
            "requests_per_second": round(self.requests_per_second, 2),
            "p99_ms": round(self.p99_seconds * 1000, 3),
            "requests": self.requests,
            "errors": self.errors,
            "tool": self.tool,
        }


def wrk_path() -> str | None:
    """The wrk binary, or None when it is not installed."""
    return shutil.which("wrk")


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unrecognised wrk duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> LoadResult:
    """Read requests/sec, the 99th percentile and error counts from ``wrk --latency`` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = _seconds(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket:
        errors += sum(int(n) for n in socket.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return LoadResult(rps, p99, total, errors, "wrk")


def run_wrk(url: str, *, connections: int, seconds: float, gzip: bool) -> LoadResult:
    """Run wrk with two threads against ``url`` and parse its report."""
    argv = [wrk_path() or "wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    argv += ["--timeout", "30s"]
    if gzip:
        argv += ["-H", "Accept-Encoding: gzip"]
    done = subprocess.run([*argv, url], capture_output=True, text=True, check=True, timeout=seconds + 60)
    return parse_wrk(done.stdout)


def run_python(url: str, *, connections: int, seconds: float, gzip: bool) -> LoadResult:
    """The fallback: ``connections`` threads, each looping GETs on one keep-alive connection."""
    secure = url.startswith("https://")
    host_port, _, path = url.removeprefix("https://" if secure else "http://").partition("/")
    host, _, port = host_port.partition(":")
    headers = {"Accept-Encoding": "gzip"} if gzip else {}
    unverified = ssl._create_unverified_context()  # the bench's own self-signed certificate

    def connect() -> http.client.HTTPConnection:
        if secure:
            return http.client.HTTPSConnection(host, int(port), timeout=30, context=unverified)
        return http.client.HTTPConnection(host, int(port), timeout=30)

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def worker() -> None:
        conn = connect()
        mine: list[float] = []
        while time.monotonic() < end:
            started = time.perf_counter()
            try:
                conn.request("GET", "/" + path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200 or response.will_close:
                    conn.close()
                    if response.status != 200:
                        raise OSError(f"HTTP {response.status}")
            except (OSError, http.client.HTTPException):
                with lock:
                    errors[0] += 1
                conn = connect()
                continue
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return LoadResult(len(latencies) / elapsed, p99, len(latencies), errors[0], "python")


def run_load(url: str, *, connections: int, seconds: float, gzip: bool, use_wrk: bool) -> LoadResult:
    """Load ``url`` with wrk when asked and available, else with the Python loop."""
    if use_wrk and wrk_path():
        return run_wrk(url, connections=connections, seconds=seconds, gzip=gzip)
    return run_python(url, connections=connections, seconds=seconds, gzip=gzip)
