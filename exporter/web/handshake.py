"""A connection's TLS handshake and peer check, keeping what arrives before the connection takes over."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import structlog

from exporter.web.door import FrontDoor

log = structlog.get_logger("exporter")


class Handshaking(asyncio.Protocol):
    """Stands in for the connection during its TLS handshake, keeping what arrives before it is done.

    Bytes decrypted right after the handshake reach the application protocol before ``start_tls``
    returns; and after a failed handshake asyncio hands the application the raw bytes that follow.
    The first are replayed to the connection once it takes over; the second are dropped with this.
    """

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.eof = False

    def data_received(self, data: bytes) -> None:
        """Keep the bytes for the connection."""
        self.received.append(data)

    def eof_received(self) -> bool | None:
        """Remember the client's close."""
        self.eof = True
        return None


async def handshake(
    loop: asyncio.AbstractEventLoop, transport: Any, context: ssl.SSLContext, timeout: float
) -> tuple[Any, Handshaking] | None:
    """The TLS transport and what arrived on it so far, or None when the handshake failed (closed)."""
    early = Handshaking()
    try:
        tls = await loop.start_tls(transport, early, context, server_side=True, ssl_handshake_timeout=timeout)
    except (OSError, asyncio.TimeoutError, ConnectionError):  # ssl.SSLError is an OSError
        transport.abort()
        return None
    return (tls, early) if tls is not None else None


async def secure(
    loop: asyncio.AbstractEventLoop, transport: Any, context: ssl.SSLContext, door: FrontDoor, timeout: float
) -> tuple[Any, Handshaking] | None:
    """The handshake, then the door's check of the client certificate; None when either failed (closed)."""
    done = await handshake(loop, transport, context, timeout)
    if done is None:
        return None
    tls = done[0]
    ssl_object = tls.get_extra_info("ssl_object")
    try:
        allowed = door.peer_allowed(ssl_object.getpeercert() if ssl_object else None)
    except Exception:
        log.exception("checking the client certificate failed; connection refused")
        allowed = False
    if not allowed:
        tls.abort()
        return None
    return done
