"""A connection's response on its way out: handed to the transport a chunk at a time, as the client takes it.

A slow reader holds at most a couple of chunks of memory and nobody else's time; one that takes no
byte for the write bound is dropped (the loop's sweep calls ``timed_out``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

# Bytes handed to the transport at once, and its buffer's high and low water marks: per connection,
# at most about two chunks wait in user space, however slowly the client reads.
CHUNK_BYTES = 256 * 1024
HIGH_WATER = CHUNK_BYTES
LOW_WATER = CHUNK_BYTES // 4
# The status line, headers and small bodies go out in one write.
COALESCE_BYTES = 64 * 1024


class Outbox:
    """The bytes of the response being sent, and the transport's flow control over them."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, write_timeout: float, sent: Callable[[], None]
    ) -> None:
        self.loop = loop
        self.write_timeout = write_timeout
        self.sent = sent  # called once the whole response went to the transport
        self.transport: Any = None
        self.deadline = 0.0  # on the loop's clock, while the transport's buffer stays full (0: none)
        self.busy = False  # a response is being sent
        self._pending: deque[memoryview] = deque()
        self._paused = False
        self._stalled_at = 0
        self._closed = False

    def attach(self, transport: Any) -> None:
        """Write to ``transport`` from now on (after a TLS handshake, its TLS transport)."""
        self.transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)

    def send(self, head: bytes, parts: Sequence[bytes]) -> None:
        """Queue a head and its body parts, and hand the transport what it takes now."""
        self.busy = True
        first: list[bytes | memoryview] = [head]
        size = len(head)
        index = 0
        while index < len(parts) and size + len(parts[index]) <= COALESCE_BYTES:
            first.append(parts[index])
            size += len(parts[index])
            index += 1
        rest = [memoryview(part) for part in parts[index:]]
        if rest:
            # The odd end of the first large part rides with the head, the rest in whole chunks: one
            # write fewer (a 290 kB body goes in two, not three) for a copy of under 64 kB.
            odd = len(rest[0]) % CHUNK_BYTES
            if odd and size + odd <= COALESCE_BYTES:
                first.append(rest[0][:odd])
                rest[0] = rest[0][odd:]
        self._pending.append(memoryview(b"".join(first) if len(first) > 1 else head))
        self._pending.extend(rest)
        self.pump()

    def pump(self) -> None:
        """Hand queued bytes to the transport while it wants more; report when all went."""
        pending = self._pending
        while pending and not self._paused and not self._closed:
            view = pending[0]
            if len(view) > CHUNK_BYTES:
                pending[0] = view[CHUNK_BYTES:]
                view = view[:CHUNK_BYTES]
            else:
                pending.popleft()
            self.transport.write(view)
        if not pending and self.busy and not self._closed:
            self.busy = False
            self.sent()

    def pause(self) -> None:
        """The transport's buffer is full: stop handing it bytes, and watch for a client that stalls."""
        self._paused = True
        self._stalled_at = self.transport.get_write_buffer_size()
        self.deadline = self.loop.time() + self.write_timeout

    def resume(self) -> None:
        """The client took enough: go on."""
        self._paused = False
        self.deadline = 0.0
        self.pump()

    def stalled(self) -> bool:
        """At the write bound: True when the client took no byte since the last check (drop it)."""
        self.deadline = 0.0
        if self._closed or not self._paused:
            return False
        left = self.transport.get_write_buffer_size()
        if left < self._stalled_at:  # it reads, slowly: give it another bound
            self._stalled_at = left
            self.deadline = self.loop.time() + self.write_timeout
            return False
        return True

    def clear(self) -> None:
        """Drop what is queued and write nothing more (the connection is gone)."""
        self._closed = True
        self._pending.clear()
        self.deadline = 0.0
