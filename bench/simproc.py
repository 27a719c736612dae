"""A simulator in its own process, so it never shares a GIL with the code being measured.

Prints one JSON line (``reporting_url``, row ``totals``) once it listens, and serves until its stdin
closes or it is terminated. Rendered incident rows are memoised (the organisation never changes here),
so the simulator's own CPU per page is mostly JSON encoding and the figures are about the exporter.
With ``--workers N`` it pre-forks N-1 more processes accepting on the same socket, as a multi-worker
web server does, so concurrent requests do not queue behind one GIL.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from types import FrameType
from typing import Any

from bench.common import KEY_ID, KEY_SECRET
from exporter.simulator import Organisation, SimulatorServer, generate_organisation


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The organisation and server settings."""
    parser = argparse.ArgumentParser(prog="python -m bench.simproc")
    parser.add_argument("--incidents", type=int, required=True)
    parser.add_argument("--datasets", type=int, required=True)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--resolved-fraction", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--page-delay", type=float, default=0.0)
    parser.add_argument("--lookback-days", type=float, default=3.0)
    parser.add_argument("--resolved-days", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1)
    return parser.parse_args(argv)


def memoise_pages(org: Organisation) -> None:
    """Answer repeated incident queries from a cache of rendered rows, handing out copies."""
    original = org.incident_page
    cache: dict[tuple[Any, ...], tuple[int, list[dict[str, Any]]]] = {}

    def incident_page(
        status: str,
        from_dt: datetime,
        to_dt: datetime,
        dataset_ids: list[str] | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[dict[str, Any]]]:
        # Rows depend on the window's report dates only, so cycles minutes apart share entries.
        dates = (from_dt.astimezone(timezone.utc).date(), to_dt.astimezone(timezone.utc).date())
        key = (status, dates, tuple(dataset_ids or ()), offset, limit)
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = original(status, from_dt, to_dt, dataset_ids, offset, limit)
        return hit[0], [dict(row) for row in hit[1]]

    setattr(org, "incident_page", incident_page)  # noqa: B010 - an instance override, on purpose


def main(argv: list[str] | None = None) -> int:
    """Build the organisation, warm its query cache, serve, and announce the URL."""
    args = parse(argv)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    org = generate_organisation(
        seed=args.seed,
        incidents=args.incidents,
        datasets=args.datasets,
        days=args.days,
        now=now,
        resolved_fraction=args.resolved_fraction,
    )
    # The same windows the exporter asks for: computing them now keeps the first poll from paying it.
    unresolved, _ = org.incident_page("unresolved", now - timedelta(days=args.lookback_days), now, None, 0, 0)
    resolved, _ = org.incident_page("resolved", now - timedelta(days=args.resolved_days), now, None, 0, 0)
    memoise_pages(org)
    server = SimulatorServer(
        org, api_key_id=KEY_ID, api_key_secret=KEY_SECRET, page_delay_seconds=args.page_delay
    )
    workers = [pid for pid in (_fork_worker(server) for _ in range(args.workers - 1)) if pid]
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def stop_at_eof() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=stop_at_eof, daemon=True).start()
    server.start()
    totals = {"unresolved": unresolved, "resolved": resolved, "open_incidents": len(org.open_incidents())}
    print(
        json.dumps(
            {"reporting_url": server.reporting_url, "totals": totals, "workers": [os.getpid(), *workers]}
        )
    )
    sys.stdout.flush()
    stop.wait()
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    server.stop()
    return 0


def _fork_worker(server: SimulatorServer) -> int:
    """Fork a process serving the same listening socket; return its pid (the child never returns)."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    server.start()
    while os.getppid() == parent:  # outlive the parent by at most a moment
        time.sleep(0.5)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
