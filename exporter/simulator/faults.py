"""Fault injection plans: which requests misbehave, how, and how often (loadable from JSON or YAML)."""

from __future__ import annotations

import dataclasses
import json
import random
import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

# Answered instead of the real reply, before the request is handled.
TERMINAL_KINDS = frozenset({"http_status", "rate_limited"})
PRE_KINDS = TERMINAL_KINDS | {"delay"}
# Reshape the rows of a paginated 200 reply.
DATA_KINDS = frozenset(
    {
        "total_drift",
        "duplicate_rows",
        "empty_page",
        "null_fields",
        "unknown_values",
        "naive_timestamps",
        "non_utc_timestamps",
    }
)
# Damage the bytes on the wire, whatever the reply.
WIRE_KINDS = frozenset({"reset_mid_body", "truncated_json", "malformed_json", "wrong_content_type"})
FAULT_KINDS = PRE_KINDS | DATA_KINDS | WIRE_KINDS
TIMESTAMP_FIELDS = ("created_at", "resolved_at", "last_updated")
UNKNOWN_VALUES = {"severity": "Blocker", "status": "On Hold"}


@dataclass(frozen=True)
class RequestInfo:
    """What rules can match on: the endpoint, and the ``status`` and ``page`` of a Reporting API body."""

    method: str
    path: str
    status: str | None = None
    page: int | None = None


@dataclass
class FaultRule:
    """One fault: when it applies (path, method, status, page, times, probability) and its parameters."""

    kind: str
    path: str = "*"  # exact path or glob, e.g. "/v1/impact/incidents" or "/api/v1/incidents/*"
    method: str | None = None
    status: str | None = None  # the request body's "unresolved"/"resolved"
    page: int | None = None
    times: int | None = None  # how many times it fires; None: every time
    probability: float | None = None  # chance of firing on a match, drawn from the plan's seeded RNG
    code: int | None = None  # http_status: the status; wrong_content_type: status (default: unchanged)
    retry_after: int | float | str | None = None  # seconds, or an HTTP date
    seconds: float = 0.0  # delay
    fraction: float = 0.5  # reset_mid_body / truncated_json: share of the body sent
    delta: int = 0  # total_drift: rows inserted (+) or deleted (-) before this page while paginating
    rows: int | None = None  # row faults: how many rows of the page (None: all; duplicate_rows: whole page)
    fields: tuple[
        str, ...
    ] = ()  # null_fields; timestamp faults (default created_at, resolved_at, last_updated)
    remove: bool = False  # null_fields: drop the keys instead of setting them to null
    values: dict[str, str] = field(default_factory=lambda: dict(UNKNOWN_VALUES))  # unknown_values
    offset: str = "+02:00"  # non_utc_timestamps: the UTC offset to render instants in
    rst: bool = True  # reset_mid_body: abort with a TCP reset (False: a clean close)
    content_type: str | None = None  # wrong_content_type / http_status with a custom body
    body: str | None = None  # custom body for http_status, rate_limited, wrong_content_type, malformed_json
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
        if self.kind == "http_status" and self.code is None:
            raise ValueError("an http_status fault needs a 'code'")
        if self.kind == "null_fields" and not self.fields:
            raise ValueError("a null_fields fault needs 'fields'")
        if self.kind == "delay" and self.seconds <= 0:
            raise ValueError("a delay fault needs 'seconds' > 0")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError("'fraction' must be between 0 and 1")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError("'probability' must be between 0 and 1")
        self.fields = tuple(self.fields)

    def matches(self, info: RequestInfo) -> bool:
        """True when this rule's filters select the request (ignoring ``times`` and ``probability``)."""
        if not fnmatchcase(info.path, self.path):
            return False
        if self.method is not None and self.method.upper() != info.method.upper():
            return False
        if self.status is not None and (info.status is None or info.status.lower() != self.status.lower()):
            return False
        return self.page is None or self.page == info.page

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        """A rule from a scenario mapping; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls) if f.name != "fired"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault rule keys: {', '.join(sorted(unknown))}")
        values = dict(data)
        if "fields" in values:
            values["fields"] = tuple(values["fields"])
        return cls(**values)


@dataclass
class FaultPlan:
    """An ordered list of fault rules; the server asks it which ones fire for each request."""

    rules: list[FaultRule] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    @classmethod
    def from_dict(cls, data: dict[str, Any] | list[Any]) -> FaultPlan:
        """A plan from ``{"seed": N, "rules": [...]}`` (or a bare list of rules)."""
        if isinstance(data, list):
            data = {"rules": data}
        unknown = set(data) - {"seed", "rules"}
        if unknown:
            raise ValueError(f"unknown fault plan keys: {', '.join(sorted(unknown))}")
        rules = [FaultRule.from_dict(rule) for rule in data.get("rules") or []]
        return cls(rules=rules, seed=int(data.get("seed", 0)))

    @classmethod
    def from_file(cls, path: str | Path) -> FaultPlan:
        """A plan from a JSON or YAML scenario file."""
        text = Path(path).read_text(encoding="utf-8")
        if str(path).endswith(".json"):
            return cls.from_dict(json.loads(text))
        # YAML is a superset of JSON, so this reads either.
        data = yaml.safe_load(text)
        if not isinstance(data, (dict, list)):
            raise ValueError(f"{path}: a fault scenario is a mapping or a list of rules")
        return cls.from_dict(data)

    def take(self, info: RequestInfo, kinds: frozenset[str]) -> list[FaultRule]:
        """The rules of ``kinds`` that fire for this request, in order, counting each firing."""
        fired: list[FaultRule] = []
        with self._lock:
            for rule in self.rules:
                if rule.kind not in kinds or not rule.matches(info):
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if rule.probability is not None and self._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                fired.append(rule)
                if rule.kind in TERMINAL_KINDS:
                    break  # the request is answered by this rule: later ones never see it
        return fired
