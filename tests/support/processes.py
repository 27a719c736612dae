"""The console script as a child process: started with its stderr in a file, its JSON log lines read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start the console script with stderr captured to ``log``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SODA_")}
    return subprocess.Popen(
        [sys.executable, "-m", "exporter.cli", *args],
        env={**base, **env},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def json_lines(log: Path) -> list[dict[str, object]]:
    """Every log line, parsed (fails the test if one is not JSON)."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
