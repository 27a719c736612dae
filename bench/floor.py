"""The floor of a poll cycle: the same HTTP requests made one after another and decoded, nothing else.

It imports only requests, so that a process running it alone (``python -m bench.floor URL``) shows the
memory a client needs to read the same pages: B6 plots it next to the exporter's.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests

from bench.common import KEY_ID, KEY_SECRET  # bench.common imports the standard library only


class Floor:
    """The floor of a cycle: the same HTTP requests made one after another, json-decoded, nothing else."""

    def __init__(self, reporting_url: str, *, page_size: int = 1000, lookback_days: float = 3.0) -> None:
        self.url = reporting_url
        self.page_size = page_size
        self.windows = (("unresolved", lookback_days), ("resolved", 30.0))
        self.session = requests.Session()
        self.session.headers.update({"X-API-KEY-ID": KEY_ID, "X-API-KEY-SECRET": KEY_SECRET})
        self.requests = 0
        self.rows = 0

    def close(self) -> None:
        """Release the connection."""
        self.session.close()

    def _post(self, body: dict[str, Any], page: int, decode: Callable[[bytes], Any]) -> Any:
        self.requests += 1
        reply = self.session.post(
            f"{self.url}/impact/incidents", json=dict(body, page=page, size=self.page_size)
        )
        return decode(reply.content)

    def page_bytes(self, status: str = "unresolved", page: int = 1) -> bytes:
        """The raw body of one page (for decoder comparisons)."""
        now = datetime.now(timezone.utc)
        body: dict[str, Any] = {"status": status, "from_datetime": (now - timedelta(days=3)).isoformat()}
        body.update(to_datetime=now.isoformat(), page=page, size=self.page_size)
        return self.session.post(f"{self.url}/impact/incidents", json=body).content

    def run(self, decode: Callable[[bytes], Any] = json.loads) -> float:
        """Wall seconds of the sequential fetch."""
        self.requests = self.rows = 0
        started = time.perf_counter()
        now = datetime.now(timezone.utc)
        self.requests += 1
        decode(self.session.get(f"{self.url}/last_etl_refresh").content)
        for status, days in self.windows:
            body = {
                "status": status,
                "from_datetime": (now - timedelta(days=days)).isoformat(),
                "to_datetime": now.isoformat(),
            }
            first = self._post(body, 1, decode)
            total = int(first.get("total") or 0)
            self.rows += len(first.get("data") or [])
            for page in range(2, math.ceil(total / self.page_size) + 1):
                self.rows += len(self._post(body, page, decode)["data"])
        return time.perf_counter() - started


def main(argv: list[str]) -> int:
    """Run the floor once in this fresh process and print its wall time and peak RSS as JSON."""
    floor = Floor(argv[0])
    seconds = floor.run()
    status = Path(f"/proc/{os.getpid()}/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    print(json.dumps({"mode": "floor", "hwm_after_kib": hwm, "rows": floor.rows, "cycle": seconds}))
    floor.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
