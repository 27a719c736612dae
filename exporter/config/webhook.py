"""Settings of the Alertmanager webhook receiver, and its bearer token (from the environment or a file)."""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.config.actions import BUILTIN_ACTIONS, load_actions
from exporter.soda.cloud import IncidentUpdate
from exporter.web.basic_auth import parse_basic

TOKEN_ENV = "SODA_EXPORTER_WEBHOOK_TOKEN"
# Anyone holding the token can change incidents in Soda, so a guessable one is refused at start-up.
MIN_TOKEN_LENGTH = 16


class WebhookToken:
    """The bearer token; a file-backed token is re-read when the file changes (secret rotation)."""

    def __init__(self, value: str | None = None, path: str | None = None) -> None:
        self._value = value
        self._path = path
        self._lock = threading.Lock()
        self._stamp: object = None
        if path:
            self._value = self._read(path)
            self._stamp = self._file_stamp(path)
        if not self._value:
            raise ValueError(f"the webhook token is empty: set ${TOKEN_ENV} or --webhook.token-file")
        if len(self._value) < MIN_TOKEN_LENGTH:
            raise ValueError(f"the webhook token must be at least {MIN_TOKEN_LENGTH} characters long")

    @staticmethod
    def _file_stamp(path: str) -> object:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    @staticmethod
    def _read(path: str) -> str:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            raise ValueError(f"cannot read webhook token file {path}: {exc.strerror or exc}") from None

    def get(self) -> str:
        """The current token; a rotated file that cannot be read (yet) keeps the previous token."""
        with self._lock:
            if self._path:
                stamp = self._file_stamp(self._path)
                if stamp is not None and stamp != self._stamp:
                    try:
                        fresh = self._read(self._path)
                    except ValueError:
                        fresh = ""
                    if len(fresh) >= MIN_TOKEN_LENGTH:
                        self._value, self._stamp = fresh, stamp
            return self._value or ""

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
