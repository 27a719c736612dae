"""Listening sockets: ``host:port`` addresses, a dual-stack default, and the open-files limit."""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Sequence

# Go's net package listens with the kernel's own maximum; 1,000 clients connecting at once must not
# overflow a short queue into SYN retries of a second or more.
BACKLOG = 4096


class ListenError(OSError):
    """A listen address that cannot be bound; the message names the address and the OS error."""

    def __init__(self, address: str, cause: OSError) -> None:
        super().__init__(cause.errno, f"cannot listen on {address}: {cause.strerror or cause}")
        self.address = address
        self.cause = cause

    def __str__(self) -> str:
        return str(self.args[1])


def format_address(host: str, port: int) -> str:
    """``host:port`` as the flag takes it: ``[::1]:9877`` for IPv6, ``:9877`` for every interface."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _dual_stack(port: int) -> socket.socket:
    """One IPv6 socket that also takes IPv4 (IPV6_V6ONLY off), or an IPv4 one where the host has no IPv6."""
    if socket.has_ipv6:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", port))
            return sock
        except OSError as exc:
            sock.close()
            if exc.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT):
                raise
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
    except OSError:
        sock.close()
        raise
    return sock


def _one_host(host: str, port: int) -> socket.socket:
    """A socket bound to the first address ``host`` resolves to, IPv4 first (as Go does for a name)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, where = min(found, key=lambda info: info[0] != socket.AF_INET)
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(where)
    except OSError:
        sock.close()
        raise
    return sock


def bind(host: str, port: int) -> socket.socket:
    """A listening, non-blocking socket for ``host:port``; ``""``/``::``: IPv6 and IPv4, everywhere."""
    try:
        sock = _dual_stack(port) if host in ("", "::") else _one_host(host, port)
        sock.listen(BACKLOG)
    except OSError as exc:
        raise ListenError(format_address(host, port), exc) from None
    sock.setblocking(False)
    return sock


def bind_all(addresses: Sequence[tuple[str, int]]) -> list[socket.socket]:
    """Bind every address, or none: on a failure the ones already bound are closed again."""
    bound: list[socket.socket] = []
    try:
        for host, port in addresses:
            bound.append(bind(host, port))
    except ListenError:
        for sock in bound:
            sock.close()
        raise
    return bound


def raise_open_files_limit() -> tuple[int, int] | None:
    """Raise the soft RLIMIT_NOFILE to the hard limit, as Go programs do; the (soft, hard) now in force."""
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)
