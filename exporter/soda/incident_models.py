"""Cloud API v1 incident models (PublicApiUpdateIncidentDTO, IncidentContentDTO) and update errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporter.incidents.domain import SEVERITIES, STATUSES
from exporter.soda.errors import SodaAuthError, SodaBadResponseError, SodaError


class IncidentUpdateRejected(SodaError):
    """400: Soda refused the update as malformed; sending it again cannot help."""

    reason = "rejected"


class SodaPermissionError(SodaAuthError):
    """403: the API key is valid but lacks the "Manage incident" permission."""

    reason = "forbidden"


class IncidentNotFound(SodaError):
    """404: no incident with that id in the organisation of the API key."""

    reason = "not_found"


class NoCloudApiError(SodaBadResponseError):
    """404 without Soda's ErrorResponse body: the configured URL is not the Soda Cloud API."""


class UpdateCancelled(SodaError):
    """The client was closed while the update waited for a rate-limit token or a retry."""

    reason = "cancelled"


@dataclass(frozen=True)
class IncidentUpdate:
    """The fields of PublicApiUpdateIncidentDTO; None leaves a field unchanged."""

    title: str | None = None
    severity: str | None = None
    status: str | None = None
    description: str | None = None
    resolution_notes: str | None = None

    def __post_init__(self) -> None:
        if self.severity is not None and self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")

    def fields(self) -> dict[str, str]:
        """The fields that are set, by their Python names."""
        names = ("title", "severity", "status", "description", "resolution_notes")
        return {name: value for name in names if (value := getattr(self, name)) is not None}

    def is_empty(self) -> bool:
        """True when the update would change nothing."""
        return not self.fields()

    def to_json(self) -> dict[str, str]:
        """The request body, camelCase as the spec names it."""
        return {("resolutionNotes" if k == "resolution_notes" else k): v for k, v in self.fields().items()}

    def describe(self) -> str:
        """A short ``field=value`` summary for logs."""
        return ", ".join(f"{k}={v!r}" for k, v in self.fields().items())


@dataclass(frozen=True)
class UpdatedIncident:
    """The incident as Soda returns it after an update (IncidentContentDTO)."""

    id: str
    number: int | None
    name: str
    severity: str
    status: str
    cloud_url: str

    @classmethod
    def from_json(cls, body: Any, incident_id: str) -> UpdatedIncident:
        """Read an IncidentContentDTO; SodaBadResponseError when it is not one."""
        if not isinstance(body, dict) or not isinstance(body.get("severity"), str):
            raise SodaBadResponseError(f"update of incident {incident_id}: the answer is not an incident")
        number = body.get("number")
        return cls(
            id=str(body.get("id") or incident_id),
            number=number if isinstance(number, int) and not isinstance(number, bool) else None,
            name=str(body.get("name") or ""),
            severity=body["severity"],
            status=str(body.get("status") or ""),
            cloud_url=str(body.get("cloudUrl") or ""),
        )

    def to_json(self) -> dict[str, Any]:
        """The fields in the spec's camelCase names."""
        return {
            "id": self.id,
            "number": self.number,
            "name": self.name,
            "severity": self.severity,
            "status": self.status,
            "cloudUrl": self.cloud_url,
        }
