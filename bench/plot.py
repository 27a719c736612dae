"""B6 as a picture: cycle time and peak RSS against rows, for the exporter and its floor.

matplotlib is needed only here (the ``bench`` extra); without it the harness says so and goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def available() -> bool:
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write(b6: dict[str, Any], path: Path, *, title: str) -> None:
    """Draw the two panels from B6's details and write them to ``path`` as PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from matplotlib import pyplot as plt

    measured = sorted(b6["points"].values(), key=lambda point: point["rows"]["total"])
    rows = [point["rows"]["total"] for point in measured]
    walls = [point["median_wall_seconds"] for point in measured]
    memory = [point["exporter_memory"]["peak_mib"] * 2**20 / 1e6 for point in measured]
    floor_memory = [point["floor_memory"]["peak_mib"] * 2**20 / 1e6 for point in measured]
    figure, (time_axis, rss_axis) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    series = (
        ("exporter, first full cycle", [w["cycle"] for w in walls], "o-", "tab:blue"),
        ("exporter, --poll.concurrency 1", [w["cycle_concurrency_1"] for w in walls], "s--", "tab:cyan"),
        ("floor: same requests, sequential, json", [w["floor"] for w in walls], "^-", "tab:gray"),
    )
    for label, values, style, colour in series:
        time_axis.plot(rows, values, style, label=label, color=colour)
    time_axis.plot(rows, [1.3 * w["floor"] for w in walls], ":", color="tab:red", label="target: 1.3x floor")
    time_axis.set(title="Cycle wall time (median)", xlabel="rows per cycle", ylabel="seconds")
    rss_axis.plot(rows, memory, "o-", color="tab:blue", label="exporter (CLI), peak over the cycles")
    rss_axis.plot(rows, floor_memory, "^-", color="tab:gray", label="floor, own process")
    budgets = [(row, point["rss_budget_mb"]) for row, point in zip(rows, measured, strict=True)]
    budget_points = [(row, budget) for row, budget in budgets if budget]
    if budget_points:
        xs, ys = zip(*budget_points, strict=True)
        rss_axis.plot(xs, ys, "x", color="tab:red", markersize=10, label="budget")
    rss_axis.set(title="Peak RSS (VmHWM)", xlabel="rows per cycle", ylabel="MB")
    for axis in (time_axis, rss_axis):
        axis.set_xscale("log")
        axis.set_ylim(bottom=0)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8, loc="upper left")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    plt.close(figure)
