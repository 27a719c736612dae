"""The dataset fold: one DatasetInfo per dataset id, rows without one skipped, the team read."""

from __future__ import annotations

from typing import Any

from exporter.incidents.datasets import DatasetAccumulator, DatasetInfo
from exporter.incidents.teams import TeamSource


def dataset_row(dataset_id: Any, **fields: Any) -> dict[str, Any]:
    """One DatasetsData row."""
    return {"dataset_id": dataset_id, **fields}


def test_the_dataset_sink_keeps_one_info_per_dataset_with_empty_text_for_missing_fields() -> None:
    sink = DatasetAccumulator()
    sink.add_rows(
        [
            dataset_row(
                "ds-1",
                dataset_name="orders",
                dataset_label="Orders",
                datasource_name="warehouse",
                owner_email="o@example.com",
            ),
            dataset_row("ds-2", dataset_name=None, dataset_label=12, owner_email=""),
        ]
    )
    assert sink.datasets == {
        "ds-1": DatasetInfo("ds-1", "orders", "Orders", "warehouse", "o@example.com", ""),
        "ds-2": DatasetInfo("ds-2", "", "12", "", "", ""),
    }
    assert (sink.skipped, sink.distinct_rows) == (0, 2)


def test_the_dataset_sink_skips_rows_without_an_id_and_keeps_reading() -> None:
    sink = DatasetAccumulator()
    sink.add_rows(["text", dataset_row(None), dataset_row("ds-1", dataset_name="a"), dataset_row(""), None])
    sink.add_rows([dataset_row(3), dataset_row("ds-2", dataset_name="b")])
    assert sink.skipped == 5
    assert {d: info.dataset_name for d, info in sink.datasets.items()} == {"ds-1": "a", "ds-2": "b"}
    assert sink.distinct_rows == 7


def test_the_dataset_sink_keeps_the_last_row_of_a_dataset_and_reads_its_team() -> None:
    sink = DatasetAccumulator([TeamSource("tag", "team")])
    sink.add_rows([dataset_row("ds-1", dataset_name="old", tags=["team:a"])])
    sink.add_rows([dataset_row("ds-1", dataset_name="new", tags=["team:b"]), dataset_row("ds-2", tags=[])])
    assert sink.datasets["ds-1"] == DatasetInfo("ds-1", "new", "", "", "", "b")
    assert sink.datasets["ds-2"].team == ""
    assert sink.distinct_rows == 2
