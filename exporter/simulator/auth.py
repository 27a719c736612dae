"""API keys: reading them from request headers, checking them, and per-key sliding-window rate limits."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from exporter.simulator.replies import Headers
from exporter.web.basic_auth import parse_basic

# The key pair a simulator accepts unless it is given another: it guards nothing but a demo.
DEMO_KEY_ID = "demo-key-id"
DEMO_KEY_SECRET = "demo-key-secret"


@dataclass(frozen=True)
class Credentials:
    """An API key pair as presented by a client, and which header scheme carried it."""

    key_id: str
    secret: str
    scheme: str  # "x-api-key", "api-key" (soon deprecated headers) or "basic"


def basic_credentials(headers: Headers) -> Credentials | None:
    """The ``Authorization: Basic base64(id:secret)`` pair, if any."""
    pair = parse_basic(headers.get("authorization"))
    return Credentials(pair[0], pair[1], "basic") if pair else None


def reporting_credentials(headers: Headers) -> Credentials | None:
    """The pair from any scheme the Reporting API accepts, the recommended headers first."""
    for id_header, secret_header, scheme in (
        ("x-api-key-id", "x-api-key-secret", "x-api-key"),
        ("api_key_id", "api_key_secret", "api-key"),
    ):
        key_id, secret = headers.get(id_header), headers.get(secret_header)
        if key_id is not None and secret is not None:
            return Credentials(key_id, secret, scheme)
    return basic_credentials(headers)


class KeyStore:
    """The API keys the simulated organisation knows, and those lacking permission to act."""

    def __init__(self, keys: Mapping[str, str], forbidden_key_ids: set[str] | None = None) -> None:
        self._keys = dict(keys)
        self.forbidden_key_ids = set(forbidden_key_ids or ())

    def authenticates(self, credentials: Credentials | None) -> bool:
        """True when the pair is a known key with the right secret."""
        return credentials is not None and self._keys.get(credentials.key_id) == credentials.secret

    def is_forbidden(self, credentials: Credentials) -> bool:
        """True when the key authenticates but has no permission for data or updates."""
        return credentials.key_id in self.forbidden_key_ids


class SlidingWindowLimiter:
    """At most ``limit`` requests per key within any ``window`` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def acquire(self, key: str) -> int | None:
        """Count one request; None when allowed, else the whole seconds until a slot frees up."""
        with self._lock:
            now = self._clock()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) < self.limit:
                hits.append(now)
                return None
            return max(1, math.ceil(hits[0] + self.window - now))

    def reset(self) -> None:
        """Forget every counted request."""
        with self._lock:
            self._hits.clear()
