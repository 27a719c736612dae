"""A simulator in its own process, so it never shares a GIL with the code being measured.

Prints one JSON line (``reporting_url``, row ``totals``) once it listens, and serves until its stdin
closes or it is terminated. The organisation never changes here, so rendered incident rows are
memoised: the simulator's own cost per page is then mostly JSON encoding, paid alike by the exporter
and by the floors it is compared with. With ``--encoded`` whole replies are memoised instead (only
their bytes are kept, never the rows, so a million-row organisation fits in about 1 GB) and every page
of the two windows the exporter asks for is encoded before the URL is announced: a page then costs
little more than its ``--page-delay`` and its socket write, a pure latency, as B2 and B6 want.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from bench.common import KEY_ID, KEY_SECRET, stop_event
from exporter.simulator import Organization, SimulatorServer, generate_organization
from exporter.simulator.replies import Reply, Request
from exporter.simulator.validation import incidents_query, parse_json

INCIDENTS = "/v1/impact/incidents"

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


def memoise_pages(org: Organization) -> None:
    """Answer repeated incident queries from rendered rows, handed out as copies."""
    original = org.incident_page
    cache: dict[tuple[Any, ...], tuple[int, Rows]] = {}

    def incident_page(
        status: str, from_dt: datetime, to_dt: datetime, ids: list[str] | None, offset: int, limit: int
    ) -> tuple[int, Rows]:
        # Rows depend on the window's report dates only, so cycles minutes apart share entries.
        dates = (from_dt.astimezone(timezone.utc).date(), to_dt.astimezone(timezone.utc).date())
        key = (status, dates, tuple(ids or ()), offset, limit)
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = original(status, from_dt, to_dt, ids, offset, limit)
        return hit[0], [dict(row) for row in hit[1]]

    setattr(org, "incident_page", incident_page)  # noqa: B010 - an instance override, on purpose


def memoise_replies(server: SimulatorServer) -> Callable[[Request], Reply]:
    """Answer repeated incident queries with the bytes of the first answer; return the cached handler.

    The key is what the rows depend on: status, the window's report dates, the dataset filter and the
    page. Only the encoded body is kept, so the cache costs ~1 KB per row and no Python objects.
    """
    org = server.organization
    method, original, needs_auth = server.reporting._routes[INCIDENTS]
    cache: dict[tuple[Any, ...], Reply] = {}
    lock = threading.Lock()

    def incidents(request: Request) -> Reply:
        query = incidents_query(parse_json(request.body), org.now)
        key = (
            query.status.strip().lower(),
            query.from_datetime.astimezone(timezone.utc).date(),
            query.to_datetime.astimezone(timezone.utc).date(),
            tuple(query.dataset_ids or ()),
            query.page,
            query.size,
        )
        hit = cache.get(key)
        if hit is None:
            fresh = original(request)
            hit = Reply(fresh.status, headers=dict(fresh.headers), raw_body=fresh.body())
            hit.content_type = fresh.content_type
            with lock:
                cache[key] = hit
        return hit

    server.reporting._routes[INCIDENTS] = (method, incidents, needs_auth)
    return incidents


def encode_window(handler: Callable[[Request], Reply], body: dict[str, Any], page_size: int = 1000) -> None:
    """Run every page of one query through ``handler`` so that its replies are cached."""
    page = 1
    while True:
        payload = json.dumps(dict(body, page=page, size=page_size)).encode()
        reply = handler(Request("POST", INCIDENTS, {}, payload, None))
        if reply.status != 200:
            return
        total = int(json.loads(reply.body())["total"])
        if page * page_size >= total:
            return
        page += 1


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
    server = SimulatorServer(
        org, api_key_id=KEY_ID, api_key_secret=KEY_SECRET, page_delay_seconds=args.page_delay
    )
    if args.encoded:
        handler = memoise_replies(server)
        for status, days in (("unresolved", args.lookback_days), ("resolved", args.resolved_days)):
            window = {"status": status, "from_datetime": (now - timedelta(days=days)).isoformat()}
            encode_window(handler, {**window, "to_datetime": now.isoformat()})
    else:
        memoise_pages(org)
    stop = stop_event()
    server.start()
    totals = {"unresolved": unresolved, "resolved": resolved, "open_incidents": len(org.open_incidents())}
    print(json.dumps({"reporting_url": server.reporting_url, "totals": totals}), flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
