"""HTTP/1.1 messages to and from the wire: a response head as bytes, a parsed request head as a Request.

Response heads are validated as h11 would, and cached where pure.

h11 is kept for reading requests; writing a response through it cost about a third of the server's
time per request on gzipped /metrics (its events, state machine and header normalisation, every time,
for headers that rarely change). A handler's and the door's headers are the same tuples scrape after
scrape, so each distinct tuple is checked and encoded once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from http import HTTPStatus

import h11

from exporter.web.messages import Request, Response

# RFC 9110's token for names; a value is visible characters with inner spaces or tabs (no CR, LF, NUL).
_NAME = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff](?:[ \t]*[\x21-\x7e\x80-\xff])*)?")
_STATUS_LINES = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode()) for status in HTTPStatus
}
_CLOSE_LINE = b"Connection: close\r\n"

Headers = tuple[tuple[str, str], ...]
# Scrapers send the same request, byte for byte, every time: a chunk that was exactly one whole request
# without a body is parsed once per loop. At most this many heads are kept, each at most this long.
KNOWN_HEADS = 64
KNOWN_HEAD_BYTES = 4096


class BadHeader(ValueError):
    """A header a response must not carry (a name that is no token, a value with CR, LF or NUL)."""


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <code> <reason>`` and its line end (an empty reason for a code without a name)."""
    line = _STATUS_LINES.get(status)
    if line is None:
        if not 100 <= status <= 999:
            raise BadHeader(f"status code {status} out of range")
        line = b"HTTP/1.1 %d \r\n" % status
    return line


@lru_cache(maxsize=256)
def header_lines(headers: Headers) -> bytes:
    """``name: value`` lines for ``headers``, names as given; raises BadHeader for one h11 would refuse."""
    lines = []
    for name, value in headers:
        try:
            raw_name, raw_value = name.encode("ascii"), value.encode("ascii")
        except UnicodeEncodeError as exc:
            raise BadHeader(f"header {name!r} is not ASCII") from exc
        if not _NAME.fullmatch(raw_name) or not _VALUE.fullmatch(raw_value):
            raise BadHeader(f"header {name!r} has a malformed name or value")
        lines.append(b"%s: %s\r\n" % (raw_name, raw_value))
    return b"".join(lines)


def keep_alive(http_version: bytes, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether the client lets the connection serve another request (HTTP/1.1, no ``Connection: close``).

    ``headers`` as h11 gives them: names lower-cased.
    """
    if http_version < b"1.1":
        return False
    for name, value in headers:
        if name == b"connection" and b"close" in (token.strip().lower() for token in value.split(b",")):
            return False
    return True


@dataclass(frozen=True)
class Head:
    """A parsed request head as the server reads it again and again: h11's fields, and two answers."""

    method: bytes
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...]  # names lower-cased, as h11 gives them
    keep_alive: bool
    has_body: bool  # a non-zero Content-Length, or any Transfer-Encoding


def head_of(event: h11.Request) -> Head:
    """The head h11 parsed, with its headers copied out once (h11's own are slow to walk) and read there."""
    headers = tuple(event.headers)
    body = any(
        name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0")
        for name, value in headers
    )
    return Head(event.method, event.target, headers, keep_alive(event.http_version, headers), body)


def response_head(response: Response, date_line: bytes, extra: Headers, *, close: bool) -> bytes:
    """The status line and headers of ``response`` (with ``extra`` after its own), ready to send."""
    # No Server header, as Go's servers send none: it tells a scanner more than a client needs.
    return b"".join(
        (
            status_line(int(response.status)),
            header_lines((("content-type", response.content_type),)),
            b"content-length: %d\r\n" % response.length,
            date_line,
            header_lines(response.headers),
            header_lines(extra),
            _CLOSE_LINE if close else b"",
            b"\r\n",
        )
    )


def request_of(head: Head, body: bytes) -> Request:
    """The handler's view of a parsed request head and its body (text decoded as Latin-1, as h11 reads)."""
    path, _, query = head.target.decode("latin-1").partition("?")
    headers = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in head.headers)
    return Request(head.method.decode("latin-1"), path, query, headers, body)


class KnownHeads:
    """Request heads parsed before, by the exact bytes they arrived in (one set per event loop)."""

    def __init__(self) -> None:
        self._heads: dict[bytes, Head] = {}

    def get(self, data: bytes) -> Head | None:
        """The head h11 parsed from exactly ``data`` (a whole request without a body), if seen before."""
        return self._heads.get(data)

    def add(self, data: bytes, head: Head) -> None:
        """Remember that ``data`` was exactly ``head`` and its end (a full set starts again: no LRU cost).

        Heads carrying credentials are not kept: a password stays in memory no longer than its request.
        """
        if len(data) > KNOWN_HEAD_BYTES or any(name == b"authorization" for name, _ in head.headers):
            return
        if len(self._heads) >= KNOWN_HEADS:
            self._heads.clear()
        self._heads[data] = head
