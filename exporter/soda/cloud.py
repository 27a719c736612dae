"""Client for Soda Cloud API v1 incident updates: Basic auth, the spec's models, rate limit, 429 waits."""

from __future__ import annotations

import base64
import email.utils
import json
import random
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import requests
import structlog

from exporter.incidents.domain import SEVERITIES, STATUSES
from exporter.soda.credentials import Credentials, CredentialsError, CredentialSource
from exporter.soda.errors import (
    SodaAuthError,
    SodaBadResponseError,
    SodaConnectionError,
    SodaError,
    SodaRateLimitedError,
    SodaTimeoutError,
)
from exporter.soda.failures import CLOUD_STATUSES, TIMEOUT, transport_code, transport_error
from exporter.soda.http import RequestObserver, new_session
from exporter.soda.incident_models import (
    IncidentNotFound,
    IncidentUpdate,
    IncidentUpdateRejected,
    NoCloudApiError,
    SodaPermissionError,
    UpdateCancelled,
    UpdatedIncident,
)
from exporter.soda.ratelimit import TokenBucket, bucket_for

__all__ = [
    "SEVERITIES",
    "STATUSES",
    "CloudClient",
    "CredentialsError",
    "IncidentNotFound",
    "IncidentUpdate",
    "IncidentUpdateRejected",
    "NoCloudApiError",
    "SodaAuthError",
    "SodaError",
    "SodaPermissionError",
    "SodaRateLimitedError",
    "UpdateCancelled",
    "UpdatedIncident",
]

log = structlog.get_logger("exporter")

INCIDENTS_PATH = "/api/v1/incidents/"
# One label value for every incident, so the api_requests counter's cardinality stays bounded.
UPDATE_ENDPOINT = "/api/v1/incidents/{incidentId}"
_MESSAGE_LIMIT = 200


def basic_auth_header(creds: Credentials) -> str:
    """``Basic base64(key_id:key_secret)``, as the Cloud API v1 authenticates."""
    token = base64.b64encode(f"{creds.key_id}:{creds.key_secret}".encode()).decode("ascii")
    return f"Basic {token}"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _is_soda_error(response: requests.Response) -> bool:
    """True when the body is the Cloud API's ErrorResponse (JSON with ``code`` or ``message``)."""
    if "json" not in response.headers.get("Content-Type", "").lower():
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and bool({"code", "message"} & set(body))


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _error_message(response: requests.Response) -> str:
    """The ``message`` of an ErrorResponse body, shortened; empty when there is none."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return str(message)[:_MESSAGE_LIMIT] if message else ""


class CloudClient:
    """Updates incidents through the Cloud API v1, within its API key's rate limit.

    Retry ownership: this client has its own requests.Session whose adapter never retries, and
    does not use SodaHttp (whose urllib3 Retry re-sends 429s itself). Every attempt must first take
    a token from the rate-limit bucket, which urllib3's internal retries would bypass, so this class
    is the only retry owner on this path: it waits and retries 429s, and retries 5xx, connection
    errors and timeouts with backoff. Setting fields to values is idempotent, so a repeat of a
    request that may already have been applied is harmless.
    """

    def __init__(
        self,
        base_url: str,
        credentials: CredentialSource,
        *,
        bucket: TokenBucket | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retries: int = 3,
        rate_limit_retries: int = 5,
        max_retry_after: float = 60.0,
        backoff_factor: float = 0.5,
        on_request: RequestObserver | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        # None: the bucket of whichever API key is current at each attempt (see bucket_for).
        self.bucket = bucket
        self.timeouts = (connect_timeout, read_timeout)
        self.retries = retries
        self.rate_limit_retries = rate_limit_retries
        self.max_retry_after = max_retry_after
        self.backoff_factor = backoff_factor
        self._on_request = on_request
        self._stop = threading.Event()
        # Retries are this client's own (see the class docstring), so the adapter makes none.
        self.session = new_session(0, 2, {"Content-Type": "application/json"})

    def close(self) -> None:
        """Cancel waits in progress and close pooled connections."""
        self._stop.set()
        self.session.close()

    def update_incident(self, incident_id: str, update: IncidentUpdate) -> UpdatedIncident:
        """Apply ``update`` to the incident and return it as Soda now shows it."""
        if update.is_empty():
            raise ValueError("an update must set at least one field")
        return self.send_update(incident_id, update.to_json())

    def send_update(self, incident_id: str, body: Mapping[str, Any]) -> UpdatedIncident:
        """POST a raw PublicApiUpdateIncidentDTO body (no local validation) and return the incident."""
        if not incident_id:
            raise ValueError("an incident id is required")
        path = INCIDENTS_PATH + quote(incident_id, safe="")
        payload = json.dumps(dict(body)).encode()
        transient_left, limited_left, limited_streak = self.retries, self.rate_limit_retries, 0
        attempt = 0
        while True:
            attempt += 1
            creds = self.credentials.get()  # re-read each attempt: key files may rotate
            auth = basic_auth_header(creds)
            bucket = self.bucket or bucket_for(creds.key_id)
            ticket = bucket.take(stop=self._stop)
            if ticket is None:
                raise UpdateCancelled(f"update of incident {incident_id} cancelled: client closed")
            response: requests.Response | None = None
            try:
                response = self._post(path, payload, auth, attempt)
            except (SodaConnectionError, SodaTimeoutError):
                if transient_left <= 0:
                    raise
            finally:
                bucket.settle(ticket)
            if response is None:
                transient_left -= 1
                self._pause(self._backoff(self.retries - transient_left), incident_id)
                continue
            status = response.status_code
            if status == 429:
                wait = self._rate_limit_wait(response.headers.get("Retry-After"), limited_streak, bucket)
                limited_streak += 1
                # This key's window is full whoever filled it: every update with this key waits too.
                bucket.hold(wait)
                if limited_left <= 0:
                    self._check(429, incident_id, waits=self.rate_limit_retries)
                limited_left -= 1
                log.warning(
                    "soda rate limited the update; waiting", incident_id=incident_id, wait_seconds=wait
                )
                continue
            if status >= 500 and transient_left > 0:
                transient_left -= 1
                self._pause(self._backoff(self.retries - transient_left), incident_id)
                continue
            return self._result(incident_id, response)

    def _post(self, path: str, payload: bytes, auth: str, attempt: int = 1) -> requests.Response:
        started = time.monotonic()
        fields = {"method": "POST", "endpoint": UPDATE_ENDPOINT, "path": path, "attempt": attempt}
        try:
            response = self.session.post(
                self.base_url + path, data=payload, headers={"Authorization": auth}, timeout=self.timeouts
            )
            response.content  # noqa: B018 - read the body now, so a reset mid-body is a connection error
        except requests.RequestException as exc:
            code = transport_code(exc)
            self._count(code)
            log.debug("soda request", status=code, duration_seconds=_since(started), bytes=0, **fields)
            shown = "timed out" if code == TIMEOUT else type(exc).__name__
            raise transport_error(code, f"POST {UPDATE_ENDPOINT}: {shown}") from None
        self._count(str(response.status_code))
        log.debug(
            "soda request",
            status=str(response.status_code),
            duration_seconds=_since(started),
            bytes=len(response.content),
            **fields,
        )
        return response

    def _count(self, code: str) -> None:
        if self._on_request is not None:
            self._on_request(UPDATE_ENDPOINT, code)

    def _backoff(self, attempt: int) -> float:
        base: float = self.backoff_factor * (2 ** (attempt - 1))
        return base + random.uniform(0, self.backoff_factor)

    def _rate_limit_wait(self, retry_after: str | None, streak: int, bucket: TokenBucket) -> float:
        given = parse_retry_after(retry_after)
        if given is not None:
            return min(given, self.max_retry_after)
        # No Retry-After (Soda does not promise one): one token's worth of the window, doubling on
        # each 429 in a row, never more than a whole window, after which every slot is free again.
        period = bucket.period
        return min(period, period / bucket.capacity * 2.0**streak)

    def _pause(self, seconds: float, incident_id: str) -> None:
        if self._stop.wait(seconds):
            raise UpdateCancelled(f"update of incident {incident_id} cancelled: client closed")

    def _check(self, status: int, incident_id: str, detail: str = "", waits: int = 0) -> None:
        """Raise the error of an update's answer, if it is one (exporter.soda.failures maps them)."""
        CLOUD_STATUSES.check(status, incident=incident_id, detail=detail, retries=self.retries, waits=waits)

    def _result(self, incident_id: str, response: requests.Response) -> UpdatedIncident:
        status = response.status_code
        message = _error_message(response)
        detail = f": {message}" if message else ""
        where = f"update of incident {incident_id}: HTTP {status}"
        if status == 404 and not _is_soda_error(response):
            # An HTML page or another API's JSON: the base URL is wrong, the incident may well exist.
            shown = response.headers.get("Content-Type", "").split(";")[0] or "no content type"
            raise NoCloudApiError(
                f"{where} from {self.base_url}, which does not look like the Soda Cloud API "
                f"(it answered {shown}, not Soda's JSON error); check --soda.cloud-url"
            )
        self._check(status, incident_id, detail=detail)
        try:
            body = response.json()
        except ValueError:
            raise SodaBadResponseError(f"{where} with a body that is not JSON") from None
        return UpdatedIncident.from_json(body, incident_id)
