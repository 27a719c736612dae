"""Factory fixtures: start as many servers as a test asks for, and stop every one of them at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def stopping(stop: Callable[[T], object]) -> Iterator[Callable[[T], T]]:
    """Yield ``keep``, which hands back what it is given; on leaving, ``stop`` each kept thing in turn."""
    kept: list[T] = []

    def keep(thing: T) -> T:
        kept.append(thing)
        return thing

    try:
        yield keep
    finally:
        for thing in kept:
            stop(thing)
