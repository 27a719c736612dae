"""What Alertmanager posts to the webhook: payload version 4, and the labels that ask for an action."""

from __future__ import annotations

import json
from typing import Any

PAYLOAD_VERSION = "4"
INCIDENT_LABEL = "soda_incident_id"
ACTION_LABEL = "soda_action"


def parse_payload(raw: bytes) -> list[dict[str, Any]]:
    """The alerts of an Alertmanager webhook payload (version 4); ValueError when it is not one."""
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise ValueError("the body is not an Alertmanager webhook payload")
    if str(payload.get("version")) != PAYLOAD_VERSION:
        raise ValueError(f"unsupported webhook payload version {payload.get('version')!r}; expected 4")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        raise ValueError("the payload has no list of alerts")
    for alert in alerts:
        if not isinstance(alert.get("labels", {}), dict):
            raise ValueError("an alert's labels are not a mapping")
    return alerts
