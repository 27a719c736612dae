"""Generate the Grafana dashboards of the Soda incidents exporter as JSON.

python grafana/generate.py           # rewrite grafana/dashboards/*.json
python grafana/generate.py --check   # exit 1 when the committed JSON is out of date
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # so the generator also works when imported from elsewhere
    sys.path.insert(0, str(HERE))

from soda_dashboards import health, overview  # noqa: E402
from soda_dashboards.common import render  # noqa: E402

DASHBOARDS_DIR = HERE / "dashboards"
BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "soda-incidents-overview.json": overview.build,
    "soda-exporter-health.json": health.build,
}


def rendered_dashboards() -> dict[Path, str]:
    """Map each committed dashboard file to the JSON text it should hold."""
    return {DASHBOARDS_DIR / name: render(build()) for name, build in BUILDERS.items()}


def main(argv: list[str] | None = None) -> int:
    """Write the dashboards, or with --check report whether they are up to date."""
    parser = argparse.ArgumentParser(description="Generate the Soda incidents exporter's Grafana dashboards.")
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered_dashboards().items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python grafana/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
