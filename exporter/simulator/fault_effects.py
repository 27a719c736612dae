"""What each fault kind does to a request's reply, its rows, or the bytes sent on the wire."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any

from exporter.simulator.faults import TIMESTAMP_FIELDS, FaultRule, RequestInfo
from exporter.simulator.replies import JSON_CONTENT_TYPE, Page, Reply, Request
from exporter.simulator.reporting_api import PAGINATED_PATHS
from exporter.simulator.reporting_api import PREFIX as REPORTING_PREFIX

HTML_BODY = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n"


def request_info(request: Request) -> RequestInfo:
    """The fields fault rules match on; ``status`` and ``page`` carry the Reporting API defaults."""
    status: str | None = None
    page: int | None = None
    if request.path in PAGINATED_PATHS:
        body = request.json if request.json is not None else {}
        if isinstance(body, dict):
            raw_page = body.get("page", 1)
            page = raw_page if isinstance(raw_page, int) else None
            if request.path.endswith("/incidents"):
                raw_status = body.get("status", "unresolved")
                status = raw_status if isinstance(raw_status, str) else None
    return RequestInfo(request.method, request.path, status, page)


def delay(rules: list[FaultRule]) -> None:
    """Sleep for every delay rule that fired."""
    for rule in rules:
        if rule.kind == "delay":
            time.sleep(rule.seconds)


def terminal_reply(rule: FaultRule, request: Request) -> Reply:
    """The reply of an ``http_status`` or ``rate_limited`` fault, in the error shape of the API hit."""
    code = 429 if rule.kind == "rate_limited" else int(rule.code or 500)
    try:
        reason = HTTPStatus(code).phrase
    except ValueError:
        reason = "Injected failure"
    if rule.body is not None:
        reply = Reply(
            code, raw_body=rule.body.encode("utf-8"), content_type=rule.content_type or JSON_CONTENT_TYPE
        )
    elif request.path.startswith(REPORTING_PREFIX):
        reply = Reply(code, {"detail": reason})
    else:
        reply = Reply(code, {"code": reason.lower().replace(" ", "_"), "message": reason})
    if rule.retry_after is not None:
        value = rule.retry_after
        reply.headers["Retry-After"] = str(int(value)) if isinstance(value, (int, float)) else value
    return reply


def _affected(rule: FaultRule, rows: list[dict[str, Any]]) -> int:
    return len(rows) if rule.rows is None else min(rule.rows, len(rows))


def _retime(value: Any, rule: FaultRule) -> Any:
    if not isinstance(value, str):
        return value
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    if rule.kind == "naive_timestamps":
        return instant.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
    sign = -1 if rule.offset.startswith("-") else 1
    hours, _, minutes = rule.offset.lstrip("+-").partition(":")
    zone = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))
    return instant.astimezone(zone).isoformat()


def reshape_page(rule: FaultRule, page: Page) -> None:
    """Apply one row fault to a 200 page in place."""
    kind = rule.kind
    if kind == "total_drift":
        # Rows inserted before this page push its rows back (the client sees some twice); deleted ones
        # pull later rows forward (the client never sees some).
        page.total = max(page.total + rule.delta, 0)
        page.data = page.fetch(max(page.offset - rule.delta, 0), page.size)
    elif kind == "duplicate_rows":
        if page.page > 1:
            previous = page.fetch(page.offset - page.size, page.size)
            count = len(previous) if rule.rows is None else min(rule.rows, len(previous))
            page.data = previous[len(previous) - count :] + page.data[count:]
            page.data = page.data[: page.size]
        else:
            count = len(page.data) // 2 if rule.rows is None else min(rule.rows, len(page.data))
            page.data = (page.data[:count] + page.data)[: len(page.data)]
    elif kind == "empty_page":
        page.data = []
    else:
        rows = [dict(row) for row in page.data]
        for row in rows[: _affected(rule, rows)]:
            _reshape_row(rule, row)
        page.data = rows


def _reshape_row(rule: FaultRule, row: dict[str, Any]) -> None:
    if rule.kind == "null_fields":
        for name in rule.fields:
            if rule.remove:
                row.pop(name, None)
            else:
                row[name] = None
    elif rule.kind == "unknown_values":
        row.update({name: value for name, value in rule.values.items() if name in row})
    else:  # naive_timestamps, non_utc_timestamps
        for name in rule.fields or TIMESTAMP_FIELDS:
            if name in row:
                row[name] = _retime(row[name], rule)


@dataclass
class Wire:
    """What to send: status, content type, body, extra headers, and where to cut the connection."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str]
    cut_at: int | None = None
    rst: bool = True


def damage(reply: Reply, rules: list[FaultRule]) -> Wire:
    """Apply the wire faults that fired to the encoded reply."""
    wire = Wire(reply.status, reply.content_type, reply.body(), dict(reply.headers))
    for rule in rules:
        if rule.kind == "wrong_content_type":
            wire.status = rule.code if rule.code is not None else wire.status
            wire.content_type = rule.content_type or "text/html; charset=utf-8"
            wire.body = (rule.body if rule.body is not None else HTML_BODY).encode("utf-8")
        elif rule.kind == "malformed_json":
            if rule.body is not None:
                wire.body = rule.body.encode("utf-8")
            else:
                # A trailing comma before the closing bracket: every JSON parser rejects it.
                wire.body = wire.body[:-1] + b"," + wire.body[-1:] if wire.body else b"{,}"
        elif rule.kind == "truncated_json":
            wire.body = wire.body[: int(len(wire.body) * rule.fraction)]
        elif rule.kind == "reset_mid_body":
            wire.cut_at = int(len(wire.body) * rule.fraction)
            wire.rst = rule.rst
    return wire
