"""Request reading: one request per cycle, and a whole request seen before is not parsed again."""

from __future__ import annotations

import h11

from exporter.web.parser import RequestParser
from exporter.web.wire import Head, KnownHeads

GET = b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"


def events(parser: RequestParser) -> list[object]:
    """Every event the parser has ready."""
    found: list[object] = []
    while (event := parser.next_event()) is not None:
        found.append(event)
    return found


def test_a_whole_request_is_remembered_and_the_same_bytes_skip_h11() -> None:
    known = KnownHeads()
    parser = RequestParser(65536, known)
    parser.feed(GET)
    first = events(parser)
    assert isinstance(first[0], Head) and isinstance(first[1], h11.EndOfMessage) and parser.complete
    assert known.get(GET) == first[0]
    assert not parser.next_cycle()
    parser.feed(GET)
    assert parser._h11 is None, "a known request makes no h11 connection"
    again = events(parser)
    assert again[0] is first[0] and isinstance(again[1], h11.EndOfMessage) and parser.complete


def test_parts_of_a_request_pipelines_and_bodies_are_not_remembered() -> None:
    known = KnownHeads()
    parser = RequestParser(65536, known)
    parser.feed(GET[:20])
    assert events(parser) == []
    parser.feed(GET[20:])
    assert len(events(parser)) == 2 and known.get(GET[20:]) is None and known.get(GET[:20]) is None
    assert not parser.next_cycle()
    parser.feed(GET + GET)  # two requests in one chunk
    assert len(events(parser)) == 2 and known.get(GET + GET) is None
    assert parser.next_cycle(), "the second request is already here"
    assert len(events(parser)) == 2
    parser.next_cycle()
    post = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"
    parser.feed(post)
    assert [type(e).__name__ for e in events(parser)] == ["Head", "Data", "EndOfMessage"]
    assert known.get(post) is None


def test_one_request_per_cycle_and_the_next_waits_for_next_cycle() -> None:
    parser = RequestParser(65536, KnownHeads())
    parser.feed(GET + b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(events(parser)) == 2
    assert parser.next_event() is None  # not before next_cycle
    assert parser.next_cycle()
    head = events(parser)[0]
    assert isinstance(head, Head) and head.target == b"/other"
