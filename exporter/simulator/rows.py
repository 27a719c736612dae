"""Render model objects as the JSON rows of the Reporting API (``IncidentData``, ``DatasetsData``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from exporter.simulator.model import Dataset, Incident, IncidentState, as_utc

# Fixed namespace so that derived identifiers are the same in every run.
_NAMESPACE = uuid.UUID("5d0a7c1e-2b7f-4f55-9d3c-6a1f0e4b8c21")


@lru_cache(maxsize=65536)
def _cached_uuid(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key))


def stable_uuid(*parts: str) -> str:
    """A UUID derived from ``parts``: the same inputs always give the same identifier."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def iso_timestamp(when: datetime) -> str:
    """ISO 8601 text of ``when`` in UTC with an explicit ``+00:00`` offset."""
    return as_utc(when).isoformat()


def _optional_iso(when: datetime | None) -> str | None:
    return None if when is None else iso_timestamp(when)


def _person_id(email: str | None) -> str | None:
    # People and checks repeat across rows: their identifiers come from a small cache.
    return None if email is None else _cached_uuid("user/" + email)


def incident_row(
    organization_id: str, incident: Incident, state: IncidentState, report_date: date
) -> dict[str, Any]:
    """One ``IncidentData`` row: the incident ``state`` on ``report_date``; every spec field is present."""
    day = report_date.isoformat()
    return {
        "incident_id_report_date_id": stable_uuid("incident-day", incident.incident_id, day),
        "incident_id": incident.incident_id,
        "organization_id": organization_id,
        "created_at": iso_timestamp(state.created_at),
        "last_updated": iso_timestamp(state.last_updated),
        "check_id": incident.check_id,
        "check_result_id": _cached_uuid(f"check-result/{incident.check_id}/{incident.incident_id}"),
        "dataset_id": incident.dataset_id,
        "title": state.title,
        "check_name": state.check_name,
        "severity": state.severity,
        "description_notes": incident.description,
        "resolution_notes": incident.resolution_notes,
        "lead_id": _person_id(state.lead_email),
        "lead_email": state.lead_email,
        "reporter_id": _person_id(incident.reporter_email),
        "reporter_email": incident.reporter_email,
        "report_date": day,
        "resolved_at": _optional_iso(state.resolved_at),
        "status": state.status,
    }


def _owner_names(email: str | None) -> tuple[str | None, str | None]:
    if email is None:
        return None, None
    local = email.split("@", 1)[0]
    first, _, last = local.partition(".")
    return first.capitalize(), (last.capitalize() or None)


def dataset_row(
    organization_id: str, dataset: Dataset, failed_checks: int, last_scan_time: datetime
) -> dict[str, Any]:
    """One ``DatasetsData`` row; every spec field is present, owner fields are null without an owner."""
    first_name, last_name = _owner_names(dataset.owner_email)
    owner_id = _person_id(dataset.owner_email)
    return {
        "dataset_id": dataset.dataset_id,
        "organization_id": organization_id,
        "dataset_name": dataset.dataset_name,
        "dataset_label": dataset.dataset_label,
        "tags": list(dataset.tags),
        "owner_id": owner_id,
        "owner_first_name": first_name,
        "owner_last_name": last_name,
        "owner_email": dataset.owner_email,
        "owner_job_title": None if owner_id is None else "Data Engineer",
        "owner_phone_number": None,
        "owner_user_type": None if owner_id is None else "user",
        "owner_last_login_at": None if owner_id is None else iso_timestamp(last_scan_time),
        "number_of_rows": dataset.number_of_rows,
        "number_of_failed_checks": failed_checks,
        "last_scan_time": iso_timestamp(last_scan_time),
        "attributes": {
            "domain": [dataset.datasource_name.split("_", 1)[0]],
            **{name: list(values) for name, values in dataset.attributes},
        },
        "datasource_id": dataset.datasource_id,
        "datasource_name": dataset.datasource_name,
        "datasource_label": dataset.datasource_name.replace("_", " ").title(),
        "datasource_source_owner": "soda-core",
        "datasource_owner_id": owner_id,
        "datasource_has_core_agent_enabled": True,
    }
