"""The one error map: transport failures and HTTP statuses of both Soda APIs to their exceptions."""

from __future__ import annotations

import pytest
import requests
from urllib3 import exceptions as u3

from exporter.soda import errors, failures
from exporter.soda import incident_models as models

PEER = failures.Peer("soda.test:443", 5.0, 30.0)


def wrapped(cause: BaseException) -> requests.ConnectionError:
    """As requests raises it: its own error around urllib3's MaxRetryError around the last attempt's."""
    return requests.ConnectionError(u3.MaxRetryError(None, "/x", reason=cause))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failure", "code", "line"),
    [
        (
            wrapped(u3.NewConnectionError(None, "Failed to establish a new connection: refused")),  # type: ignore[arg-type]
            "connection_error",
            "cannot connect to soda.test:443: refused",
        ),
        (
            wrapped(u3.ConnectTimeoutError("slow")),
            "timeout",
            "cannot connect to soda.test:443: no answer within 5s",
        ),
        (
            requests.ReadTimeout(u3.ReadTimeoutError(None, "/x", "read timed out")),  # type: ignore[arg-type]
            "timeout",
            "no answer from soda.test:443 within the read timeout (30s)",
        ),
        (
            u3.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer")),
            "connection_error",
            "connection to soda.test:443 broken: [Errno 104] reset by peer",
        ),
        (OSError("no route"), "connection_error", "connection to soda.test:443 failed: no route"),
        (
            u3.DecodeError("odd"),
            "connection_error",
            "connection to soda.test:443 failed: DecodeError: odd",
        ),
    ],
)
def test_transport_failures_get_one_code_and_one_readable_line(
    failure: BaseException, code: str, line: str
) -> None:
    assert failures.describe_transport(failure, PEER) == (code, line)
    assert failures.transport_code(failure) == code


def test_the_transport_code_picks_the_exception() -> None:
    assert type(failures.transport_error("timeout", "m")) is errors.SodaTimeoutError
    assert type(failures.transport_error("connection_error", "m")) is errors.SodaConnectionError
    assert str(failures.transport_error("timeout", "GET /x: slow")) == "GET /x: slow"


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (
            401,
            errors.SodaAuthError,
            "GET /x: HTTP 401, Soda rejected the API key "
            "(check the key id and secret, and the key's permissions)",
        ),
        (403, errors.SodaAuthError, "GET /x: HTTP 403, Soda rejected the API key"),
        (422, errors.SodaValidationError, "GET /x: field 'page': must be >= 0"),
        (429, errors.SodaRateLimitedError, "GET /x: HTTP 429, rate limited after retries"),
        (503, errors.SodaServerError, "GET /x: HTTP 503 after retries"),
        (418, errors.SodaError, "GET /x: HTTP 418"),
    ],
)
def test_reporting_statuses(status: int, error: type[errors.SodaError], message: str) -> None:
    body = {"detail": [{"loc": ["body", "page"], "msg": "must be >= 0"}]}
    raised = failures.REPORTING_STATUSES.error(
        status, where="GET /x", validation=failures.describe_validation_error(body)
    )
    assert type(raised) is error and str(raised).startswith(message)
    with pytest.raises(error):
        failures.REPORTING_STATUSES.check(status, where="GET /x", validation="")


@pytest.mark.parametrize("status", [200, 202, 204, 304])
def test_answers_that_are_no_error_raise_nothing(status: int) -> None:
    assert failures.REPORTING_STATUSES.error(status, where="GET /x", validation="") is None
    failures.REPORTING_STATUSES.check(status, where="GET /x", validation="")


UPDATE = "update of incident i-1: HTTP "
CLOUD_CASES: dict[int, tuple[type[errors.SodaError], str]] = {
    400: (models.IncidentUpdateRejected, UPDATE + "400, Soda rejected the request: bad"),
    401: (errors.SodaAuthError, UPDATE + "401, Soda did not accept the API key (check its id and secret)"),
    403: (models.SodaPermissionError, UPDATE + "403, the API key lacks the 'Manage incident' permission"),
    404: (models.IncidentNotFound, "incident i-1 not found in Soda Cloud (HTTP 404: bad)"),
    429: (errors.SodaRateLimitedError, UPDATE + "429, still rate limited after 5 waits"),
    502: (errors.SodaServerError, UPDATE + "502 after 3 retries: bad"),
    409: (errors.SodaError, UPDATE + "409: bad"),
    101: (errors.SodaError, UPDATE + "101: bad"),
}


@pytest.mark.parametrize(("status", "case"), CLOUD_CASES.items())
def test_cloud_update_statuses(status: int, case: tuple[type[errors.SodaError], str]) -> None:
    error, message = case
    raised = failures.CLOUD_STATUSES.error(status, incident="i-1", detail=": bad", retries=3, waits=5)
    assert type(raised) is error and str(raised) == message
    assert failures.CLOUD_STATUSES.error(200, incident="i-1", detail="", retries=3, waits=5) is None


def test_a_422_without_fastapi_details_still_reads() -> None:
    assert failures.describe_validation_error(None) == "the request was rejected as invalid (HTTP 422)"
    assert (
        failures.describe_validation_error({"detail": [{"loc": ["body"], "msg": "x"}, 3]})
        == "field 'body': x"
    )
