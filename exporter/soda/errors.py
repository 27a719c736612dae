"""Errors raised by the Soda clients, each with a bounded ``reason`` usable as a metric label."""

from __future__ import annotations


class SodaError(Exception):
    """Base class: a request to Soda Cloud did not give usable data."""

    reason = "client_error"


class SodaAuthError(SodaError):
    """401 or 403: the API key is wrong, revoked or lacks a permission."""

    reason = "auth"


class SodaValidationError(SodaError):
    """422: the request broke the API schema; the message names the offending field."""

    reason = "client_error"


class SodaServerError(SodaError):
    """5xx after retries were exhausted."""

    reason = "server_error"


class SodaRateLimitedError(SodaError):
    """429 after retries were exhausted."""

    reason = "rate_limited"


class SodaConnectionError(SodaError):
    """The connection failed or was reset."""

    reason = "connection"


class SodaTimeoutError(SodaError):
    """A request, or the whole cycle, ran out of time."""

    reason = "timeout"


class SodaBadResponseError(SodaError):
    """The answer was not the JSON document the spec promises."""

    reason = "bad_response"


class CredentialsError(SodaError):
    """The API key is missing or its file unreadable; the message names the file, never a secret."""

    reason = "credentials"


class PaginationDriftError(SodaError):
    """The result set changed while it was being paged through, too many times in a row."""

    reason = "pagination_drift"


FAILURE_REASONS = (
    "auth",
    "timeout",
    "connection",
    "server_error",
    "rate_limited",
    "bad_response",
    "pagination_drift",
    "client_error",
    "credentials",
    "internal",
)
