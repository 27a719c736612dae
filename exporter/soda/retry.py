"""The single retry owner for Soda requests: urllib3's Retry, observed and with a capped Retry-After."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from urllib3.connectionpool import ConnectionPool
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

# Statuses that mean "try again later"; every other 4xx is final.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

AttemptObserver = Callable[[str, str], None]
"""Called once per failed attempt that will be retried, with (url path, code or error kind)."""


class ObservedRetry(Retry):
    """A urllib3 Retry that reports each retried attempt and caps how long Retry-After may make it wait."""

    def __init__(
        self,
        *args: Any,
        observer: AttemptObserver | None = None,
        max_retry_after: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.observer = observer
        self.max_retry_after = max_retry_after

    def new(self, **kwargs: Any) -> ObservedRetry:
        """Copy this policy with updated counters, keeping the observer and the cap."""
        kwargs.setdefault("observer", self.observer)
        kwargs.setdefault("max_retry_after", self.max_retry_after)
        return super().new(**kwargs)

    def get_retry_after(self, response: Any) -> float | None:
        """Honour Retry-After (seconds or HTTP date), never beyond ``max_retry_after``."""
        value = super().get_retry_after(response)
        if value is None:
            return None
        return max(0.0, min(float(value), self.max_retry_after))

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> ObservedRetry:
        """Let urllib3 decide whether another attempt is allowed, and report this one if so."""
        # When retries are exhausted this raises, and the caller counts the final outcome itself.
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if self.observer is not None:
            if response is not None:
                code = str(response.status)
            elif error is not None:
                code = "timeout" if "timeout" in type(error).__name__.lower() else "connection_error"
            else:
                code = "error"
            self.observer(url or "", code)
        return retry


def build_retry(
    *,
    attempts: int,
    backoff_factor: float,
    backoff_max: float,
    max_retry_after: float,
    observer: AttemptObserver | None,
) -> ObservedRetry:
    """Build the retry policy: connection errors, timeouts, 429 and 500-504, with jittered backoff."""
    return ObservedRetry(
        total=attempts,
        connect=attempts,
        read=attempts,
        status=attempts,
        other=0,
        redirect=0,
        # Reporting API POSTs are read-only queries, so retrying them is safe.
        allowed_methods=None,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        backoff_jitter=backoff_factor,
        respect_retry_after_header=True,
        raise_on_status=False,
        observer=observer,
        max_retry_after=max_retry_after,
    )
