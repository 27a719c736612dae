"""Reporting API request bodies, validated the way the real service (FastAPI on pydantic v1) does it."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

# Pydantic v1 wording: clients may log these, so keep them identical to the real service.
_NOT_INT = ("value is not a valid integer", "type_error.integer")
_NOT_STR = ("str type expected", "type_error.str")
_NOT_LIST = ("value is not a valid list", "type_error.list")
_NOT_DICT = ("value is not a valid dict", "type_error.dict")
_NOT_DATETIME = ("invalid datetime format", "value_error.datetime")
_NONE = ("none is not an allowed value", "type_error.none.not_allowed")

_DATETIME_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})[T ]"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:\.(?P<fraction>\d{1,6})\d{0,6})?)?"
    r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?$"
)
DEFAULT_WINDOW = timedelta(days=31)


class RequestInvalid(Exception):
    """The body breaks the request schema; ``errors`` is FastAPI's ``detail`` list."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class IncidentsQuery:
    """A validated ``IncidentsRequest``."""

    page: int
    size: int
    status: str
    dataset_ids: list[str] | None
    from_datetime: datetime
    to_datetime: datetime


@dataclass(frozen=True)
class DatasetsQuery:
    """A validated ``DatasetsRequest``."""

    page: int
    size: int
    dataset_ids: list[str] | None


def _error(field: str | None, problem: tuple[str, str], **ctx: Any) -> dict[str, Any]:
    error: dict[str, Any] = {
        "loc": ["body"] + ([field] if field else []),
        "msg": problem[0],
        "type": problem[1],
    }
    if ctx:
        error["ctx"] = ctx
    return error


def parse_json(raw: bytes) -> Any:
    """The decoded body (None when empty); malformed JSON raises FastAPI's ``jsondecode`` error."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            ctx = {"msg": exc.msg, "doc": exc.doc, "pos": exc.pos, "lineno": exc.lineno, "colno": exc.colno}
            loc: list[Any] = ["body", exc.pos]
            msg = exc.msg
        else:
            ctx, loc, msg = {}, ["body", 0], str(exc)
        raise RequestInvalid(
            [{"loc": loc, "msg": msg, "type": "value_error.jsondecode", "ctx": ctx}]
        ) from exc


def _as_int(value: Any) -> int | None:
    # Pydantic v1 coerces: True -> 1, 7.9 -> 7, " 12 " -> 12.
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, float):
        return int(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return None


def _as_datetime(value: Any) -> datetime | None:
    # Pydantic v1 also takes Unix times, as numbers or numeric strings, in seconds or milliseconds.
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 2e10 else value
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    match = _DATETIME_RE.match(value)
    if match is None:
        return None
    parts = match.groupdict()
    tz = timezone.utc
    if parts["tz"] and parts["tz"] != "Z":
        sign = -1 if parts["tz"][0] == "-" else 1
        digits = parts["tz"][1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0)))
    try:
        return datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            int(parts["second"] or 0),
            int((parts["fraction"] or "0").ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError:
        return None


class _Body:
    """Collects every field error before failing, as pydantic does."""

    def __init__(self, body: Any) -> None:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise RequestInvalid([_error(None, _NOT_DICT)])
        self.body = body
        self.errors: list[dict[str, Any]] = []

    def integer(self, name: str, default: int, low: int, high: int | None) -> int:
        if name not in self.body:
            return default
        raw = self.body[name]
        if raw is None:
            self.errors.append(_error(name, _NONE))
            return default
        value = _as_int(raw)
        if value is None:
            self.errors.append(_error(name, _NOT_INT))
        elif value < low:
            msg = f"ensure this value is greater than or equal to {low}"
            self.errors.append(_error(name, (msg, "value_error.number.not_ge"), limit_value=low))
        elif high is not None and value > high:
            msg = f"ensure this value is less than or equal to {high}"
            self.errors.append(_error(name, (msg, "value_error.number.not_le"), limit_value=high))
        else:
            return value
        return default

    def string(self, name: str, default: str) -> str:
        if name not in self.body:
            return default
        value = _as_str(self.body[name])
        if value is None:
            self.errors.append(_error(name, _NONE if self.body[name] is None else _NOT_STR))
            return default
        return value

    def string_list(self, name: str) -> list[str] | None:
        raw = self.body.get(name)
        if raw is None:
            return None
        if not isinstance(raw, list):
            self.errors.append(_error(name, _NOT_LIST))
            return None
        values = []
        for index, item in enumerate(raw):
            value = _as_str(item)
            if value is None:
                self.errors.append({"loc": ["body", name, index], "msg": _NOT_STR[0], "type": _NOT_STR[1]})
            else:
                values.append(value)
        return values

    def timestamp(self, name: str, default: datetime) -> datetime:
        raw = self.body.get(name)
        if raw is None:  # the window bounds are optional: null means "use the default"
            return default
        value = _as_datetime(raw)
        if value is None:
            self.errors.append(_error(name, _NOT_DATETIME))
            return default
        return value

    def done(self) -> None:
        if self.errors:
            raise RequestInvalid(self.errors)


def incidents_query(body: Any, now: datetime) -> IncidentsQuery:
    """Validate an ``IncidentsRequest``; the window defaults to the 31 days before ``now``."""
    fields = _Body(body)
    query = IncidentsQuery(
        page=fields.integer("page", 1, 1, None),
        size=fields.integer("size", 400, 1, 1000),
        status=fields.string("status", "unresolved"),
        dataset_ids=fields.string_list("dataset_ids"),
        from_datetime=fields.timestamp("from_datetime", now - DEFAULT_WINDOW),
        to_datetime=fields.timestamp("to_datetime", now),
    )
    fields.done()
    return query


def datasets_query(body: Any) -> DatasetsQuery:
    """Validate a ``DatasetsRequest``."""
    fields = _Body(body)
    query = DatasetsQuery(
        page=fields.integer("page", 1, 1, None),
        size=fields.integer("size", 400, 1, 1000),
        dataset_ids=fields.string_list("dataset_ids"),
    )
    fields.done()
    return query
