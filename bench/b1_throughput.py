"""B1: one full poll cycle over ~100,000 incident rows against the floor of the same requests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from bench.common import Figure, OrgSpec, ScenarioResult, cpu_seconds, median, ratio, simulator
from bench.inproc import cycle_variants, json_decoding, requests_made, timed_cycle
from exporter.exposition.collector import LabelledSnapshot, render_snapshots
from exporter.incidents.fold import unresolved_accumulator
from exporter.incidents.snapshot import build_snapshot
from exporter.soda.pages import FetchStats
from exporter.soda.records import load_records


def _measure(sim_pid: int, run: Callable[[], float]) -> dict[str, float]:
    """Wall seconds of ``run`` plus the CPU seconds the simulator and this process spent meanwhile."""
    sim_before, own_before = cpu_seconds(sim_pid), time.process_time()
    wall = run()
    return {
        "wall": wall,
        "simulator_cpu": cpu_seconds(sim_pid) - sim_before,
        "client_cpu": time.process_time() - own_before,
    }


def _decode_cost(page: bytes, repeats: int) -> dict[str, float]:
    """Seconds to decode one page with json and into the fold's records (best of ``repeats``)."""
    costs: dict[str, float] = {}
    fields = unresolved_accumulator().row_fields
    decoders: dict[str, Callable[[bytes], Any]] = {
        "json": json.loads,
        "msgspec": lambda content: load_records(content, fields),
    }
    for name, decode in decoders.items():
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            decode(page)
            best = min(best, time.perf_counter() - started)
        costs[name] = best
    return costs


def _breakdown(app: Any) -> dict[str, float]:
    """Seconds of the snapshot and render steps alone, on freshly fetched data."""
    data, _ = app.pollers[0]._fetch(FetchStats())
    started = time.perf_counter()
    snapshot = build_snapshot(data, app.pollers[0]._clock(), app.config.poll.snapshot)
    built = time.perf_counter()
    exposition = render_snapshots([LabelledSnapshot((), snapshot)])
    rendered = time.perf_counter()
    return {
        "snapshot_seconds": built - started,
        "render_seconds": rendered - built,
        "exposition_bytes": len(exposition.text),
    }


def run(spec: OrgSpec, repeats: int) -> ScenarioResult:
    """Interleave floor and cycle variants ``repeats`` times after one warm-up of each."""
    result = ScenarioResult()
    with simulator(spec) as sim, cycle_variants(sim.reporting_url) as chosen:
        floor, default, variants = chosen.floor, chosen.default, chosen.runs
        variants["cycle_json_decoding"] = lambda: _json_cycle(default)
        for run_variant in variants.values():  # warm-up: connections, caches, first imports
            run_variant()
        before = requests_made(default)
        timed_cycle(default)
        after = requests_made(default)
        cycle_requests = sum(after.values()) - sum(before.values())
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for _ in range(repeats):
            for name, run_variant in variants.items():
                samples[name].append(_measure(sim.child.pid, run_variant))
        walls = {name: median([s["wall"] for s in runs]) for name, runs in samples.items()}
        result.details = {
            "organisation": vars(spec),
            "rows": {**sim.totals, "floor_rows_read": floor.rows},
            "requests": {"floor": floor.requests, "cycle": cycle_requests},
            "median_wall_seconds": walls,
            "samples": samples,
            "decode_seconds_per_page": _decode_cost(floor.page_bytes(), 5),
            "breakdown": _breakdown(default),
        }
    cpu = {name: median([s["client_cpu"] for s in runs]) for name, runs in samples.items()}
    decode = result.details["decode_seconds_per_page"]
    for figure_id, name, value, unit, op, limit in (
        ("B1", "poll cycle ÷ sequential json floor", ratio(walls["cycle"], walls["floor"]), "x", "<=", 1.3),
        ("B1.cycle_seconds", "poll cycle wall time", round(walls["cycle"], 3), "s", "", None),
        ("B1.floor_seconds", "floor wall time", round(walls["floor"], 3), "s", "", None),
        (
            "B1.concurrency",
            "lever: cycle at --poll.concurrency 1 ÷ default (4)",
            ratio(walls["cycle_concurrency_1"], walls["cycle"]),
            "x",
            ">",
            1.0,
        ),
        (
            "B1.msgspec",
            "lever: cycle decoding with json ÷ into msgspec records",
            ratio(walls["cycle_json_decoding"], walls["cycle"]),
            "x",
            ">",
            1.0,
        ),
        (
            "B1.msgspec_cpu",
            "lever: exporter CPU per cycle, json ÷ msgspec records",
            ratio(cpu["cycle_json_decoding"], cpu["cycle"]),
            "x",
            ">",
            1.0,
        ),
        (
            "B1.msgspec_decode",
            "lever: json.loads ÷ msgspec records, one 1000-row page",
            ratio(decode["json"], decode["msgspec"]),
            "x",
            ">",
            1.0,
        ),
    ):
        result.add(Figure(figure_id, name, value, unit, op, limit))
    return result


def _json_cycle(app: Any) -> float:
    """A cycle decoding with the standard library's json."""
    with json_decoding():
        return timed_cycle(app)
