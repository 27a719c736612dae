"""A secret kept in a mounted file, re-read when the file is rotated (the one reloader of the exporter)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


class SecretFileError(ValueError):
    """The file cannot be read, is empty, or holds a value its owner refuses; never the secret itself."""


def file_stamp(path: str) -> tuple[int, int, int] | None:
    """What changes when the file is rewritten or swapped; None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    # Kubernetes swaps secret volumes through a symlink, so compare the inode as well as mtime and size.
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def read_secret_file(path: str, what: str) -> str:
    """The file's content without surrounding whitespace; SecretFileError when unreadable or empty."""
    try:
        with open(path, encoding="utf-8") as handle:
            value = handle.read().strip()
    except OSError as exc:
        raise SecretFileError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
    if not value:
        raise SecretFileError(f"{what} file {path} is empty")
    return value


class SecretFile:
    """One secret file: the value is re-read only when the file's stamp changes.

    A value is kept only once it was read and passed ``check`` (which raises SecretFileError to
    refuse it); a failed read is tried again on the next call, so a half-written rotation heals.
    """

    def __init__(self, path: str, what: str, check: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._what = what
        self._check = check
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._value: str | None = None

    def current(self) -> str:
        """The file's value, re-read when the file changed; SecretFileError when it cannot be used."""
        with self._lock:
            stamp = file_stamp(self.path)
            if self._value is not None and stamp is not None and stamp == self._stamp:
                return self._value
            value = read_secret_file(self.path, self._what)
            if self._check is not None:
                self._check(value)
            self._value, self._stamp = value, stamp
            return value

    def last_good(self) -> str | None:
        """The value last read successfully, None before the first; a rotation that failed keeps it."""
        try:
            return self.current()
        except SecretFileError:
            with self._lock:
                return self._value

    def __repr__(self) -> str:
        return f"SecretFile({self.path!r}, '***')"
