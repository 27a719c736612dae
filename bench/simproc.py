"""A simulator in its own process, so it never shares a GIL with the code being measured.

Prints one JSON line (``reporting_url``, row ``totals``) once it listens, and serves until its stdin
closes or it is terminated. The organisation never changes here, so rendered incident rows are
memoised: the simulator's own cost per page is then mostly JSON encoding, paid alike by the exporter
and by the floors it is compared with. With ``--encoded`` whole page bodies are memoised too, so a
page costs little more than its ``--page-delay``: a pure latency, as B2 wants.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import datetime, timedelta, timezone
from types import FrameType
from typing import Any

from bench.common import KEY_ID, KEY_SECRET
from exporter.simulator import Organization, SimulatorServer, generate_organization, replies

Rows = list[dict[str, Any]]


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The organisation and server settings."""
    parser = argparse.ArgumentParser(prog="python -m bench.simproc")
    parser.add_argument("--incidents", type=int, required=True)
    parser.add_argument("--datasets", type=int, required=True)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--resolved-fraction", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--page-delay", type=float, default=0.0)
    parser.add_argument("--encoded", action="store_true", help="memoise encoded page bodies as well")
    parser.add_argument("--lookback-days", type=float, default=3.0)
    parser.add_argument("--resolved-days", type=float, default=30.0)
    return parser.parse_args(argv)


def memoise_pages(org: Organization, *, share_rows: bool) -> set[int]:
    """Answer repeated incident queries from rendered rows; return the ids of the memoised lists.

    Rows are handed out as copies unless ``share_rows`` (then the same list object every time).
    """
    original = org.incident_page
    cache: dict[tuple[Any, ...], tuple[int, Rows]] = {}
    shared: set[int] = set()

    def incident_page(
        status: str, from_dt: datetime, to_dt: datetime, ids: list[str] | None, offset: int, limit: int
    ) -> tuple[int, Rows]:
        # Rows depend on the window's report dates only, so cycles minutes apart share entries.
        dates = (from_dt.astimezone(timezone.utc).date(), to_dt.astimezone(timezone.utc).date())
        key = (status, dates, tuple(ids or ()), offset, limit)
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = original(status, from_dt, to_dt, ids, offset, limit)
            shared.add(id(hit[1]))
        return hit[0], hit[1] if share_rows else [dict(row) for row in hit[1]]

    setattr(org, "incident_page", incident_page)  # noqa: B010 - an instance override, on purpose
    return shared


def memoise_bodies(shared: set[int]) -> None:
    """Encode each memoised page once: replies built on a memoised row list reuse its bytes."""
    original = replies.encode_json
    cache: dict[tuple[Any, ...], bytes] = {}

    def encode_json(payload: Any) -> bytes:
        data = payload.get("data") if isinstance(payload, dict) else None
        if data is None or id(data) not in shared:
            return original(payload)
        key = (id(data), payload.get("total"), payload.get("page"), payload.get("size"))
        body = cache.get(key)
        if body is None:
            body = cache[key] = original(payload)
        return body

    setattr(replies, "encode_json", encode_json)  # noqa: B010 - replies look it up at call time


def main(argv: list[str] | None = None) -> int:
    """Build the organisation, warm its query cache, serve, and announce the URL."""
    args = parse(argv)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    org = generate_organization(
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
    shared = memoise_pages(org, share_rows=args.encoded)
    if args.encoded:
        memoise_bodies(shared)
    server = SimulatorServer(
        org, api_key_id=KEY_ID, api_key_secret=KEY_SECRET, page_delay_seconds=args.page_delay
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def stop_at_eof() -> None:
        sys.stdin.read()
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threading.Thread(target=stop_at_eof, daemon=True).start()
    server.start()
    totals = {"unresolved": unresolved, "resolved": resolved, "open_incidents": len(org.open_incidents())}
    print(json.dumps({"reporting_url": server.reporting_url, "totals": totals}), flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
