"""What /metrics serves, checked by the real promtool."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from exporter.app import Exporter
from exporter.simulator import SimulatorServer
from tests.binaries import require_binary
from tests.support.http import scrape

StartExporter = Callable[..., Exporter]


def test_promtool_accepts_the_exposition(simulator: SimulatorServer, start_exporter: StartExporter) -> None:
    promtool = require_binary("promtool")
    exporter = start_exporter(simulator)
    assert exporter.state.wait_ready(20), "first poll did not succeed"
    port = exporter.port
    proc = subprocess.run(
        [promtool, "check", "metrics"],
        input=scrape(port).content,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode() + proc.stdout.decode()
    assert proc.stdout.decode().strip() == "" and proc.stderr.decode().strip() == ""
