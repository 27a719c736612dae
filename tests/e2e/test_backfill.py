"""End to end: backfill file -> real promtool blocks -> real Prometheus -> a past day equals the truth,
for two organisations read in one run from --config.file, each under its organization label."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import requests

from exporter.incidents.snapshot import midnight_utc
from exporter.simulator import Organization, SimulatorServer, generate_organization
from tests.binaries import require_binary
from tests.support.backfill import truth
from tests.support.http import free_port
from tests.support.monitoring_stack import (
    Org,
    Processes,
    PrometheusAPI,
    exporter_command,
    http_ok,
    write_organizations,
)
from tests.support.waiting import wait_for

BUDGET_SECONDS = 45.0
ORGS = {"acme": 11, "globex": 12}  # organisation name -> simulator seed


def _vector(api: PrometheusAPI, expr: str, at: float, keys: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    """An instant query at ``at``, as {label values of ``keys``: value}, zeros left out."""
    reply = requests.get(f"{api.base}/api/v1/query", params={"query": expr, "time": str(at)}, timeout=5)
    body: dict[str, Any] = reply.json()
    assert body["status"] == "success", f"{expr}: {body.get('error')}"
    out: dict[tuple[str, ...], float] = {}
    for item in body["data"]["result"]:
        value = float(item["value"][1])
        if value:
            out[tuple(item["metric"][k] for k in keys)] = value
    return out


def test_backfilled_history_is_queryable_in_prometheus(
    start_simulator: Callable[..., SimulatorServer], tmp_path: Path
) -> None:
    promtool = require_binary("promtool")
    prometheus = require_binary("prometheus")
    deadline = time.monotonic() + BUDGET_SECONDS

    def left(reserve: float = 0.0) -> float:
        """Seconds of the budget still available after keeping ``reserve`` for what follows."""
        return max(0.5, deadline - reserve - time.monotonic())

    orgs: dict[str, Organization] = {}
    entries = []
    for name, seed in ORGS.items():
        orgs[name] = generate_organization(seed=seed, incidents=120, datasets=6, days=40)
        key = (f"{name}-key-id", f"{name}-key-secret")
        simulator = start_simulator(orgs[name], api_key_id=key[0], api_key_secret=key[1])
        entries.append(Org(name, int(simulator.reporting_url.rsplit(":", 1)[1].split("/")[0]), *key))
    today = orgs["acme"].now.date()
    first, last = today - timedelta(days=8), today - timedelta(days=1)
    history = tmp_path / "history.om"
    env = {**os.environ, **write_organizations(tmp_path / "organizations.yml", entries)}
    env.pop("SODA_API_KEY_ID", None)
    env.pop("SODA_API_KEY_SECRET", None)
    argv = ["backfill", "--from", first.isoformat(), "--to", last.isoformat(), "-o", str(history)]
    argv += ["--config.file", str(tmp_path / "organizations.yml")]
    done = subprocess.run(
        [*exporter_command(), *argv], env=env, capture_output=True, text=True, timeout=left(15)
    )
    assert done.returncode == 0, done.stderr
    data = tmp_path / "data"
    blocks = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(history), str(data)],
        capture_output=True,
        text=True,
        timeout=left(10),
    )
    assert blocks.returncode == 0, blocks.stderr + blocks.stdout
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    port = free_port()
    procs = Processes(tmp_path)
    try:
        procs.start(
            "prometheus",
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                "--storage.tsdb.retention.time=10y",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
        )
        api = PrometheusAPI(f"http://127.0.0.1:{port}")
        wait_for("Prometheus ready", lambda: http_ok(f"{api.base}/-/ready"), left(5), procs.logs)
        for name, org in orgs.items():
            for day in (first + timedelta(days=2), last):
                check_day(api, org, day, name)
        per_org = _vector(
            api, "count by (organization) (soda_incidents_open)", midnight_utc(last), ("organization",)
        )
        assert set(per_org) == {(name,) for name in ORGS}
    finally:
        procs.stop()
    assert time.monotonic() < deadline, f"took longer than {BUDGET_SECONDS}s"


def check_day(api: PrometheusAPI, org: Organization, day: date, name: str) -> None:
    """Both families of organisation ``name`` at ``day``'s sample time equal its simulator's truth."""
    want_open, want_resolved = truth(org, day)
    assert sum(want_open.values()) and sum(want_resolved.values())
    at = midnight_utc(day)
    open_keys = ("dataset_id", "severity", "status")
    opened = f'soda_incidents_open{{organization="{name}"}}'
    assert _vector(api, opened, at, open_keys) == {k: float(v) for k, v in want_open.items()}
    resolved = _vector(
        api, f'soda_incidents_resolved{{organization="{name}"}}', at, ("dataset_id", "severity")
    )
    assert resolved == {k: float(v) for k, v in want_resolved.items()}
    # Between daily samples a plain query finds nothing (5m lookback); last_over_time reads the day's value.
    assert _vector(api, opened, at + 12 * 3600, open_keys) == {}
    noon = _vector(api, f"last_over_time({opened}[1d])", at + 12 * 3600, open_keys)
    assert noon == {k: float(v) for k, v in want_open.items()}
