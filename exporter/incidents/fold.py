"""Fold pages of Reporting API rows, as they arrive, into the small per-incident state the metrics need.

Raw rows are never kept: each accumulator remembers, per incident, only the fields of its newest row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from exporter.incidents.teams import TeamSource, team_of
from exporter.incidents.timestamps import report_day

# Where a row without a usable dataset_id is counted (like severity and status, which become "unknown").
UNKNOWN_DATASET = "unknown"
# The reasons that leave a row out of every count: the fields that decide whether, and when, it is open.
UNUSABLE_REASONS = ("not_an_object", "missing_incident_id", "bad_report_date")
# A query with more unusable rows than this share is a failed cycle (bad_response), not a count: Soda
# answering mostly rows we cannot read must never publish as an all-clear.
MAX_UNUSABLE_SHARE = 0.5


def unusable_rows(skipped: Mapping[str, int]) -> int:
    """How many of the rows counted in ``skipped`` (by reason) were left out of every count."""
    return sum(skipped.get(reason, 0) for reason in UNUSABLE_REASONS)


def mostly_unusable(skipped: Mapping[str, int], distinct_rows: int) -> bool:
    """True when more than MAX_UNUSABLE_SHARE of ``distinct_rows`` were left out of every count."""
    return unusable_rows(skipped) > MAX_UNUSABLE_SHARE * distinct_rows


class IncidentRow(NamedTuple):
    """The fields of one incident's newest row that the metrics use (raw strings, parsed later).

    A named tuple: immutable, and several times cheaper to create than a frozen dataclass, which
    matters at one creation per row read.
    """

    report_date: str
    dataset_id: str
    severity: Any
    status: Any
    created_at: Any
    resolved_at: Any = None
    title: Any = None
    check_name: Any = None
    lead_email: Any = None


class RowAccumulator:
    """Keeps each incident's newest row, the labels seen, and why rows were skipped."""

    def __init__(self, *, keep_details: bool) -> None:
        self.newest: dict[str, IncidentRow] = {}
        self.datasets: set[str] = set()
        self.severities: set[Any] = set()
        self.statuses: set[Any] = set()
        self.skipped: Counter[str] = Counter()
        self.max_report_date = ""
        self._keep_details = keep_details
        self._row_keys: set[int] = set()
        self._report_days: dict[str, str] = {}
        # One object per distinct repeated value (dates, datasets, labels, people): every page decodes
        # its own copies, and keeping those would cost ~70 bytes per field per incident.
        self._shared: dict[Any, Any] = {}

    @property
    def distinct_rows(self) -> int:
        """Distinct (incident, report date) rows seen, counting a repeated row once."""
        return len(self._row_keys) + self.skipped["not_an_object"]

    @property
    def unusable_rows(self) -> int:
        """Rows left out of every count because a field deciding openness was unusable."""
        return unusable_rows(self.skipped)

    def mostly_unusable(self) -> bool:
        """True when more than MAX_UNUSABLE_SHARE of the distinct rows read were unusable."""
        return mostly_unusable(self.skipped, self.distinct_rows)

    def _report_day(self, text: Any) -> str:
        # Only a handful of distinct report dates exist, so parsing is cached per string ("" = unusable).
        if not isinstance(text, str):
            return ""
        day = self._report_days[text] = report_day(text) or ""
        return day

    def add_rows(self, rows: list[Any]) -> None:
        """Fold one page of rows; rows without an incident id or report date are skipped."""
        # The hot loop of a poll: methods and attributes are bound to locals once per page.
        newest, keys, report_days = self.newest, self._row_keys, self._report_days
        details = self._keep_details
        add_key, add_dataset, share = keys.add, self.datasets.add, self._shared.setdefault
        add_severity, add_status = self.severities.add, self.statuses.add
        latest = self.max_report_date
        try:
            for row in rows:
                if not isinstance(row, dict):
                    self.skipped["not_an_object"] += 1
                    continue
                get = row.get
                incident_id = get("incident_id")
                report_date = get("report_date")
                key_hash = hash(get("incident_id_report_date_id") or f"{incident_id}/{report_date}")
                if key_hash in keys:
                    continue  # the same row served twice (e.g. repeated across pages)
                if not incident_id or not isinstance(incident_id, str):
                    self._skip("missing_incident_id", key_hash)
                    continue
                day = report_days.get(report_date) if type(report_date) is str else None
                if day is None:
                    day = self._report_day(report_date)
                if not day:
                    self._skip("bad_report_date", key_hash)
                    continue
                report_date = day
                dataset_id = get("dataset_id")
                if not dataset_id or type(dataset_id) is not str:
                    # A label, not what decides openness: the row counts under the "unknown" dataset.
                    self.skipped["missing_dataset_id"] += 1
                    dataset_id = UNKNOWN_DATASET
                add_key(key_hash)
                severity = get("severity")
                status = get("status")
                add_dataset(dataset_id)
                try:  # free in the usual case; a JSON list or object as a label reads as missing
                    add_severity(severity)
                except TypeError:
                    severity = None
                    add_severity(None)
                try:
                    add_status(status)
                except TypeError:
                    status = None
                    add_status(None)
                if report_date > latest:
                    latest = report_date
                previous = newest.get(incident_id)
                if previous is not None and previous.report_date >= report_date:
                    continue
                # Severity and status are hashable here: they were just added to sets.
                report_date, dataset_id = share(report_date, report_date), share(dataset_id, dataset_id)
                severity, status = share(severity, severity), share(status, status)
                if details:
                    check_name, lead_email = get("check_name"), get("lead_email")
                    if type(check_name) is str:
                        check_name = share(check_name, check_name)
                    if type(lead_email) is str:
                        lead_email = share(lead_email, lead_email)
                    newest[incident_id] = IncidentRow(
                        report_date,
                        dataset_id,
                        severity,
                        status,
                        get("created_at"),
                        get("resolved_at"),
                        get("title"),
                        check_name,
                        lead_email,
                    )
                else:
                    newest[incident_id] = IncidentRow(
                        report_date, dataset_id, severity, status, get("created_at"), get("resolved_at")
                    )
        finally:
            self.max_report_date = latest

    def _skip(self, reason: str, key_hash: int) -> None:
        # Remember skipped rows too, so a skipped row repeated on another page is not counted twice.
        self._row_keys.add(key_hash)
        self.skipped[reason] += 1


def unresolved_accumulator() -> RowAccumulator:
    """A sink for the ``status=unresolved`` query: keeps what soda_incident_info needs."""
    return RowAccumulator(keep_details=True)


def resolved_accumulator() -> RowAccumulator:
    """A sink for the ``status=resolved`` query: keeps only what resolution metrics need."""
    return RowAccumulator(keep_details=False)


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """What soda_dataset_info shows of one dataset."""

    dataset_id: str
    dataset_name: str
    dataset_label: str
    datasource_name: str
    owner_email: str
    team: str = ""


class DatasetAccumulator:
    """A sink for ``/coverage/datasets`` pages: one DatasetInfo per dataset id."""

    def __init__(self, team_from: Sequence[TeamSource] = ()) -> None:
        self.datasets: dict[str, DatasetInfo] = {}
        self.skipped = 0
        self._team_from = tuple(team_from)

    @property
    def distinct_rows(self) -> int:
        """Distinct datasets seen, plus rows skipped for having no id."""
        return len(self.datasets) + self.skipped

    def add_rows(self, rows: list[Any]) -> None:
        """Fold one page of DatasetsData rows."""
        for row in rows:
            dataset_id = row.get("dataset_id") if isinstance(row, dict) else None
            if not dataset_id or not isinstance(dataset_id, str):
                self.skipped += 1
                continue

            def text(key: str, row: dict[str, Any] = row) -> str:
                value = row.get(key)
                return "" if value is None else str(value)

            self.datasets[dataset_id] = DatasetInfo(
                dataset_id,
                text("dataset_name"),
                text("dataset_label"),
                text("datasource_name"),
                text("owner_email"),
                team_of(row, self._team_from),
            )
