"""Find the real binaries that end-to-end tests need, or skip (or fail) clearly."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

REQUIRE_E2E_VAR = "SODA_EXPORTER_REQUIRE_E2E"


def e2e_required() -> bool:
    """True when missing binaries must fail the run instead of skipping (CI sets this)."""
    return os.environ.get(REQUIRE_E2E_VAR, "") == "1"


DEFAULT_HINT = "install Debian's prometheus / prometheus-alertmanager packages"


def require_binary(*names: str, hint: str = DEFAULT_HINT) -> str:
    """Return the path of the first of ``names`` on PATH; skip, or fail under CI, when none is."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    reason = f"binary {' or '.join(names)!s} not found on PATH ({hint})"
    if e2e_required():
        pytest.fail(f"{reason}; {REQUIRE_E2E_VAR}=1 forbids skipping", pytrace=False)
    pytest.skip(reason)


def require_test_extra_tool(name: str) -> str:
    """A command from the test extra: beside this interpreter first (an unactivated venv), then PATH."""
    beside = shutil.which(name, path=os.path.dirname(sys.executable))
    return beside or require_binary(name, hint="pip install -e '.[test]'")
