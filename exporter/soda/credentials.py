"""API key credentials: from environment values or mounted files, re-read when the files rotate."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.secretfile import SecretFile, SecretFileError
from exporter.soda.errors import CredentialsError

__all__ = ["CredentialSource", "Credentials", "CredentialsError"]


@dataclass(frozen=True)
class Credentials:
    """An API key id and secret pair."""

    key_id: str
    key_secret: str

    def __repr__(self) -> str:
        # Keep the secret out of any accidental repr() in logs or tracebacks.
        return f"Credentials(key_id={self.key_id!r}, key_secret='***')"


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
        self._key_id_file = SecretFile(key_id_file, "API key id") if key_id_file else None
        self._key_secret_file = SecretFile(key_secret_file, "API key secret") if key_secret_file else None

    @staticmethod
    def _value(file: SecretFile | None, value: str | None) -> str | None:
        if file is None:
            return value
        try:
            return file.current()
        except SecretFileError as exc:
            raise CredentialsError(str(exc)) from None

    def get(self) -> Credentials:
        """Return the current credentials, re-reading files whose content may have changed."""
        key_id = self._value(self._key_id_file, self._key_id)
        key_secret = self._value(self._key_secret_file, self._key_secret)
        if not key_id:
            raise CredentialsError("no API key id: set SODA_API_KEY_ID or --soda.api-key-id-file")
        if not key_secret:
            raise CredentialsError("no API key secret: set SODA_API_KEY_SECRET or --soda.api-key-secret-file")
        return Credentials(key_id, key_secret)

    def secrets(self) -> list[str | None]:
        """The current key id and secret, for the log redaction (``exporter.logs.add_secret_source``)."""
        creds = self.get()
        return [creds.key_id, creds.key_secret]
