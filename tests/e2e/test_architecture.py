"""The import contracts hold, and docs/architecture.md states the same layers and contracts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from tests.support.paths import ROOT

DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"][
    "contracts"
]


def documented_layers() -> list[str]:
    """The numbered layer list of the doc, each line as import-linter writes it (``a | b``)."""
    section = DOC.split("## Layers", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"^\d+\. (.+)$", section, flags=re.M)
    return [" | ".join(re.findall(r"`([\w.]+)`", line)) for line in lines]


def test_the_doc_lists_the_layers_of_the_contract_in_order() -> None:
    (layers,) = [c["layers"] for c in CONTRACTS if c["type"] == "layers"]
    assert documented_layers() == layers


def test_the_doc_names_every_contract_and_what_it_forbids() -> None:
    for contract in CONTRACTS:
        assert f"**{contract['name']}**" in DOC, contract["name"]
        for module in contract.get("forbidden_modules", []):
            assert f"`{module.rsplit('.', 1)[-1]}`" in DOC or f"`{module}`" in DOC, module


def test_the_import_contracts_hold() -> None:
    program = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports"
    )
    if program is None:
        pytest.fail("lint-imports is missing: install the test extra (pip install -e '.[test]')")
    result = subprocess.run([program, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
