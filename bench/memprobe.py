"""One poll cycle in a fresh process, folding pages as they arrive or keeping every raw row first.

``python -m bench.memprobe URL streaming|keep-all`` prints one JSON line with VmRSS before the cycle
and VmHWM after it, for the per-page aggregation lever of B4.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from bench.common import memory_kib
from bench.inproc import PULL_EVERY_CYCLE, exporter, timed_cycle
from exporter.incidents.fold import RowAccumulator
from exporter.poll import poller


class KeepAllRows(RowAccumulator):
    """The naive design: every decoded row is kept, and folded only once the last page has arrived."""

    def __init__(self, *, keep_details: bool) -> None:
        super().__init__(keep_details=keep_details)
        self.raw: list[tuple[bool, list[Any]]] = []  # (decoded as records, the page's rows)
        self._folded = 0

    def add_rows(self, rows: list[Any]) -> None:
        """Keep the page; fold nothing yet."""
        self.raw.append((False, rows))

    def add_records(self, records: list[Any]) -> None:
        """Keep the page of records as the client decoded it; fold nothing yet."""
        self.raw.append((True, records))

    @property
    def distinct_rows(self) -> int:
        """Fold everything kept so far (raw rows stay referenced), then count."""
        for records, rows in self.raw[self._folded :]:
            (super().add_records if records else super().add_rows)(rows)
        self._folded = len(self.raw)
        return super().distinct_rows


def keep_all(keep_details: bool) -> Callable[[], RowAccumulator]:
    """A sink factory for the naive design."""
    return lambda: KeepAllRows(keep_details=keep_details)


def main(argv: list[str]) -> int:
    """Run one cycle with the chosen sink and report memory."""
    url, mode = argv
    if mode == "keep-all":
        # The poller looks its sink factories up by module-level name on every pull.
        setattr(poller, "unresolved_accumulator", keep_all(True))  # noqa: B010
        setattr(poller, "resolved_accumulator", keep_all(False))  # noqa: B010
    with exporter(url, *PULL_EVERY_CYCLE) as app:
        before = memory_kib(os.getpid())["VmRSS"]
        seconds = timed_cycle(app)
        after = memory_kib(os.getpid())
    print(
        json.dumps(
            {"mode": mode, "rss_before_kib": before, "hwm_after_kib": after["VmHWM"], "cycle": seconds}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
