"""One HTTP session for Soda: timeouts, the retry owner, the User-Agent, and error mapping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import structlog
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError
from urllib3.util.retry import Retry

from exporter import __version__
from exporter.soda.errors import SodaBadResponseError, SodaTimeoutError
from exporter.soda.failures import (
    REPORTING_STATUSES,
    Peer,
    describe_transport,
    describe_validation_error,
    transport_error,
)
from exporter.soda.records import load_records, loads
from exporter.soda.retry import (
    DeadlineReached,
    DeadlineTimeout,
    build_retry,
    deadline_of_request,
    last_failure,
)


def _loads(content: bytes, records: tuple[str, ...] | None = None) -> Any:
    """The decoded body; with ``records``, a page's rows as records of those fields when it is a page."""
    if records is not None:
        page = load_records(content, records)
        if page is not None:
            return page
    return loads(content)


USER_AGENT = f"soda-incidents-exporter/{__version__}"

log = structlog.get_logger("exporter.soda")

RequestObserver = Callable[[str, str], None]
"""Called once per HTTP attempt with (endpoint, code), for the api_requests_total counter."""


def endpoint_of(url: str, base_path: str) -> str:
    """Return the API path of ``url`` relative to the base URL's path, e.g. ``/impact/incidents``."""
    path = urlsplit(url).path or url
    if base_path and path.startswith(base_path):
        path = path[len(base_path) :]
    return path or "/"


def new_session(
    max_retries: Retry | int, pool_size: int, headers: dict[str, str] | None = None
) -> requests.Session:
    """A requests.Session with one retry policy and pool size for both schemes, and our User-Agent."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=max_retries, pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})})
    return session


class SodaHttp:
    """A requests.Session bound to one base URL, with connect/read timeouts and one retry policy."""

    def __init__(
        self,
        base_url: str,
        *,
        auth_headers: Callable[[], dict[str, str]],
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retries: int = 3,
        backoff_factor: float = 0.5,
        backoff_max: float = 20.0,
        max_retry_after: float = 30.0,
        on_request: RequestObserver | None = None,
        pool_size: int = 8,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._host = urlsplit(self.base_url).netloc.rpartition("@")[2] or self.base_url
        self._base_path = urlsplit(self.base_url).path.rstrip("/")
        self._auth_headers = auth_headers
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._on_request = on_request
        retry = build_retry(
            attempts=retries,
            backoff_factor=backoff_factor,
            backoff_max=backoff_max,
            max_retry_after=max_retry_after,
            observer=self._observe_retry,
        )
        self.session = new_session(retry, pool_size)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def _observe_retry(self, url: str, code: str) -> None:
        endpoint = endpoint_of(url, self._base_path)
        log.debug("soda request will be retried", endpoint=endpoint, status=code)
        if self._on_request is not None:
            self._on_request(endpoint, code)

    def _count(self, endpoint: str, code: str) -> None:
        if self._on_request is not None:
            self._on_request(endpoint, code)

    def request(
        self, method: str, path: str, *, json_body: Any = None, deadline: float | None = None
    ) -> tuple[int, Any]:
        """Send one request (retries included) and return (status, decoded JSON body or None)."""
        status, decode = self.request_later(method, path, json_body=json_body, deadline=deadline)
        return status, decode()

    def request_later(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        deadline: float | None = None,
        records: tuple[str, ...] | None = None,
    ) -> tuple[int, Callable[[], Any]]:
        """As ``request``, but the body is decoded (and an error status raised) when the callable is.

        Page threads use it to hand the consumer ~1 MB of bytes instead of ~20,000 decoded objects:
        only the page being folded is ever decoded, whatever the concurrency. With ``records`` a page
        of rows is decoded as a ``RecordPage`` of those fields (see ``exporter.soda.records``).
        """
        read_timeout = self.read_timeout
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SodaTimeoutError(f"poll timeout reached before {method} {path}")
            read_timeout = min(read_timeout, remaining)
        headers = self._auth_headers()
        url = self.base_url + path
        page = json_body.get("page") if isinstance(json_body, dict) else None
        started = time.monotonic()
        connect_timeout = min(self.connect_timeout, read_timeout)
        # With a deadline every attempt's timeouts are cut to the time left, and the retry sleeps too.
        timeout: Any = (
            (connect_timeout, read_timeout)
            if deadline is None
            else DeadlineTimeout(connect_timeout, self.read_timeout, deadline)
        )
        try:
            with deadline_of_request(deadline):
                response = self.session.request(
                    method, url, json=json_body, headers=headers, timeout=timeout, stream=True
                )
                # One read of the whole body: Response.content reads ~1 MB pages in 10 KB chunks, which
                # cost twice the CPU. Reading to the end hands the connection back to the pool.
                content = response.raw.read(decode_content=True)
        except DeadlineReached:
            # Each retried attempt was counted already; no further attempt was made.
            failure = last_failure()
            cause = f" (last attempt: {self._describe(failure)[1]})" if failure is not None else ""
            self._debug(method, path, page, "deadline", None, started, 0)
            raise SodaTimeoutError(f"{method} {path}: poll timeout reached{cause}") from None
        except (requests.RequestException, HTTPError, OSError) as exc:  # urllib3's own: reading the body
            kind, text = self._describe(exc)
            self._count(path, kind)
            self._debug(method, path, page, kind, None, started, 0)
            raise transport_error(kind, f"{method} {path}: {text}") from None
        status = response.status_code
        self._count(path, str(status))
        self._debug(method, path, page, str(status), response, started, len(content))
        content_type = response.headers.get("Content-Type", "")
        return status, lambda: self._decode(method, path, status, content_type, content, records)

    @staticmethod
    def _debug(
        method: str,
        endpoint: str,
        page: Any,
        status: str,
        response: requests.Response | None,
        started: float,
        size: int,
    ) -> None:
        """One debug line per request, retries included; never headers, so never a credential."""
        retries = getattr(getattr(response, "raw", None), "retries", None)
        history = getattr(retries, "history", ()) or ()
        log.debug(
            "soda request",
            method=method,
            endpoint=endpoint,
            page=page,
            status=status,
            attempt=len(history) + 1,
            duration_seconds=round(time.monotonic() - started, 3),
            bytes=size,
        )

    def _describe(self, failure: Any) -> tuple[str, str]:
        """(counter code, one readable line) for a failed attempt: the host, and the OS error if any."""
        if not isinstance(failure, BaseException):  # a response that was retried (429, 5xx)
            return str(getattr(failure, "status", "error")), f"HTTP {getattr(failure, 'status', '?')}"
        return describe_transport(failure, Peer(self._host, self.connect_timeout, self.read_timeout))

    def _decode(
        self,
        method: str,
        path: str,
        status: int,
        content_type: str,
        content: bytes,
        records: tuple[str, ...] | None = None,
    ) -> Any:
        where = f"{method} {path}"
        body: Any = None
        if content:
            is_json = "json" in content_type.lower()
            try:
                body = _loads(content, records if 200 <= status < 300 else None) if is_json else None
            except ValueError:
                if 200 <= status < 300:
                    raise SodaBadResponseError(f"{where}: HTTP {status} with malformed JSON") from None
            if not is_json and 200 <= status < 300:
                shown = content_type.split(";")[0] or "no content type"
                raise SodaBadResponseError(f"{where}: HTTP {status} answered {shown}, not JSON")
        if status >= 400:
            REPORTING_STATUSES.check(status, where=where, validation=describe_validation_error(body))
        return body
