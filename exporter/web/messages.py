"""What a route handler gets (a complete request) and gives back (a response of ready bytes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

TEXT_PLAIN = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Request:
    """One complete HTTP request: head and whole body (at most the server's body limit)."""

    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # names lower-cased, in arrival order
    body: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        """The value of header ``name`` (case-insensitive); repeated headers are joined with commas."""
        wanted = name.lower()
        values = [value for key, value in self.headers if key == wanted]
        return ", ".join(values) if values else default


@dataclass(frozen=True)
class Response:
    """A complete response; a tuple body is sent part after part without being joined."""

    status: int
    body: bytes | tuple[bytes, ...] = b""
    content_type: str = TEXT_PLAIN
    headers: tuple[tuple[str, str], ...] = field(default=())
    close: bool = False  # end the connection after this response

    @property
    def parts(self) -> tuple[bytes, ...]:
        """The body as a tuple of parts."""
        return self.body if isinstance(self.body, tuple) else (self.body,)

    @property
    def length(self) -> int:
        """The body's length in bytes."""
        return sum(len(part) for part in self.parts)


def text(
    status: int, message: str, headers: tuple[tuple[str, str], ...] = (), close: bool = False
) -> Response:
    """A plain-text response."""
    return Response(status, message.encode(), TEXT_PLAIN, headers, close)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    """One served path: the methods it takes and the function answering it."""

    methods: frozenset[str]
    handler: Handler
