"""The one map from what went wrong on the wire (a transport error, an HTTP status) to a SodaError."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from exporter.soda.errors import (
    SodaAuthError,
    SodaConnectionError,
    SodaError,
    SodaRateLimitedError,
    SodaServerError,
    SodaTimeoutError,
    SodaValidationError,
)
from exporter.soda.incident_models import (
    IncidentNotFound,
    IncidentUpdateRejected,
    SodaPermissionError,
)

TIMEOUT = "timeout"
CONNECTION_ERROR = "connection_error"


@dataclass(frozen=True)
class Peer:
    """Where a request went, as an error line names it: the host and the two timeouts."""

    host: str
    connect_timeout: float
    read_timeout: float


def root_cause(failure: BaseException) -> BaseException:
    """The error of the last attempt: requests wraps urllib3's MaxRetryError, which wraps that error."""
    cause = failure
    if cause.args and isinstance(cause.args[0], BaseException):
        cause = cause.args[0]
    if isinstance(cause, MaxRetryError) and cause.reason is not None:
        cause = cause.reason
    return cause


def transport_code(failure: BaseException) -> str:
    """``timeout`` or ``connection_error``: the counter code, and the exception, of a failed request."""
    cause = root_cause(failure)
    # urllib3's NewConnectionError is a ConnectTimeoutError subclass, but it is a refused connection.
    if isinstance(cause, NewConnectionError):
        return CONNECTION_ERROR
    if isinstance(cause, (ConnectTimeoutError, ReadTimeoutError, TimeoutError, requests.Timeout)):
        return TIMEOUT
    return CONNECTION_ERROR


def describe_transport(failure: BaseException, peer: Peer) -> tuple[str, str]:
    """(counter code, one readable line) for a request that got no HTTP answer."""
    cause = root_cause(failure)
    host = peer.host
    if isinstance(cause, NewConnectionError):  # also name resolution failures
        os_error = cause.__cause__ or cause.__context__
        shown = str(os_error) if isinstance(os_error, OSError) else str(cause).rpartition(": ")[2]
        text = f"cannot connect to {host}: {shown}"
    elif isinstance(cause, ConnectTimeoutError):
        text = f"cannot connect to {host}: no answer within {peer.connect_timeout:g}s"
    elif isinstance(cause, (ReadTimeoutError, TimeoutError, requests.Timeout)):
        text = f"no answer from {host} within the read timeout ({peer.read_timeout:g}s)"
    elif isinstance(cause, ProtocolError):
        text = f"connection to {host} broken: {cause.args[1] if len(cause.args) > 1 else cause}"
    elif isinstance(cause, OSError):
        text = f"connection to {host} failed: {cause}"
    else:
        text = f"connection to {host} failed: {type(cause).__name__}: {cause}"
    return transport_code(failure), text


def transport_error(code: str, message: str) -> SodaError:
    """The exception for a transport failure of ``describe_transport``'s code."""
    return SodaTimeoutError(message) if code == TIMEOUT else SodaConnectionError(message)


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


@dataclass(frozen=True)
class StatusRule:
    """HTTP statuses that become one exception class, and the message template it carries."""

    statuses: Container[int]
    error: type[SodaError]
    message: str


class StatusMap:
    """One API's statuses to exceptions: the first rule that holds the status wins."""

    def __init__(self, *rules: StatusRule) -> None:
        self._rules = rules

    def error(self, status: int, **fields: object) -> SodaError | None:
        """The exception for ``status``, its message formatted from ``fields``; None if it is no error."""
        for rule in self._rules:
            if status in rule.statuses:
                return rule.error(rule.message.format(status=status, **fields))
        return None

    def check(self, status: int, **fields: object) -> None:
        """Raise the exception for ``status`` (see ``error``); return when the status is no error."""
        error = self.error(status, **fields)
        if error is not None:
            raise error


CLIENT_ERRORS = range(400, 500)
SERVER_ERRORS = range(500, 1000)  # as ">= 500": any status past the 5xx too

# The Reporting API (SodaHttp). Fields: where ("METHOD /path"), validation (the 422 detail as one line).
REPORTING_STATUSES = StatusMap(
    StatusRule(
        (401, 403),
        SodaAuthError,
        "{where}: HTTP {status}, Soda rejected the API key "
        "(check the key id and secret, and the key's permissions)",
    ),
    StatusRule((422,), SodaValidationError, "{where}: {validation}"),
    StatusRule((429,), SodaRateLimitedError, "{where}: HTTP 429, rate limited after retries"),
    StatusRule(SERVER_ERRORS, SodaServerError, "{where}: HTTP {status} after retries"),
    StatusRule(CLIENT_ERRORS, SodaError, "{where}: HTTP {status}"),
)

# The Cloud API v1 incident update (CloudClient). Fields: incident, detail (": message" of Soda's
# ErrorResponse, or empty), retries, waits. A 404 without Soda's error body is NoCloudApiError, which
# the client decides from the body before this map.
_UPDATE = "update of incident {incident}: HTTP {status}"
CLOUD_STATUSES = StatusMap(
    StatusRule((400,), IncidentUpdateRejected, _UPDATE + ", Soda rejected the request{detail}"),
    StatusRule(
        (401,), SodaAuthError, _UPDATE + ", Soda did not accept the API key (check its id and secret)"
    ),
    StatusRule((403,), SodaPermissionError, _UPDATE + ", the API key lacks the 'Manage incident' permission"),
    StatusRule(
        (404,), IncidentNotFound, "incident {incident} not found in Soda Cloud (HTTP {status}{detail})"
    ),
    StatusRule((429,), SodaRateLimitedError, _UPDATE + ", still rate limited after {waits} waits"),
    StatusRule(SERVER_ERRORS, SodaServerError, _UPDATE + " after {retries} retries{detail}"),
    StatusRule(CLIENT_ERRORS, SodaError, _UPDATE + "{detail}"),
    StatusRule(range(100, 200), SodaError, _UPDATE + "{detail}"),
)
