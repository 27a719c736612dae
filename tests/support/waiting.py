"""Waiting for a condition by polling it, instead of sleeping for a guessed time."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
import requests

T = TypeVar("T")


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, interval: float = 0.05) -> None:
    """Poll ``predicate`` until true or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, on_fail: Callable[[], str]) -> T:
    """Call ``probe`` until it returns something truthy; fail with ``on_fail()`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(requests.RequestException, OSError, ValueError, KeyError):
            result = probe()
            if result:
                return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{on_fail()}")
        time.sleep(0.25)
