"""How long each phase of an HTTP connection may take, and how big a request may be."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """The server's bounds (each has a flag; see the README's HTTP endpoints section)."""

    read_header_timeout: float = 10.0  # TLS handshake and request head, from accept or the first byte
    read_timeout: float = 30.0  # a whole request, head and body, from its first byte
    idle_timeout: float = 120.0  # a kept-alive connection waiting for its next request
    write_timeout: float = 30.0  # a response the client takes no byte of
    max_body_bytes: int = 1 << 20
    max_head_bytes: int = 64 * 1024
