"""Fold pages of ``/coverage/datasets`` rows into what soda_dataset_info shows of each dataset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from exporter.incidents.teams import TeamSource, team_of


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
