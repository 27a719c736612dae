"""The tests' own layout holds: every test in a layer, shared helpers only in tests/support/ or fixtures."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import TESTS

LAYERS = ("unit", "integration", "e2e")


def test_every_test_module_sits_in_a_layer() -> None:
    stray = sorted(p.relative_to(TESTS).as_posix() for p in TESTS.glob("test_*.py"))
    misplaced = sorted(
        p.relative_to(TESTS).as_posix()
        for p in TESTS.rglob("test_*.py")
        if p.relative_to(TESTS).parts[0] not in LAYERS
    )
    assert stray == [] and misplaced == [], "move them to tests/unit, tests/integration or tests/e2e"


def imported_test_modules(path: Path) -> list[str]:
    """The test modules and conftest files that ``path`` imports from."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found += [
            n
            for n in names
            if n.startswith("tests.") and n.rsplit(".", 1)[-1].startswith(("test_", "conftest"))
        ]
    return found


def test_no_test_module_imports_another_or_a_conftest() -> None:
    offenders = {
        path.relative_to(TESTS).as_posix(): imported
        for path in sorted(TESTS.rglob("*.py"))
        if (imported := imported_test_modules(path))
    }
    assert offenders == {}, "shared helpers belong in tests/support/, fixtures in a conftest.py"


def test_the_import_check_sees_a_helper_taken_from_a_test_module(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import tests.conftest\nfrom tests.unit.test_x import helper\nfrom tests.support import rows\n"
    )
    assert imported_test_modules(module) == ["tests.conftest", "tests.unit.test_x"]
