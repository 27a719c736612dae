"""How a response is cut into writes: never more than a chunk at once, as few writes as that allows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from exporter.web.outbox import CHUNK_BYTES, COALESCE_BYTES, Outbox


class Transport:
    """Records writes; its buffer is 'full' while ``full`` is set."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.buffered = 0

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return self.buffered


@pytest.fixture
def outbox() -> tuple[Outbox, Transport, list[int]]:
    """An Outbox on a fresh loop, its transport, and a list that grows by one per finished response."""
    done: list[int] = []
    box = Outbox(asyncio.new_event_loop(), 30.0, lambda: done.append(1))
    transport = Transport()
    box.attach(transport)
    return box, transport, done


def test_a_gzip_sized_body_goes_in_two_writes_its_odd_end_with_the_head(
    outbox: tuple[Outbox, Transport, list[int]],
) -> None:
    box, transport, done = outbox
    head, live, snapshot = b"H" * 200, b"L" * 3000, bytes(range(256)) * 1140  # 291,840 bytes
    box.send(head, (live, snapshot))
    assert b"".join(transport.writes) == head + live + snapshot and done == [1]
    assert [len(w) for w in transport.writes] == [200 + 3000 + len(snapshot) - CHUNK_BYTES, CHUNK_BYTES]


def test_a_large_body_goes_a_chunk_at_a_time_and_small_parts_with_the_head(
    outbox: tuple[Outbox, Transport, list[int]],
) -> None:
    box, transport, _ = outbox
    big = b"b" * (3 * CHUNK_BYTES + COALESCE_BYTES + 1)  # its odd end is too big to ride with the head
    box.send(b"head", (b"small", big))
    assert b"".join(transport.writes) == b"headsmall" + big
    assert [len(w) for w in transport.writes] == [9, *([CHUNK_BYTES] * 3), COALESCE_BYTES + 1]
    assert max(len(w) for w in transport.writes) <= CHUNK_BYTES


def test_writing_stops_while_the_transport_is_full_and_goes_on_after(
    outbox: tuple[Outbox, Transport, list[int]],
) -> None:
    box, transport, done = outbox
    box.pause()
    box.send(b"head", (b"x" * (2 * CHUNK_BYTES),))
    assert transport.writes == [] and box.busy and box.deadline > 0
    box.resume()
    assert len(b"".join(transport.writes)) == 4 + 2 * CHUNK_BYTES and done == [1] and box.deadline == 0


def test_a_stalled_client_is_reported_and_a_slow_one_gets_more_time(
    outbox: tuple[Outbox, Transport, list[int]],
) -> None:
    box, transport, _ = outbox
    transport.buffered = 1000
    box.pause()
    transport.buffered = 900  # it took a hundred bytes
    assert not box.stalled() and box.deadline > 0
    assert box.stalled()  # nothing since
