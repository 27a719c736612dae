"""The FrontDoor of a ``--web.config.file``: TLS, client SANs, basic auth and headers, reloaded on change."""

from __future__ import annotations

import ipaddress
import os
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bcrypt
import structlog

from exporter.web.basic_auth import BCRYPT_MAX_BYTES, BasicAuth
from exporter.web.tls import build_context
from exporter.web.webconfig import WebConfig, WebConfigError, load_web_config

log = structlog.get_logger("exporter")

# The files are stat()ed at most this often, from the calls the server makes anyway.
CHECK_INTERVAL_SECONDS = 1.0
CHALLENGE = 'Basic realm="soda-incidents-exporter", charset="UTF-8"'
# subjectAltName kinds as Python's getpeercert() names them; Go's toolkit matches the same four.
SAN_KINDS = ("DNS", "email", "URI", "IP Address")

Stamp = tuple[tuple[str, tuple[int, int, int] | None], ...]


def file_stamps(paths: tuple[str, ...]) -> Stamp:
    """Identity of each file's current content: a rotated or symlink-swapped file changes it."""
    stamps: list[tuple[str, tuple[int, int, int] | None]] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            stamps.append((path, None))
            continue
        stamps.append((path, (st.st_ino, st.st_mtime_ns, st.st_size)))
    return tuple(stamps)


@dataclass(frozen=True)
class Loaded:
    """One good configuration and what was built from it."""

    config: WebConfig
    context: ssl.SSLContext | None
    auth: BasicAuth | None
    stamp: Stamp


def load(path: str, previous: Loaded | None = None) -> Loaded:
    """Read the file and build its TLS context; WebConfigError when the file or a file it names is bad."""
    before = file_stamps((path,))  # taken first: a change while reading makes the next check reload
    config = load_web_config(path)
    stamp = before + file_stamps(config.files[1:])
    context = build_context(config.tls) if config.tls is not None else None
    auth = None
    if config.users:
        # Unchanged users keep their verdict cache, so a rotated certificate costs no bcrypt.
        same = previous is not None and previous.auth is not None and previous.config.users == config.users
        auth = previous.auth if same and previous is not None else BasicAuth(config.users)
    return Loaded(config, context, auth, stamp)


def _normal_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def certificate_sans(peer_certificate: dict[str, Any] | None) -> set[str]:
    """The DNS, e-mail, URI and IP subject alternative names of a verified peer certificate."""
    sans = set()
    for kind, value in (peer_certificate or {}).get("subjectAltName", ()):
        if kind == "IP Address":
            value = _normal_ip(value) or value  # OpenSSL writes IPv6 uncompressed, Go compressed
        if kind in SAN_KINDS:
            sans.add(str(value))
    return sans


class WebConfigDoor:
    """A FrontDoor reading ``path``; a changed file (or certificate, key, CA file) applies without restart.

    A broken new version is logged once and the last good one stays in force. ``on_failure(reason)`` is
    called for each refused request or client certificate, ``on_reload(ok)`` after each reload attempt.
    """

    def __init__(
        self,
        path: str,
        *,
        on_failure: Callable[[str], None] | None = None,
        on_reload: Callable[[bool], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        check_interval: float = CHECK_INTERVAL_SECONDS,
    ) -> None:
        self.path = path
        self._on_failure = on_failure or (lambda _reason: None)
        self._on_reload = on_reload or (lambda _ok: None)
        self._clock = clock
        self._interval = check_interval
        self._lock = threading.Lock()
        self._loaded = load(path)  # WebConfigError at start: the caller exits 2 with it
        self._checked = clock()
        self._failed: Stamp | None = None
        self._on_reload(True)
        tls = self._loaded.config.tls
        log.info(
            "web config loaded",
            path=path,
            tls=tls is not None,
            client_auth_type=tls.client_auth_type if tls else None,
            min_version=tls.min_version if tls else None,
            basic_auth_users=len(self._loaded.config.users),
        )

    def users_with_password(self, password: str) -> list[str]:
        """The ``basic_auth_users`` whose hash is of ``password`` (one bcrypt per user: for start-up)."""
        auth = self._loaded.auth
        if auth is None:
            return []
        secret = password.encode()[:BCRYPT_MAX_BYTES]
        return [name for name, hashed in auth.users.items() if bcrypt.checkpw(secret, hashed)]

    @property
    def config(self) -> WebConfig:
        """The configuration in force."""
        return self._refresh().config

    def _refresh(self) -> Loaded:
        now = self._clock()
        with self._lock:
            loaded = self._loaded
            if now - self._checked < self._interval:
                return loaded
            self._checked = now
            stamp = file_stamps(tuple(path for path, _ in loaded.stamp))
            if stamp == loaded.stamp or stamp == self._failed:
                return loaded
            try:
                fresh = load(self.path, loaded)
                if loaded.context is not None and fresh.context is None:
                    raise WebConfigError("tls_server_config: TLS cannot be turned off without a restart")
            except WebConfigError as exc:
                self._failed = stamp  # one error line per broken version, not one a second
                log.error(
                    "web config reload failed; keeping the last good one", path=self.path, error=str(exc)
                )
                self._on_reload(False)
                return loaded
            self._loaded, self._failed = fresh, None
        log.info(
            "web config reloaded",
            path=self.path,
            tls=fresh.context is not None,
            users=len(fresh.config.users),
        )
        self._on_reload(True)
        return fresh

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context for a new connection, from the configuration in force (None: plain HTTP)."""
        return self._refresh().context

    def peer_allowed(self, peer_certificate: dict[str, Any] | None) -> bool:
        """Whether the verified client certificate has one of ``client_allowed_sans`` (always, if none)."""
        tls = self._loaded.config.tls
        if tls is None or not tls.client_allowed_sans:
            return True
        allowed = {_normal_ip(san) or san for san in tls.client_allowed_sans}
        if certificate_sans(peer_certificate) & allowed:
            return True
        self._on_failure("client_certificate")
        return False

    def authorized(self, authorization: str | None) -> bool:
        """Whether the request's ``Authorization`` header satisfies ``basic_auth_users`` (always, if none)."""
        auth = self._refresh().auth
        if auth is None:
            return True
        reason = auth.check(authorization)
        if reason is None:
            return True
        self._on_failure(reason)
        return False

    def challenge(self) -> str | None:
        """The Basic challenge when users are configured."""
        return CHALLENGE if self._loaded.auth is not None else None

    def headers(self) -> tuple[tuple[str, str], ...]:
        """``http_server_config.headers`` of the configuration in force."""
        return self._loaded.config.headers
