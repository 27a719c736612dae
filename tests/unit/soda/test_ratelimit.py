"""The token bucket that keeps incident updates within Soda's 10 per 60 seconds, on a fake clock."""

from __future__ import annotations

import threading
import time

import pytest

from exporter.soda.ratelimit import TokenBucket, bucket_for


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_returns_each_token_a_period_after_its_request_finished() -> None:
    clock = FakeClock()
    bucket = TokenBucket(3, 60.0, clock=clock)
    tickets = [bucket.try_take() for _ in range(3)]
    assert all(not isinstance(t, float) for t in tickets)
    assert bucket.try_take() == 60.0  # every token in flight: at least a whole period
    clock.now += 5
    for ticket in tickets:
        assert not isinstance(ticket, float)
        bucket.settle(ticket)
    assert bucket.available() == 0
    clock.now += 59.9
    assert bucket.try_take() == pytest.approx(0.1)
    clock.now += 0.1
    assert bucket.available() == 3


def test_token_bucket_never_allows_more_than_capacity_in_any_window() -> None:
    # A bucket refilling continuously would allow 19 of 10-per-60s in one window; this one allows 10.
    clock = FakeClock()
    bucket = TokenBucket(10, 60.0, clock=clock)
    sent: list[float] = []
    while clock.now < 1000 + 300:
        ticket = bucket.try_take()
        if isinstance(ticket, float):
            clock.now += min(ticket, 1.0)
            continue
        sent.append(clock.now)
        bucket.settle(ticket)
    assert max(sum(1 for t in sent if start <= t < start + 60) for start in sent) == 10


def test_token_bucket_hold_and_reset() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, 60.0, clock=clock)
    bucket.hold(30)
    assert bucket.try_take() == 30.0 and bucket.available() == 0
    clock.now += 30
    assert bucket.available() == 10
    bucket.hold(30)
    bucket.reset()
    assert bucket.available() == 10


def test_token_bucket_is_thread_safe_and_take_honours_stop() -> None:
    bucket = TokenBucket(5, 60.0)
    got: list[object] = []
    lock = threading.Lock()

    def grab() -> None:
        ticket = bucket.try_take()
        if not isinstance(ticket, float):
            with lock:
                got.append(ticket)

    threads = [threading.Thread(target=grab) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 5
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    assert bucket.take(stop=stop) is None
    assert time.monotonic() - started < 1.0
    assert bucket.take(timeout=0.1) is None


def test_one_bucket_per_api_key_shared_by_whoever_uses_that_key() -> None:
    bucket = bucket_for("key-of-north")
    assert bucket is bucket_for("key-of-north")
    assert bucket is not bucket_for("key-of-south")
    assert (bucket.capacity, bucket.period) == (10, 60.0)
    bucket.hold(60)  # a 429 on one key
    assert bucket_for("key-of-north").available() == 0
    assert bucket_for("key-of-south").available() == 10
    bucket.reset()
