"""The request and reply values passed between the HTTP layer, the API handlers and fault injection."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Header names are lower-cased by the HTTP layer so lookups are case-insensitive.
Headers = Mapping[str, str]
JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Request:
    """One HTTP request as the API handlers see it."""

    method: str
    path: str
    headers: Headers
    body: bytes
    json: Any = None  # decoded body when it parsed, else None


@dataclass
class Page:
    """A page of a paginated Reporting API result, still unrendered so faults can reshape it."""

    total: int
    page: int
    size: int
    fetch: Callable[[int, int], list[dict[str, Any]]]  # (offset, limit) -> rows
    data: list[dict[str, Any]] = field(default_factory=list)

    @property
    def offset(self) -> int:
        """Index of the first row of this page."""
        return (self.page - 1) * self.size

    def payload(self) -> dict[str, Any]:
        """The ``{total, page, size, data}`` body."""
        return {"total": self.total, "page": self.page, "size": self.size, "data": self.data}


@dataclass
class Reply:
    """What to answer: a status, a JSON payload (or a page to render) and extra headers."""

    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    page: Page | None = None
    content_type: str = JSON_CONTENT_TYPE
    raw_body: bytes | None = None  # sent verbatim instead of the JSON payload

    def body(self) -> bytes:
        """The encoded body."""
        if self.raw_body is not None:
            return self.raw_body
        payload = self.page.payload() if self.page is not None else self.payload
        return encode_json(payload)


def encode_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON, as Starlette's ``JSONResponse`` renders it."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def reporting_error(status: int, detail: str) -> Reply:
    """A FastAPI ``HTTPException`` reply: ``{"detail": ...}``."""
    return Reply(status, {"detail": detail})


def cloud_error(status: int, code: str, message: str) -> Reply:
    """A Cloud API ``ErrorResponse`` reply: ``{"code": ..., "message": ...}``."""
    return Reply(status, {"code": code, "message": message})
