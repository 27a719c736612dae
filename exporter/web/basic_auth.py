"""HTTP Basic authentication against ``basic_auth_users`` bcrypt hashes, with the toolkit's verdict cache."""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import threading
import time
from collections.abc import Callable, Mapping

import bcrypt

# A bcrypt hash (cost 10) of a password nobody has, checked for unknown users so that response times
# do not tell which user names exist; users with a higher cost get a decoy of that cost.
DECOY_HASH = b"$2b$10$34j1paFG3SZl.phnRop1HuF0mY2XC1u6XcbVYrb9EqhWFocpwUuqG"
CACHE_SIZE = 100
# bcrypt passwords end at 72 bytes (Go's bcrypt reads no further either).
BCRYPT_MAX_BYTES = 72
# The requests are served on one event loop, which each uncached bcrypt check blocks (~0.1 s at
# cost 10). Cached credentials never wait; new ones are checked at most this often, so a flood of
# guessed passwords cannot take the loop (and the scrapes) away.
CHECKS_PER_SECOND = 4.0
CHECKS_BURST = 8.0


def parse_basic(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic`` header, or None when it carries none."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class BasicAuth:
    """Checks Basic credentials; returns None when they are good, else the reason they are not."""

    def __init__(self, users: Mapping[str, str], clock: Callable[[], float] = time.monotonic) -> None:
        self.users = {name: hashed.encode() for name, hashed in users.items()}
        self._decoy_cost = max([10, *(int(hashed[4:6]) for hashed in users.values())])
        self._decoy = DECOY_HASH if self._decoy_cost == 10 else b""
        self._clock = clock
        self._lock = threading.Lock()
        # Key: a SHA-256 of user, hash and password, so no password is kept in the clear.
        self._cache: dict[bytes, bool] = {}
        self._tokens = CHECKS_BURST
        self._refilled = clock()

    def check(self, authorization: str | None) -> str | None:
        """None when ``authorization`` names a user with the right password, else the reason it fails.

        The reasons are the label values in ``exporter.exposition.metrics.BASIC_AUTH_FAILURE_REASONS``.
        """
        if not (authorization or "").strip():
            return "missing"
        credentials = parse_basic(authorization)
        if credentials is None:
            return "malformed"
        user, password = credentials
        hashed = self.users.get(user)
        known = hashed is not None
        secret = password.encode()[:BCRYPT_MAX_BYTES]
        with self._lock:
            if hashed is None:
                if not self._decoy:  # made once, when the first unknown user is seen
                    self._decoy = bcrypt.hashpw(b"decoy", bcrypt.gensalt(self._decoy_cost))
                hashed = self._decoy
            key = hashlib.sha256(b"\0".join((user.encode(), hashed, secret))).digest()
            verdict = self._cache.get(key)
            if verdict is None and not self._take_token():
                return "throttled"
        if verdict is None:
            # Outside the lock: the server may run several event loops, and cached checks must not wait.
            verdict = bcrypt.checkpw(secret, hashed)
            with self._lock:
                self._remember(key, verdict)
        if not known:
            return "unknown_user"
        return None if verdict else "wrong_password"

    def _take_token(self) -> bool:
        now = self._clock()
        self._tokens = min(CHECKS_BURST, self._tokens + (now - self._refilled) * CHECKS_PER_SECOND)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _remember(self, key: bytes, verdict: bool) -> None:
        if len(self._cache) >= CACHE_SIZE:
            # Drop a tenth at random, as the toolkit does: cheap, and no order for a client to exploit.
            for victim in random.sample(list(self._cache), max(1, CACHE_SIZE // 10)):
                del self._cache[victim]
        self._cache[key] = verdict
