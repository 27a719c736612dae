"""One HTTP session for Soda: timeouts, the retry owner, the User-Agent, and error mapping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import structlog
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from exporter import __version__
from exporter.soda.errors import (
    SodaAuthError,
    SodaBadResponseError,
    SodaConnectionError,
    SodaError,
    SodaRateLimitedError,
    SodaServerError,
    SodaTimeoutError,
    SodaValidationError,
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


def describe_validation_error(body: Any) -> str:
    """Turn FastAPI's 422 ``detail[]`` list into one line naming each offending field."""
    details = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(details, list) or not details:
        return "the request was rejected as invalid (HTTP 422)"
    parts = []
    for item in details:
        if not isinstance(item, dict):
            continue
        loc = item.get("loc") or []
        field = ".".join(str(p) for p in loc if p != "body") or "body"
        parts.append(f"field {field!r}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request was rejected as invalid (HTTP 422)"


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
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        deadline: float | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Send one request (retries included) and return (status, decoded JSON body or None)."""
        status, decode = self.request_later(
            method, path, json_body=json_body, deadline=deadline, extra_headers=extra_headers
        )
        return status, decode()

    def request_later(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        deadline: float | None = None,
        extra_headers: dict[str, str] | None = None,
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
        headers = dict(self._auth_headers())
        if extra_headers:
            headers.update(extra_headers)
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
            error_cls = SodaTimeoutError if kind == "timeout" else SodaConnectionError
            raise error_cls(f"{method} {path}: {text}") from None
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
        host = self._host
        if not isinstance(failure, BaseException):  # a response that was retried (429, 5xx)
            return str(getattr(failure, "status", "error")), f"HTTP {getattr(failure, 'status', '?')}"
        cause: BaseException = failure
        # requests wraps urllib3's MaxRetryError, which wraps the error of the last attempt.
        if cause.args and isinstance(cause.args[0], BaseException):
            cause = cause.args[0]
        if isinstance(cause, MaxRetryError) and cause.reason is not None:
            cause = cause.reason
        if isinstance(cause, NewConnectionError):  # also name resolution failures
            os_error = cause.__cause__ or cause.__context__
            shown = str(os_error) if isinstance(os_error, OSError) else str(cause).rpartition(": ")[2]
            return "connection_error", f"cannot connect to {host}: {shown}"
        if isinstance(cause, ConnectTimeoutError):
            return "timeout", f"cannot connect to {host}: no answer within {self.connect_timeout:g}s"
        if isinstance(cause, (ReadTimeoutError, TimeoutError, requests.Timeout)):
            return "timeout", f"no answer from {host} within the read timeout ({self.read_timeout:g}s)"
        if isinstance(cause, ProtocolError):
            inner = cause.args[1] if len(cause.args) > 1 else cause
            return "connection_error", f"connection to {host} broken: {inner}"
        if isinstance(cause, OSError):
            return "connection_error", f"connection to {host} failed: {cause}"
        return "connection_error", f"connection to {host} failed: {type(cause).__name__}: {cause}"

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
        if status in (401, 403):
            raise SodaAuthError(
                f"{where}: HTTP {status}, Soda rejected the API key "
                "(check the key id and secret, and the key's permissions)"
            )
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
        if status == 422:
            raise SodaValidationError(f"{where}: {describe_validation_error(body)}")
        if status == 429:
            raise SodaRateLimitedError(f"{where}: HTTP 429, rate limited after retries")
        if status >= 500:
            raise SodaServerError(f"{where}: HTTP {status} after retries")
        if status >= 400:
            raise SodaError(f"{where}: HTTP {status}")
        return body
