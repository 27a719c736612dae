"""Response heads written without h11: the status line, header checks, and the keep-alive rule."""

from __future__ import annotations

import h11
import pytest

from exporter.web.messages import Response
from exporter.web.wire import (
    BadHeader,
    KnownHeads,
    head_of,
    header_lines,
    keep_alive,
    request_of,
    response_head,
    status_line,
)


def request(version: bytes = b"1.1", *headers: tuple[bytes, bytes]) -> h11.Request:
    """A parsed GET with ``headers`` (Host added)."""
    return h11.Request(method="GET", target="/", headers=[(b"host", b"x"), *headers], http_version=version)


def test_status_lines_carry_the_reason_or_none() -> None:
    assert status_line(200) == b"HTTP/1.1 200 OK\r\n"
    assert status_line(431) == b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    assert status_line(599) == b"HTTP/1.1 599 \r\n"
    with pytest.raises(BadHeader):
        status_line(42)


def test_header_lines_keep_names_as_given_and_inner_spaces() -> None:
    lines = header_lines((("Vary", "Accept, Accept-Encoding"), ("x-empty", "")))
    assert lines == b"Vary: Accept, Accept-Encoding\r\nx-empty: \r\n"
    assert h11.Response(status_code=200, headers=[("Vary", "Accept, Accept-Encoding")]).headers  # h11 agrees


@pytest.mark.parametrize(
    "header",
    [
        ("X-Injected", "a\r\nSet-Cookie: b"),
        ("X-Lf", "a\nb"),
        ("X-Nul", "a\x00b"),
        ("X-Edge", " padded"),
        ("Bad Name", "v"),
        ("X-Unicode", "café"),
        ("", "v"),
    ],
)
def test_header_lines_refuse_what_h11_would_refuse(header: tuple[str, str]) -> None:
    with pytest.raises(BadHeader):
        header_lines((header,))
    with pytest.raises((h11.LocalProtocolError, UnicodeEncodeError)):
        h11.Response(status_code=200, headers=[header])


def keeps_alive(event: h11.Request) -> bool:
    """keep_alive of a request h11 parsed."""
    return keep_alive(event.http_version, tuple(event.headers))


def test_keep_alive_follows_the_version_and_the_connection_header() -> None:
    assert keeps_alive(request())
    assert keeps_alive(request(b"1.1", (b"connection", b"keep-alive")))
    assert not keeps_alive(request(b"1.1", (b"connection", b"Keep-Alive, Close")))
    assert not keeps_alive(request(b"1.1", (b"connection", b"close")))
    assert not keeps_alive(request(b"1.0"))
    assert not keeps_alive(request(b"1.0", (b"connection", b"keep-alive")))  # as h11: no 1.0 keep-alive


def test_a_response_head_has_framing_then_the_handlers_then_the_doors_headers() -> None:
    response = Response(200, (b"ab", b"cde"), "text/plain", (("Vary", "Accept"),))
    head = response_head(response, b"date: D\r\n", (("X-Frame-Options", "deny"),), close=True)
    assert head == (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\ndate: D\r\n"
        b"Vary: Accept\r\nX-Frame-Options: deny\r\nConnection: close\r\n\r\n"
    )
    assert b"Connection" not in response_head(response, b"", (), close=False)
    with pytest.raises(BadHeader):
        response_head(response, b"", (("X-Bad", "a\nb"),), close=False)


def test_a_request_head_becomes_the_handlers_request() -> None:
    head = h11.Request(method="GET", target="/metrics?x=1", headers=[("Host", "x"), ("Accept", "t/p")])
    request = request_of(head_of(head), b"body")
    assert (request.method, request.path, request.query, request.body) == ("GET", "/metrics", "x=1", b"body")
    assert request.headers == (("host", "x"), ("accept", "t/p")) and request.header("ACCEPT") == "t/p"


def test_a_head_is_read_once_with_its_framing_and_keep_alive() -> None:
    plain = head_of(request(b"1.1", (b"content-length", b"0")))
    assert plain.headers == ((b"host", b"x"), (b"content-length", b"0"))
    assert not plain.has_body and plain.keep_alive
    assert head_of(request(b"1.1", (b"content-length", b"3"))).has_body
    assert head_of(request(b"1.1", (b"transfer-encoding", b"chunked"))).has_body
    assert not head_of(request(b"1.0")).keep_alive


def test_known_heads_are_bounded_in_number_and_size() -> None:
    known, head = KnownHeads(), head_of(request())
    known.add(b"x" * 5000, head)
    assert known.get(b"x" * 5000) is None, "too long to keep"
    for n in range(64):
        known.add(b"GET /%d" % n, head)
    assert known.get(b"GET /0") is head
    known.add(b"GET /64", head)  # the 65th: the set starts again
    assert known.get(b"GET /0") is None and known.get(b"GET /64") is head
    known.add(b"GET /secret", head_of(request(b"1.1", (b"authorization", b"Basic dTpw"))))
    assert known.get(b"GET /secret") is None, "credentials are not kept"
