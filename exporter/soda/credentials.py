"""API key credentials: from environment values or mounted files, re-read when the files rotate."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass


class CredentialsError(Exception):
    """Credentials are missing or unreadable; the message never contains a secret."""


@dataclass(frozen=True)
class Credentials:
    """An API key id and secret pair."""

    key_id: str
    key_secret: str

    def __repr__(self) -> str:
        # Keep the secret out of any accidental repr() in logs or tracebacks.
        return f"Credentials(key_id={self.key_id!r}, key_secret='***')"


def _read_secret_file(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            value = handle.read().strip()
    except OSError as exc:
        raise CredentialsError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
    if not value:
        raise CredentialsError(f"{what} file {path} is empty")
    return value


class CredentialSource:
    """Hands out current credentials; file-backed values are reloaded when a file changes."""

    def __init__(
        self,
        *,
        key_id: str | None = None,
        key_secret: str | None = None,
        key_id_file: str | None = None,
        key_secret_file: str | None = None,
    ) -> None:
        self._key_id = key_id
        self._key_secret = key_secret
        self._key_id_file = key_id_file
        self._key_secret_file = key_secret_file
        self._lock = threading.Lock()
        self._stamp: tuple[object, object] | None = None
        self._cached: Credentials | None = None

    def _file_stamp(self, path: str | None) -> object:
        if not path:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return ("missing", path)
        # Kubernetes swaps secret volumes through a symlink, so compare inode as well as mtime.
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def get(self) -> Credentials:
        """Return the current credentials, re-reading files whose content may have changed."""
        with self._lock:
            stamp = (self._file_stamp(self._key_id_file), self._file_stamp(self._key_secret_file))
            if self._cached is not None and stamp == self._stamp:
                return self._cached
            key_id = _read_secret_file(self._key_id_file, "API key id") if self._key_id_file else self._key_id
            key_secret = (
                _read_secret_file(self._key_secret_file, "API key secret")
                if self._key_secret_file
                else self._key_secret
            )
            if not key_id:
                raise CredentialsError("no API key id: set SODA_API_KEY_ID or --soda.api-key-id-file")
            if not key_secret:
                raise CredentialsError(
                    "no API key secret: set SODA_API_KEY_SECRET or --soda.api-key-secret-file"
                )
            self._cached = Credentials(key_id, key_secret)
            self._stamp = stamp
            return self._cached
