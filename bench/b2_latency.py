"""B2: a latency-bound pull (the simulator adds a delay to every page), concurrent against sequential."""

from __future__ import annotations

import math

from bench.common import Figure, OrgSpec, ScenarioResult, median, ratio, simulator
from bench.inproc import PAGINATED, PULL_EVERY_CYCLE, exporter, requests_made, timed_cycle

# Pages are served pre-encoded, so the simulator adds the delay and next to nothing else.


def run(spec: OrgSpec, page_delay: float, repeats: int) -> ScenarioResult:
    """Time cycles at the default concurrency and at ``--poll.concurrency 1`` on the same server."""
    result = ScenarioResult()
    with (
        simulator(spec, page_delay=page_delay, encoded=True) as sim,
        exporter(sim.reporting_url, *PULL_EVERY_CYCLE) as default,
        exporter(sim.reporting_url, *PULL_EVERY_CYCLE, "--poll.concurrency=1") as sequential,
    ):
        totals = sim.totals
        # One request per page; an empty result still costs its single (202) request.
        pages = sum(max(1, math.ceil(totals[status] / 1000)) for status in ("unresolved", "resolved"))
        walls: dict[str, list[float]] = {"default": [], "sequential": []}
        requests: dict[str, int] = {}
        for _ in range(repeats):
            for name, app in (("default", default), ("sequential", sequential)):
                before = requests_made(app)
                walls[name].append(timed_cycle(app))
                after = requests_made(app)
                requests[name] = sum(after.get(path, 0) - before.get(path, 0) for path in PAGINATED)
        result.details = {
            "organisation": vars(spec),
            "page_delay_seconds": page_delay,
            "simulator_serves_encoded_pages": True,
            "rows": totals,
            "pages": pages,
            "paginated_requests_per_cycle": requests,
            "wall_seconds": walls,
        }
    default_wall, sequential_wall = median(walls["default"]), median(walls["sequential"])
    result.add(
        Figure(
            "B2",
            f"cycle at {page_delay * 1000:g} ms/page, {pages} pages: default ÷ --poll.concurrency 1",
            ratio(default_wall, sequential_wall),
            "x",
            "<=",
            0.35,
        )
    )
    result.add(Figure("B2.cycle_seconds", "cycle wall time, default settings", round(default_wall, 3), "s"))
    result.add(
        Figure(
            "B2.requests_per_page",
            "paginated requests ÷ pages (default settings)",
            ratio(requests["default"], pages),
            "x",
            "<=",
            1.0,
        )
    )
    return result
