"""Incident pages decoded into records: only for a body with the shape of a page, else as before."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exporter.incidents.fold import unresolved_accumulator
from exporter.soda.errors import SodaBadResponseError
from exporter.soda.http import SodaHttp
from exporter.soda.pages import RecordSink
from exporter.soda.records import RecordPage, load_records
from exporter.soda.reporting import ReportingClient
from tests.support.rows import incident_row

FIELDS = unresolved_accumulator().row_fields
ROW = incident_row("a", organization_id="org-1", description_notes="long text", lead_id=None)


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_a_page_becomes_records_of_the_fields_asked_for_and_nothing_else() -> None:
    page = load_records(_body({"total": 2, "size": 1000, "data": [ROW, {"incident_id": "b"}]}), FIELDS)
    assert isinstance(page, RecordPage)
    assert (page.total, page.size) == (2, 1000)
    first, second = page.data or []
    assert {name: getattr(first, name) for name in FIELDS} == {name: ROW[name] for name in FIELDS}
    assert not hasattr(first, "organization_id") and not hasattr(first, "description_notes")
    assert second.incident_id == "b" and second.report_date is None and second.dataset_id is None


def test_any_json_value_of_a_field_is_kept_for_the_fold_to_judge() -> None:
    odd = {"incident_id": 7, "report_date": ["2026-11-20"], "severity": {"level": 1}, "status": True}
    page = load_records(_body({"total": 1, "data": [odd]}), FIELDS)
    assert page is not None and page.data is not None
    assert (page.data[0].incident_id, page.data[0].report_date) == (7, ["2026-11-20"])
    assert (page.data[0].severity, page.data[0].status) == ({"level": 1}, True)


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b'{"total": 2, "data": [{"incident_id": "a"}, "not an object"]}',
        b'{"total": 1, "data": {"incident_id": "a"}}',
        b'{"total": 1, "data": [{"incident_id": "a"}',
        b"not json",
    ],
)
def test_a_body_without_the_shape_of_a_page_is_left_to_the_generic_decoder(body: bytes) -> None:
    assert load_records(body, FIELDS) is None


def _decode(body: bytes, status: int = 200) -> Any:
    http = SodaHttp("http://127.0.0.1:1", auth_headers=dict)
    try:
        return http._decode("POST", "/impact/incidents", status, "application/json", body, FIELDS)
    finally:
        http.close()


def test_a_page_with_a_row_that_is_not_an_object_decodes_into_dicts() -> None:
    decoded = _decode(b'{"total": 2, "data": [{"incident_id": "a"}, 3]}')
    assert decoded == {"total": 2, "data": [{"incident_id": "a"}, 3]}
    with pytest.raises(SodaBadResponseError, match="malformed JSON"):
        _decode(b'{"total": 2, "data": [')


def test_a_validation_error_body_is_read_as_json_not_as_a_page() -> None:
    with pytest.raises(Exception, match="field 'size'"):
        _decode(_body({"detail": [{"loc": ["body", "size"], "msg": "too big"}]}), status=422)


def _page(body: bytes) -> Any:
    client = ReportingClient("http://127.0.0.1:1", credentials=None)  # type: ignore[arg-type]
    try:
        return client._as_page("/impact/incidents", 1, 200, _decode(body))
    finally:
        client.close()


def test_a_page_of_records_is_checked_like_a_page_of_dicts() -> None:
    page = _page(_body({"total": 1, "size": 5, "data": [ROW]}))
    assert page.records and page.total == 1 and page.size == 5 and page.rows[0].incident_id == "a"
    dicts = _page(_body({"total": 1, "data": [ROW, "x"]}))
    assert not dicts.records and dicts.rows == [ROW, "x"]
    for bad in ({"total": -1, "data": []}, {"total": 1}, {"total": 1, "data": None}, {"data": [ROW]}):
        with pytest.raises(SodaBadResponseError, match="missing or invalid total/data"):
            _page(_body(bad))
    with pytest.raises(SodaBadResponseError, match="2 rows, more than size 1"):
        _page(_body({"total": 2, "size": 1, "data": [ROW, ROW]}))
    with pytest.raises(SodaBadResponseError, match="not a JSON object"):
        _page(b"[]")


def test_the_fold_asks_for_records() -> None:
    assert isinstance(unresolved_accumulator(), RecordSink)
