"""The Prometheus rules generator in deploy/prometheus/, imported as a module."""

from __future__ import annotations

from types import ModuleType

from tests.support.paths import ROOT
from tests.support.scripts import load_script

RULES_DIR = ROOT / "deploy" / "prometheus"


def load_rules_generator() -> ModuleType:
    """Import deploy/prometheus/generate.py, which is a script rather than a package module."""
    return load_script(RULES_DIR / "generate.py", "soda_prometheus_rules_generate")
