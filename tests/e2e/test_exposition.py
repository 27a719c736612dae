"""What /metrics serves, checked by the real promtool."""

from __future__ import annotations

import subprocess

from exporter.app import Exporter
from tests.binaries import require_binary
from tests.support.http import scrape


def test_promtool_accepts_the_exposition(ready_exporter: Exporter) -> None:
    promtool = require_binary("promtool")
    exporter = ready_exporter
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
