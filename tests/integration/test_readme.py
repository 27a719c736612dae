"""The README documents every flag and every metric the exporter serves, and the two commands."""

from __future__ import annotations

import re

from exporter.config.flags import FLAGS
from exporter.simulator import SimulatorServer
from tests.support.http import scrape
from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text()


def test_the_two_commands_are_there_verbatim() -> None:
    assert "pip install . && soda-incidents-exporter --demo" in README
    assert "pip install '.[test]' && pytest" in README


def test_every_flag_and_its_variable_is_documented() -> None:
    for flag in FLAGS:
        row = next((line for line in README.splitlines() if line.startswith(f"| `{flag.name}` |")), None)
        assert row is not None, f"{flag.name} missing from the configuration table"
        assert f"`{flag.env_name}`" in row
        if flag.default is not None:
            assert f"`{flag.default}`" in row, f"{flag.name}: default {flag.default} not documented"


def test_every_served_metric_family_is_documented(simulator: SimulatorServer, start_exporter) -> None:  # type: ignore[no-untyped-def]
    exporter = start_exporter(simulator)
    assert exporter.state.wait_ready(20)
    typed = re.findall(r"^# TYPE (\S+) ", scrape(exporter.port).text, flags=re.M)
    # Text 0.0.4 gives a gauge histogram's _gcount and _gsum their own TYPE lines.
    families = {re.sub(r"_(gcount|gsum)$", "", name) for name in typed}
    undocumented = {
        name
        for name in families
        if not name.startswith(("process_", "python_"))
        and f"`{name}`" not in README
        and f"`{name}_total`" not in README
    }
    assert not undocumented
