"""Settings of the Alertmanager webhook receiver, and its bearer token (from the environment or a file)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.config.actions import BUILTIN_ACTIONS, load_actions
from exporter.secretfile import SecretFile, SecretFileError
from exporter.soda.cloud import IncidentUpdate
from exporter.web.basic_auth import parse_basic

TOKEN_ENV = "SODA_EXPORTER_WEBHOOK_TOKEN"
# Anyone holding the token can change incidents in Soda, so a guessable one is refused at start-up.
MIN_TOKEN_LENGTH = 16


def _check_length(token: str) -> None:
    if len(token) < MIN_TOKEN_LENGTH:
        raise SecretFileError(f"the webhook token must be at least {MIN_TOKEN_LENGTH} characters long")


class WebhookToken:
    """The bearer token; a file-backed token is re-read when the file changes (secret rotation)."""

    def __init__(self, value: str | None = None, path: str | None = None) -> None:
        self._value = value or ""
        self._file = SecretFile(path, "webhook token", _check_length) if path else None
        if self._file is not None:
            self._value = self._file.current()  # SecretFileError is a ValueError: the flag parser reports it
        if not self._value:
            raise ValueError(f"the webhook token is empty: set ${TOKEN_ENV} or --webhook.token-file")
        _check_length(self._value)

    def get(self) -> str:
        """The current token; a rotated file that cannot be read (yet) keeps the previous token."""
        if self._file is None:
            return self._value
        return self._file.last_good() or self._value

    def matches(self, authorization: str | None) -> bool:
        """True when ``Authorization`` carries this token (constant-time compare).

        As a bearer token, or as the password of Basic credentials: Alertmanager sends one or the other,
        and behind ``basic_auth_users`` only Basic gets through the front door.
        """
        scheme, _, presented = (authorization or "").strip().partition(" ")
        if scheme.lower() == "basic":
            credentials = parse_basic(authorization)
            presented = credentials[1] if credentials is not None else ""
        elif scheme.lower() != "bearer":
            return False
        if not presented.strip():
            return False
        return hmac.compare_digest(presented.strip().encode(), self.get().encode())

    def __repr__(self) -> str:
        return "WebhookToken('***')"


@dataclass(frozen=True)
class WebhookSettings:
    """Whether the webhook is served, how it authenticates, and its safety switches."""

    enabled: bool = False
    token: WebhookToken | None = None
    dry_run: bool = False
    actions: Mapping[str, IncidentUpdate] = field(default_factory=lambda: dict(BUILTIN_ACTIONS))
    queue_size: int = 100


def webhook_settings(values: Mapping[str, Any], environ: Mapping[str, str]) -> WebhookSettings:
    """Build the settings from resolved flag values; ValueError names what is wrong."""
    if not values.get("webhook_enable"):
        return WebhookSettings()
    token_file = values.get("webhook_token_file")
    env_token = environ.get(TOKEN_ENV, "").strip()
    if not token_file and not env_token:
        raise ValueError(f"--webhook.enable needs a bearer token: set ${TOKEN_ENV} or --webhook.token-file")
    token = WebhookToken(path=token_file) if token_file else WebhookToken(value=env_token)
    return WebhookSettings(
        enabled=True,
        token=token,
        dry_run=bool(values.get("webhook_dry_run")),
        actions=load_actions(values.get("webhook_actions_file")),
        queue_size=int(values.get("webhook_queue_size") or 100),
    )
