"""The Cloud API v1 (``/api/v1``): credential check and incident updates, with Basic auth and rate limits."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exporter.incidents.domain import SEVERITIES, STATUSES
from exporter.simulator.auth import Credentials, KeyStore, SlidingWindowLimiter, basic_credentials
from exporter.simulator.model import Incident
from exporter.simulator.organization import Organization
from exporter.simulator.replies import Reply, Request, cloud_error

PREFIX = "/api/"
TEST_LOGIN_PATH = "/api/v1/test-login"
INCIDENTS_PREFIX = "/api/v1/incidents/"
# API field name -> Organisation.apply_update keyword.
_TEXT_FIELDS = {"title": "title", "description": "description", "resolutionNotes": "resolution_notes"}
_ENUM_FIELDS = {"severity": SEVERITIES, "status": STATUSES}


@dataclass(frozen=True)
class UpdateRecord:
    """An accepted incident update: the fields as sent, and the simulated instant it took effect."""

    incident_id: str
    fields: dict[str, str]
    at: datetime
    key_id: str


class _BadRequest(Exception):
    pass


def _update_fields(raw: bytes) -> dict[str, str]:
    """The recognised fields of a ``PublicApiUpdateIncidentDTO`` body; _BadRequest when it is not one."""
    if not raw.strip():
        raise _BadRequest("Required request body is missing")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _BadRequest(f"Malformed JSON request body: {exc}") from exc
    if not isinstance(body, dict):
        raise _BadRequest("Request body must be a JSON object")
    fields: dict[str, str] = {}
    for name in (*_TEXT_FIELDS, *_ENUM_FIELDS):
        value = body.get(name)
        if value is None:  # absent or null: the field is left unchanged
            continue
        if not isinstance(value, str):
            raise _BadRequest(f"Field '{name}' must be a string")
        allowed = _ENUM_FIELDS.get(name)
        if allowed is not None and value not in allowed:
            raise _BadRequest(
                f"Cannot deserialize value of '{name}' from String \"{value}\": "
                f"not one of the values accepted: [{', '.join(allowed)}]"
            )
        fields[name] = value
    return fields


class CloudApi:
    """Handles every request whose path starts with ``/api/``."""

    def __init__(
        self,
        organization: Organization,
        keys: KeyStore,
        base_url: Callable[[], str],
        *,
        update_limiter: SlidingWindowLimiter,
        login_limiter: SlidingWindowLimiter,
        retry_after_header: bool = True,
    ) -> None:
        self.organization = organization
        self.keys = keys
        self.update_limiter = update_limiter
        self.login_limiter = login_limiter
        self.retry_after_header = retry_after_header
        self.updates: list[UpdateRecord] = []
        self._base_url = base_url
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Reply:
        """Route, authenticate, rate-limit and answer."""
        if request.path == TEST_LOGIN_PATH:
            return self._only(request, "GET") or self._test_login(request)
        if request.path.startswith(INCIDENTS_PREFIX):
            incident_id = request.path[len(INCIDENTS_PREFIX) :]
            if incident_id and "/" not in incident_id:
                return self._only(request, "POST") or self._update(request, incident_id)
        return cloud_error(404, "not_found", f"No endpoint {request.method} {request.path}")

    @staticmethod
    def _only(request: Request, method: str) -> Reply | None:
        if request.method == method:
            return None
        reply = cloud_error(405, "method_not_allowed", f"Method {request.method} is not supported here")
        reply.headers["Allow"] = method
        return reply

    def _authenticate(self, request: Request) -> Credentials | Reply:
        credentials = basic_credentials(request.headers)
        if credentials is None or not self.keys.authenticates(credentials):
            reply = cloud_error(401, "unauthorized", "Missing or invalid API key credentials")
            reply.headers["WWW-Authenticate"] = 'Basic realm="Soda Cloud"'
            return reply
        return credentials

    def _limit(self, limiter: SlidingWindowLimiter, credentials: Credentials) -> Reply | None:
        wait = limiter.acquire(credentials.key_id)
        if wait is None:
            return None
        reply = cloud_error(
            429,
            "too_many_requests",
            f"Rate limit of {limiter.limit} requests per {limiter.window:g} seconds exceeded",
        )
        if self.retry_after_header:
            reply.headers["Retry-After"] = str(wait)
        return reply

    def _test_login(self, request: Request) -> Reply:
        credentials = self._authenticate(request)
        if isinstance(credentials, Reply):
            return credentials
        limited = self._limit(self.login_limiter, credentials)
        if limited is not None:
            return limited
        return Reply(200, {"organisationName": self.organization.organization_name})

    def _update(self, request: Request, incident_id: str) -> Reply:
        credentials = self._authenticate(request)
        if isinstance(credentials, Reply):
            return credentials
        # Every authenticated call counts against the limit, as at an API gateway, even if it then fails.
        limited = self._limit(self.update_limiter, credentials)
        if limited is not None:
            return limited
        if self.keys.is_forbidden(credentials):
            return cloud_error(403, "forbidden", "The 'Manage incident' permission is required")
        try:
            fields = _update_fields(request.body)
        except _BadRequest as bad:
            return cloud_error(400, "bad_request", str(bad))
        changes = {_TEXT_FIELDS.get(name, name): value for name, value in fields.items()}
        try:
            incident = self.organization.apply_update(incident_id, **changes)
        except KeyError:
            return cloud_error(404, "not_found", f"Incident {incident_id} not found")
        with self._lock:
            self.updates.append(UpdateRecord(incident_id, fields, self.organization.now, credentials.key_id))
        return Reply(200, self._content(incident))

    def _content(self, incident: Incident) -> dict[str, Any]:
        state = incident.current_state()
        return {
            "id": incident.incident_id,
            "number": incident.number,
            "name": state.title,
            "severity": state.severity,
            "status": state.status,
            "description": incident.description,
            "resolutionNotes": incident.resolution_notes,
            "cloudUrl": f"{self._base_url()}/incidents/{incident.number}",
        }
