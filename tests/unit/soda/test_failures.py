"""The one error map: transport failures and HTTP statuses of both Soda APIs to their exceptions."""

from __future__ import annotations

import pytest
import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
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
from exporter.soda.failures import (
    CLOUD_STATUSES,
    REPORTING_STATUSES,
    Peer,
    describe_transport,
    describe_validation_error,
    transport_code,
    transport_error,
)
from exporter.soda.incident_models import IncidentNotFound, IncidentUpdateRejected, SodaPermissionError

PEER = Peer("soda.test:443", 5.0, 30.0)


def wrapped(cause: BaseException) -> requests.ConnectionError:
    """As requests raises it: its own error around urllib3's MaxRetryError around the last attempt's."""
    return requests.ConnectionError(MaxRetryError(None, "/x", reason=cause))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failure", "code", "line"),
    [
        (
            wrapped(NewConnectionError(None, "Failed to establish a new connection: refused")),  # type: ignore[arg-type]
            "connection_error",
            "cannot connect to soda.test:443: refused",
        ),
        (
            wrapped(ConnectTimeoutError("slow")),
            "timeout",
            "cannot connect to soda.test:443: no answer within 5s",
        ),
        (
            requests.ReadTimeout(ReadTimeoutError(None, "/x", "read timed out")),  # type: ignore[arg-type]
            "timeout",
            "no answer from soda.test:443 within the read timeout (30s)",
        ),
        (
            ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer")),
            "connection_error",
            "connection to soda.test:443 broken: [Errno 104] reset by peer",
        ),
        (OSError("no route"), "connection_error", "connection to soda.test:443 failed: no route"),
        (
            DecodeError("odd"),
            "connection_error",
            "connection to soda.test:443 failed: DecodeError: odd",
        ),
    ],
)
def test_transport_failures_get_one_code_and_one_readable_line(
    failure: BaseException, code: str, line: str
) -> None:
    assert describe_transport(failure, PEER) == (code, line)
    assert transport_code(failure) == code


def test_the_transport_code_picks_the_exception() -> None:
    assert type(transport_error("timeout", "m")) is SodaTimeoutError
    assert type(transport_error("connection_error", "m")) is SodaConnectionError
    assert str(transport_error("timeout", "GET /x: slow")) == "GET /x: slow"


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (
            401,
            SodaAuthError,
            "GET /x: HTTP 401, Soda rejected the API key "
            "(check the key id and secret, and the key's permissions)",
        ),
        (403, SodaAuthError, "GET /x: HTTP 403, Soda rejected the API key"),
        (422, SodaValidationError, "GET /x: field 'page': must be >= 0"),
        (429, SodaRateLimitedError, "GET /x: HTTP 429, rate limited after retries"),
        (503, SodaServerError, "GET /x: HTTP 503 after retries"),
        (418, SodaError, "GET /x: HTTP 418"),
    ],
)
def test_reporting_statuses(status: int, error: type[SodaError], message: str) -> None:
    body = {"detail": [{"loc": ["body", "page"], "msg": "must be >= 0"}]}
    raised = REPORTING_STATUSES.error(status, where="GET /x", validation=describe_validation_error(body))
    assert type(raised) is error and str(raised).startswith(message)
    with pytest.raises(error):
        REPORTING_STATUSES.check(status, where="GET /x", validation="")


@pytest.mark.parametrize("status", [200, 202, 204, 304])
def test_answers_that_are_no_error_raise_nothing(status: int) -> None:
    assert REPORTING_STATUSES.error(status, where="GET /x", validation="") is None
    REPORTING_STATUSES.check(status, where="GET /x", validation="")


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (400, IncidentUpdateRejected, "update of incident i-1: HTTP 400, Soda rejected the request: bad"),
        (
            401,
            SodaAuthError,
            "update of incident i-1: HTTP 401, Soda did not accept the API key (check its id and secret)",
        ),
        (
            403,
            SodaPermissionError,
            "update of incident i-1: HTTP 403, the API key lacks the 'Manage incident' permission",
        ),
        (404, IncidentNotFound, "incident i-1 not found in Soda Cloud (HTTP 404: bad)"),
        (429, SodaRateLimitedError, "update of incident i-1: HTTP 429, still rate limited after 5 waits"),
        (502, SodaServerError, "update of incident i-1: HTTP 502 after 3 retries: bad"),
        (409, SodaError, "update of incident i-1: HTTP 409: bad"),
        (101, SodaError, "update of incident i-1: HTTP 101: bad"),
    ],
)
def test_cloud_update_statuses(status: int, error: type[SodaError], message: str) -> None:
    raised = CLOUD_STATUSES.error(status, incident="i-1", detail=": bad", retries=3, waits=5)
    assert type(raised) is error and str(raised) == message
    assert CLOUD_STATUSES.error(200, incident="i-1", detail="", retries=3, waits=5) is None


def test_a_422_without_fastapi_details_still_reads() -> None:
    assert describe_validation_error(None) == "the request was rejected as invalid (HTTP 422)"
    assert describe_validation_error({"detail": [{"loc": ["body"], "msg": "x"}, 3]}) == "field 'body': x"
