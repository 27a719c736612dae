"""Fold pages of Reporting API rows, as they arrive, into the small per-incident state the metrics need.

Raw rows are never kept: each accumulator remembers, per incident, only the fields of its newest row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

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


# The fields kept of an incident's newest row, in IncidentRow's order after the report date.
_DETAILS = (
    "dataset_id",
    "severity",
    "status",
    "created_at",
    "resolved_at",
    "title",
    "check_name",
    "lead_email",
)
_BRIEF = _DETAILS[:5]
_new_row: Callable[[tuple[Any, ...]], IncidentRow] = partial(tuple.__new__, IncidentRow)
# The fields that identify a row, read before the ones kept.
_IDENTITY = ("incident_id_report_date_id", "incident_id", "report_date")
_DECIDING = ("incident_id", "report_date", "dataset_id", "severity", "status")
_KEYS = tuple(map(itemgetter, _DECIDING))
_KEY_ATTRIBUTES = tuple(map(attrgetter, _DECIDING))


class RowAccumulator:
    """Keeps each incident's newest row, the labels seen, and why rows were skipped.

    What it holds grows with incidents, not rows: a row is remembered (so that one served twice
    counts once) as one bit, for its report date, in a per-incident mask.
    """

    def __init__(self, *, keep_details: bool) -> None:
        self.datasets: set[str] = set()
        self.severities: set[Any] = set()
        self.statuses: set[Any] = set()
        self.skipped: Counter[str] = Counter()
        self.max_report_date = ""
        self._names = _DETAILS if keep_details else _BRIEF
        self._fields = itemgetter(*self._names)
        self._attributes = attrgetter(*self._names)
        # Every field of a row the fold reads: what a page decoded into records must hold.
        self.row_fields: tuple[str, ...] = _IDENTITY + self._names
        # incident id -> [mask of the report dates read, its newest row]
        self._entries: dict[str, list[Any]] = {}
        # Once built, the newest rows replace the entries; the masks alone are kept for later pages.
        self._newest: dict[str, IncidentRow] | None = {}
        self._masks: dict[str, int] = {}
        self._rows = 0  # distinct usable rows
        self._skipped_keys: set[int] = set()  # skipped rows are few: their keys are kept as they are
        # Report date text -> (its bit, the one string kept for it), or None when unusable. Only a
        # handful of distinct dates exist, so each is validated once.
        self._dates: dict[Any, tuple[int, str] | None] = {}
        # One object per distinct repeated value (datasets, labels, people): every page decodes its own
        # copies, and keeping those would cost ~70 bytes per field per incident.
        self._shared: dict[Any, Any] = {}

    @property
    def distinct_rows(self) -> int:
        """Distinct (incident, report date) rows seen, counting a repeated row once."""
        return self._rows + len(self._skipped_keys) + self.skipped["not_an_object"]

    @property
    def unusable_rows(self) -> int:
        """Rows left out of every count because a field deciding openness was unusable."""
        return unusable_rows(self.skipped)

    def mostly_unusable(self) -> bool:
        """True when more than MAX_UNUSABLE_SHARE of the distinct rows read were unusable."""
        return mostly_unusable(self.skipped, self.distinct_rows)

    @property
    def newest(self) -> dict[str, IncidentRow]:
        """Each incident's newest row (built once, after the pages that changed it)."""
        if self._newest is None:
            self._newest, self._masks = self._build_newest()
            self._entries = {}  # what the fold needs again is in the masks and the rows
        return self._newest

    def _build_newest(self) -> tuple[dict[str, IncidentRow], dict[str, int]]:
        entries = self._entries.items()
        return {key: row for key, (_, row) in entries}, {key: mask for key, (mask, _) in entries}

    def _thaw(self) -> None:
        """Pages after the newest rows were built: back to one entry per incident."""
        newest, masks = self._newest or {}, self._masks
        self._entries = {key: [masks[key], row] for key, row in newest.items()}
        self._masks = {}

    def _date(self, text: Any) -> tuple[int, str] | None:
        known = self._dates.get(text, False)
        if known is not False:
            return known  # type: ignore[return-value]
        day = report_day(text)  # a date-time is read as its date part
        result: tuple[int, str] | None = None
        if day is not None:
            bits = {kept[1]: kept[0] for kept in self._dates.values() if kept is not None}
            result = (bits.get(day) or 1 << len(bits), day)
        self._dates[text] = result
        return result

    def add_rows(self, rows: list[Any]) -> None:
        """Fold one page of rows; rows without an incident id or report date are skipped."""
        self._add(rows, records=False)

    def add_records(self, records: list[Any]) -> None:
        """Fold one page of records: objects with an attribute (None when absent) per ``row_fields``.

        The same rules as ``add_rows``: a page decoded into records skips building the fields the fold
        never reads, and an unusable record is checked as the row it stands for.
        """
        self._add(records, records=True)

    def _add(self, rows: list[Any], *, records: bool) -> None:
        if not rows:
            return
        if self._newest:
            self._thaw()
        self._newest = None
        try:
            # The five deciding fields read column by column, each in one pass at C speed: reading them
            # together and transposing built a tuple per row, ~40 % slower.
            keys = _KEY_ATTRIBUTES if records else _KEYS
            columns = [list(map(key, rows)) for key in keys]
            usable = self._all_usable(columns)
        except (KeyError, TypeError):  # a row lacks a field, is not an object, or holds an unhashable
            usable = False
        if usable:
            self._fold(columns[0], columns[1], rows, self._attributes if records else self._fields)
            return
        if records:  # rare: the row-by-row checks read rows as the API sends them
            every_field = attrgetter(*self.row_fields)
            rows = [dict(zip(self.row_fields, every_field(record), strict=True)) for record in rows]
        for row in rows:
            self._add_row(row)

    def _all_usable(self, columns: list[list[Any]]) -> bool:
        """True when no row of the page is to be skipped; the page's labels are added when so."""
        ids, dates, dataset_column, severity_column, status_column = columns
        "".join(ids)  # TypeError unless every id is a string
        datasets = set(dataset_column)
        "".join(datasets)
        if "" in ids or "" in datasets:
            return False
        kept_dates = [self._date(text) for text in set(dates)]
        if None in kept_dates:
            return False
        # Severity and status must be hashable to be labels: set() raises TypeError otherwise.
        severities, statuses = set(severity_column), set(status_column)
        self.datasets |= datasets
        self.severities |= severities
        self.statuses |= statuses
        self.max_report_date = max(self.max_report_date, *(kept[1] for kept in kept_dates))  # type: ignore[index]
        return True

    def _fold(
        self, ids: Sequence[str], dates: Sequence[Any], rows: list[Any], fields: Callable[[Any], Any]
    ) -> int:
        """The hot loop of a poll, over rows known to be usable: count each row once, keep the newest."""
        entries, date_info, names = self._entries, self._dates, self._names
        get, share, details = entries.get, self._shared.setdefault, len(names) > len(_BRIEF)
        added = 0
        for incident_id, report_date, row in zip(ids, dates, rows, strict=True):
            bit, kept_date = date_info[report_date]  # type: ignore[misc]
            entry = get(incident_id)
            if entry is not None:
                if entry[0] & bit:
                    continue  # the same row served twice (e.g. repeated across pages)
                entry[0] |= bit
                added += 1
                if kept_date <= entry[1][0]:
                    continue
            try:
                kept = fields(row)
            except KeyError:  # a field the metrics can do without is absent from a row dict
                kept = tuple(map(row.get, names))
            # The labels are kept as one shared object each: the page's own copies would pin the
            # page's memory until the incident's next row (~5 strings of ~60 bytes per incident).
            # The row is built as a tuple of IncidentRow's type: its __new__ costs ~4 times as much.
            if details:
                dataset_id, severity, status, created_at, resolved_at, title, check_name, lead_email = kept
                if type(check_name) is str:
                    check_name = share(check_name, check_name)
                if type(lead_email) is str:
                    lead_email = share(lead_email, lead_email)
                newest = _new_row((
                    kept_date, share(dataset_id, dataset_id), share(severity, severity),
                    share(status, status), created_at, resolved_at, title, check_name, lead_email,
                ))  # fmt: skip
            else:
                dataset_id, severity, status, created_at, resolved_at = kept
                newest = _new_row((
                    kept_date, share(dataset_id, dataset_id), share(severity, severity),
                    share(status, status), created_at, resolved_at, None, None, None,
                ))  # fmt: skip
            if entry is None:
                entries[incident_id] = [bit, newest]
                added += 1
            else:
                entry[1] = newest
        self._rows += added
        return added

    def _add_row(self, row: Any) -> None:
        """One row of a page holding unusable rows: checked, and skipped or counted with its reason."""
        if not isinstance(row, dict):
            self.skipped["not_an_object"] += 1
            return
        get = row.get
        incident_id, report_date = get("incident_id"), get("report_date")
        row_id = get("incident_id_report_date_id")
        # The id is a string by contract; anything else (a list, an object) would not even hash.
        key_hash = hash(row_id if row_id and type(row_id) is str else f"{incident_id}/{report_date}")
        if key_hash in self._skipped_keys:
            return  # a skipped row repeated on another page counts once
        if not incident_id or not isinstance(incident_id, str):
            self._skip("missing_incident_id", key_hash)
            return
        try:
            date_info = self._date(report_date)
        except TypeError:  # unhashable
            date_info = None
        if date_info is None:
            self._skip("bad_report_date", key_hash)
            return
        dataset_id = get("dataset_id")
        usable_dataset = bool(dataset_id) and type(dataset_id) is str
        if not usable_dataset:
            # A label, not what decides openness: the row counts under the "unknown" dataset.
            dataset_id = UNKNOWN_DATASET
            row = {**row, "dataset_id": UNKNOWN_DATASET}
        severity, status = _hashable(get("severity")), _hashable(get("status"))
        if severity is not get("severity") or status is not get("status"):
            row = {**row, "severity": severity, "status": status}
        self.datasets.add(str(dataset_id))
        self.severities.add(severity)
        self.statuses.add(status)
        self.max_report_date = max(self.max_report_date, date_info[1])
        if self._fold([incident_id], [report_date], [row], self._fields) and not usable_dataset:
            self.skipped["missing_dataset_id"] += 1

    def _skip(self, reason: str, key_hash: int) -> None:
        self._skipped_keys.add(key_hash)
        self.skipped[reason] += 1


def _hashable(label: Any) -> Any:
    """A label as kept: a JSON list or object (unhashable) reads as missing."""
    try:
        hash(label)
    except TypeError:
        return None
    return label


def unresolved_accumulator() -> RowAccumulator:
    """A sink for the ``status=unresolved`` query: keeps what soda_incident_info needs."""
    return RowAccumulator(keep_details=True)


def resolved_accumulator() -> RowAccumulator:
    """A sink for the ``status=resolved`` query: keeps only what resolution metrics need."""
    return RowAccumulator(keep_details=False)
