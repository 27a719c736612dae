"""Writing the backfill's OpenMetrics text to a file (atomically) or stdout, counting what was written."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import TextIO


def write_counted(chunks: Iterator[str], output: str) -> tuple[int, int]:
    """Write the text to ``output`` (atomically for a file); return (series, samples)."""
    series = samples = 0

    def counted(handle: TextIO) -> None:
        nonlocal series, samples
        for chunk in chunks:
            if not chunk.startswith("#"):
                series += 1
                samples += chunk.count("\n")
            handle.write(chunk)

    if output == "-":
        counted(sys.stdout)
        sys.stdout.flush()
        return series, samples
    directory = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(prefix=".backfill-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            counted(handle)
        os.chmod(tmp, 0o644)  # mkstemp gives 0600; promtool may run as another user
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return series, samples


def check_writable(output: str) -> None:
    """Raise OSError unless a file can be written where ``output`` goes, before any data is fetched."""
    if output == "-":
        return
    if os.path.isdir(output):
        raise IsADirectoryError(21, "is a directory", output)
    directory = os.path.dirname(os.path.abspath(output))
    # Create and remove a file where write_counted will create its temporary one: the same test, for real.
    fd, probe = tempfile.mkstemp(prefix=".backfill-", dir=directory)
    os.close(fd)
    os.unlink(probe)


def plural(count: int, one: str, many: str) -> str:
    """``1 report date`` or ``3 report dates``."""
    return f"{count} {one if count == 1 else many}"
