"""What the HTTP server asks of its security layer, and the open door used when nothing is configured."""

from __future__ import annotations

import ssl
from typing import Any, Protocol


class FrontDoor(Protocol):
    """The server's view of ``--web.config.file``: consulted per connection and per request.

    Every method is called on the server's event loop, so each must be cheap and never block for long.
    """

    def tls_context(self) -> ssl.SSLContext | None:
        """The server-side TLS context for a newly accepted connection, or None to serve plain HTTP."""

    def peer_allowed(self, peer_certificate: dict[str, Any] | None) -> bool:
        """After a TLS handshake: whether the client certificate may in (``client_allowed_sans``)."""

    def authorized(self, authorization: str | None) -> bool:
        """Whether a request carrying this ``Authorization`` header may be served (``basic_auth_users``)."""

    def challenge(self) -> str | None:
        """The ``WWW-Authenticate`` value sent with a 401, or None when no authentication is configured."""

    def headers(self) -> tuple[tuple[str, str], ...]:
        """Headers added to every response (``http_server_config.headers``)."""


class OpenDoor:
    """No TLS, no authentication, no extra headers: the behaviour without ``--web.config.file``."""

    def tls_context(self) -> ssl.SSLContext | None:
        """Plain HTTP."""
        return None

    def peer_allowed(self, peer_certificate: dict[str, Any] | None) -> bool:
        """Every peer is allowed."""
        return True

    def authorized(self, authorization: str | None) -> bool:
        """Every request is allowed."""
        return True

    def challenge(self) -> str | None:
        """No authentication, so no challenge."""
        return None

    def headers(self) -> tuple[tuple[str, str], ...]:
        """No extra headers."""
        return ()
