"""Pages of the Reporting API as the client hands them on: the page, its sink, and what a query cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable


class PageSink(Protocol):
    """Receives the rows of each page as it arrives; knows how many distinct rows it has seen."""

    def add_rows(self, rows: list[Any]) -> None:
        """Fold one page of rows into the sink."""

    @property
    def distinct_rows(self) -> int:
        """Number of distinct rows seen so far (duplicates across pages count once)."""


@runtime_checkable
class RecordSink(PageSink, Protocol):
    """A sink that reads only ``row_fields`` of each row: its pages are decoded into records of them."""

    row_fields: tuple[str, ...]

    def add_records(self, records: list[Any]) -> None:
        """Fold one page of records (an attribute per name in ``row_fields``, None when absent)."""


SinkT = TypeVar("SinkT", bound=PageSink)


@dataclass
class FetchStats:
    """What one paginated query cost."""

    pages: int = 0
    rows: int = 0
    restarts: int = 0


@dataclass(frozen=True)
class Page:
    """One decoded page: the reported total, its rows (empty for a 202 NoContent answer), and the
    page size the server says it used (None when it does not say)."""

    total: int
    rows: list[Any]
    size: int | None = None
    no_content: bool = False  # HTTP 202: past the last page, or an empty window
    records: bool = False  # rows decoded as records (see RecordSink), not as dicts

    def fold_into(self, sink: PageSink) -> None:
        """Hand the rows to ``sink``, by the method for the form they were decoded in."""
        if self.records:
            assert isinstance(sink, RecordSink)  # only such a sink asks for records
            sink.add_records(self.rows)
        else:
            sink.add_rows(self.rows)
