"""Every simulator endpoint, over real HTTP, checked against the published OpenAPI documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from exporter.simulator import Organization, SimulatorServer, generate_organization
from exporter.simulator.reporting_api import NO_CONTENT_DETAIL
from tests.support.spec import SPEC_DIR, cloud_spec

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=timezone.utc)
KEY = ("spec-key-id", "spec-key-secret")
FORBIDDEN = ("viewer-key-id", "viewer-key-secret")
X_HEADERS = {"X-API-KEY-ID": KEY[0], "X-API-KEY-SECRET": KEY[1]}

# FastAPI generated the Reporting API document from pydantic v1 models, which marks Optional[str] fields
# as plain strings; the service returns null for them (no lead, not resolved, no dataset owner).
NULLABLE = {
    "IncidentData": ("resolved_at", "lead_id", "lead_email", "reporter_id", "reporter_email"),
    "DatasetsData": (
        "owner_id",
        "owner_first_name",
        "owner_last_name",
        "owner_email",
        "owner_job_title",
        "owner_phone_number",
        "owner_user_type",
        "owner_last_login_at",
        "datasource_owner_id",
    ),
}


def reporting_spec(server_url: str) -> OpenAPI:
    """The Reporting API document, served at ``server_url``."""
    spec = json.loads((SPEC_DIR / "reporting-api-v1.openapi.json").read_text())
    spec["servers"] = [{"url": server_url}]
    for schema, fields in NULLABLE.items():
        for name in fields:
            spec["components"]["schemas"][schema]["properties"][name]["nullable"] = True
    # The document's own example defaults ("2023-10-09T09:18:16.255021", no offset) fail the
    # 'date-time' format, so openapi-core's whole-document check rejects it; the schemas themselves
    # are sound, so validate requests and responses against them with that check turned off.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


@pytest.fixture(scope="module")
def org() -> Organization:
    return generate_organization(seed=11, incidents=120, datasets=6, days=40, now=NOW)


@pytest.fixture(scope="module")
def sim(org: Organization) -> Iterator[SimulatorServer]:
    with SimulatorServer(
        org,
        api_key_id=KEY[0],
        api_key_secret=KEY[1],
        extra_keys={FORBIDDEN[0]: FORBIDDEN[1]},
        forbidden_key_ids={FORBIDDEN[0]},
    ) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_limits(sim: SimulatorServer) -> None:
    sim.clear_records()


@pytest.fixture(scope="module")
def reporting(sim: SimulatorServer) -> OpenAPI:
    return reporting_spec(sim.reporting_url)


@pytest.fixture(scope="module")
def cloud(sim: SimulatorServer) -> OpenAPI:
    return cloud_spec(sim.cloud_url)


def conforms(spec: OpenAPI, response: requests.Response, *, valid_request: bool = True) -> Any:
    """Fail unless the response (and, when meant to be valid, the request) matches the spec."""
    request = RequestsOpenAPIRequest(response.request)
    if valid_request:
        spec.validate_request(request)
    spec.validate_response(request, RequestsOpenAPIResponse(response))
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


def post_incidents(sim: SimulatorServer, body: Any = None, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("headers", X_HEADERS)
    if body is not None and "data" not in kwargs:
        kwargs["json"] = body
    return requests.post(sim.reporting_url + "/impact/incidents", timeout=10, **kwargs)


# --- Reporting API ---------------------------------------------------------------------------------------


def test_ping_needs_no_auth(sim: SimulatorServer, reporting: OpenAPI) -> None:
    response = requests.get(sim.reporting_url + "/ping", timeout=10)
    assert response.status_code == 200
    conforms(reporting, response)


@pytest.mark.parametrize(
    "auth",
    [
        {"headers": X_HEADERS},
        {"headers": {"API_KEY_ID": KEY[0], "API_KEY_SECRET": KEY[1]}},
        {"auth": KEY},
    ],
    ids=["x-api-key", "deprecated-headers", "basic"],
)
def test_last_etl_refresh_with_each_auth_scheme(
    sim: SimulatorServer, reporting: OpenAPI, org: Organization, auth: dict[str, Any]
) -> None:
    response = requests.get(sim.reporting_url + "/last_etl_refresh", timeout=10, **auth)
    assert response.status_code == 200
    body = conforms(reporting, response)
    assert body["resource"] == "last_etl_refresh"
    assert datetime.fromisoformat(body["data"]["last_etl_refresh_at"]) == org.etl_refresh_at


def test_incidents_page_has_every_field(sim: SimulatorServer, reporting: OpenAPI, org: Organization) -> None:
    fields = set(
        json.loads((SPEC_DIR / "reporting-api-v1.openapi.json").read_text())["components"]["schemas"][
            "IncidentData"
        ]["properties"]
    )
    for status in ("unresolved", "resolved"):
        response = post_incidents(sim, {"status": status, "size": 50, "page": 2})
        assert response.status_code == 200
        body = conforms(reporting, response)
        assert (body["page"], body["size"], len(body["data"])) == (2, 50, 50)
        assert body["total"] == len(org.incident_rows(status, NOW - timedelta(days=31), NOW))
        for row in body["data"]:
            assert set(row) == fields
            assert (row["status"] == "resolved") == (status == "resolved")


def test_incidents_with_explicit_window_and_datasets(
    sim: SimulatorServer, reporting: OpenAPI, org: Organization
) -> None:
    dataset = org.datasets[0].dataset_id
    body = {
        "dataset_ids": [dataset],
        "from_datetime": (NOW - timedelta(days=2)).isoformat(),
        "to_datetime": NOW.isoformat(),
        "size": 1000,
    }
    data = conforms(reporting, post_incidents(sim, body))["data"]
    assert data and {row["dataset_id"] for row in data} == {dataset}
    assert {row["report_date"] for row in data} <= {
        (NOW - timedelta(days=n)).date().isoformat() for n in range(3)
    }


@pytest.mark.parametrize(
    "body",
    [
        {"page": 99},
        {"from_datetime": "2020-01-01T00:00:00Z", "to_datetime": "2020-02-01T00:00:00Z"},
        {"status": "open"},  # a free string in the schema: matches no rows rather than failing
    ],
    ids=["past-the-end", "empty-window", "unknown-status"],
)
def test_incidents_no_content_is_202(sim: SimulatorServer, reporting: OpenAPI, body: dict[str, Any]) -> None:
    response = post_incidents(sim, body)
    assert response.status_code == 202
    assert conforms(reporting, response) == {"resource": "incidents", "data": [], "detail": NO_CONTENT_DETAIL}


def test_no_content_detail_is_the_spec_default() -> None:
    spec = json.loads((SPEC_DIR / "reporting-api-v1.openapi.json").read_text())
    assert (
        spec["components"]["schemas"]["NoContentError"]["properties"]["detail"]["default"]
        == NO_CONTENT_DETAIL
    )


@pytest.mark.parametrize(
    ("kwargs", "loc", "error_type"),
    [
        ({"json": {"size": 0}}, ["body", "size"], "value_error.number.not_ge"),
        ({"json": {"size": 1001}}, ["body", "size"], "value_error.number.not_le"),
        ({"json": {"page": 0}}, ["body", "page"], "value_error.number.not_ge"),
        ({"json": {"page": "two"}}, ["body", "page"], "type_error.integer"),
        ({"json": {"size": None}}, ["body", "size"], "type_error.none.not_allowed"),
        ({"json": {"status": ["resolved"]}}, ["body", "status"], "type_error.str"),
        ({"json": {"dataset_ids": "abc"}}, ["body", "dataset_ids"], "type_error.list"),
        ({"json": {"dataset_ids": [{"id": 1}]}}, ["body", "dataset_ids", 0], "type_error.str"),
        ({"json": {"from_datetime": "yesterday"}}, ["body", "from_datetime"], "value_error.datetime"),
        ({"json": {"to_datetime": "2024-01-01"}}, ["body", "to_datetime"], "value_error.datetime"),
        ({"json": [1, 2]}, ["body"], "type_error.dict"),
        ({"data": b'{"page": 1,'}, ["body", 11], "value_error.jsondecode"),
    ],
    ids=[
        "size-0",
        "size-1001",
        "page-0",
        "page-text",
        "size-null",
        "status-list",
        "ids-not-list",
        "ids-item",
        "bad-datetime",
        "date-only",
        "not-object",
        "malformed",
    ],
)
def test_incidents_schema_violations_are_422(
    sim: SimulatorServer, reporting: OpenAPI, kwargs: dict[str, Any], loc: list[Any], error_type: str
) -> None:
    response = post_incidents(sim, **kwargs, headers={**X_HEADERS, "Content-Type": "application/json"})
    assert response.status_code == 422
    detail = conforms(reporting, response, valid_request=False)["detail"]
    assert [(error["loc"], error["type"]) for error in detail] == [(loc, error_type)]


def test_every_violation_is_reported_at_once(sim: SimulatorServer, reporting: OpenAPI) -> None:
    response = post_incidents(sim, {"page": 0, "size": 5000})
    assert response.status_code == 422
    detail = conforms(reporting, response, valid_request=False)["detail"]
    assert [error["loc"] for error in detail] == [["body", "page"], ["body", "size"]]
    assert detail[1]["msg"] == "ensure this value is less than or equal to 1000"


def test_empty_body_takes_the_defaults(sim: SimulatorServer, reporting: OpenAPI, org: Organization) -> None:
    body = conforms(reporting, post_incidents(sim, data=b""))
    assert (body["page"], body["size"]) == (1, 400)
    assert body["total"] == len(org.incident_rows("unresolved", NOW - timedelta(days=31), NOW))


def test_datasets_pages(sim: SimulatorServer, reporting: OpenAPI, org: Organization) -> None:
    fields = set(
        json.loads((SPEC_DIR / "reporting-api-v1.openapi.json").read_text())["components"]["schemas"][
            "DatasetsData"
        ]["properties"]
    )
    url = sim.reporting_url + "/coverage/datasets"
    first = conforms(reporting, requests.post(url, json={"size": 4}, headers=X_HEADERS, timeout=10))
    second = conforms(
        reporting, requests.post(url, json={"size": 4, "page": 2}, headers=X_HEADERS, timeout=10)
    )
    assert first["total"] == second["total"] == len(org.datasets)
    rows = first["data"] + second["data"]
    assert [row["dataset_id"] for row in rows] == [dataset.dataset_id for dataset in org.datasets]
    assert all(set(row) == fields for row in rows)
    past = requests.post(url, json={"page": 3, "size": 4}, headers=X_HEADERS, timeout=10)
    assert past.status_code == 202
    assert conforms(reporting, past)["resource"] == "datasets"
    invalid = requests.post(url, json={"size": 0}, headers=X_HEADERS, timeout=10)
    assert invalid.status_code == 422
    conforms(reporting, invalid, valid_request=False)


@pytest.mark.parametrize(
    "auth",
    [{}, {"headers": {"X-API-KEY-ID": KEY[0], "X-API-KEY-SECRET": "wrong"}}, {"auth": (KEY[0], "wrong")}],
    ids=["missing", "wrong-secret", "wrong-basic"],
)
@pytest.mark.parametrize("path", ["/impact/incidents", "/coverage/datasets", "/last_etl_refresh"])
def test_reporting_rejects_bad_credentials_with_401(
    sim: SimulatorServer, path: str, auth: dict[str, Any]
) -> None:
    method = "GET" if path == "/last_etl_refresh" else "POST"
    response = requests.request(method, sim.reporting_url + path, json={}, timeout=10, **auth)
    # 401 is not among the documented responses: FastAPI's HTTPException body is {"detail": "..."}.
    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)


def test_reporting_forbidden_key_gets_403(sim: SimulatorServer) -> None:
    headers = {"X-API-KEY-ID": FORBIDDEN[0], "X-API-KEY-SECRET": FORBIDDEN[1]}
    response = post_incidents(sim, {}, headers=headers)
    assert response.status_code == 403
    assert isinstance(response.json()["detail"], str)


def test_unknown_path_and_wrong_method(sim: SimulatorServer) -> None:
    missing = requests.get(sim.reporting_url + "/impact/nothing", headers=X_HEADERS, timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    wrong = requests.get(sim.reporting_url + "/impact/incidents", headers=X_HEADERS, timeout=10)
    assert (wrong.status_code, wrong.json()) == (405, {"detail": "Method Not Allowed"})
    assert wrong.headers["Allow"] == "POST"
    elsewhere = requests.get(sim.base_url + "/", timeout=10)
    assert elsewhere.status_code == 404 and elsewhere.headers["Content-Type"] == "application/json"


# --- Cloud API v1 ----------------------------------------------------------------------------------------


def test_login_answers_the_organization_name(sim: SimulatorServer, cloud: OpenAPI, org: Organization) -> None:
    response = requests.get(sim.cloud_url + "/api/v1/test-login", auth=KEY, timeout=10)
    assert response.status_code == 200
    assert conforms(cloud, response) == {"organisationName": org.organization_name}


@pytest.mark.parametrize(
    "auth",
    [{}, {"auth": (KEY[0], "wrong")}, {"headers": X_HEADERS}],
    ids=["missing", "wrong", "reporting-headers-only"],
)
def test_login_needs_basic_auth(sim: SimulatorServer, cloud: OpenAPI, auth: dict[str, Any]) -> None:
    response = requests.get(sim.cloud_url + "/api/v1/test-login", timeout=10, **auth)
    assert response.status_code == 401
    assert set(conforms(cloud, response, valid_request=False)) == {"code", "message"}


def test_login_is_limited_to_10_per_10_seconds(sim: SimulatorServer, cloud: OpenAPI) -> None:
    statuses = [
        requests.get(sim.cloud_url + "/api/v1/test-login", auth=KEY, timeout=10).status_code
        for _ in range(10)
    ]
    assert statuses == [200] * 10
    limited = requests.get(sim.cloud_url + "/api/v1/test-login", auth=KEY, timeout=10)
    assert limited.status_code == 429
    assert set(conforms(cloud, limited)) == {"code", "message"}


def test_update_incident(sim: SimulatorServer, cloud: OpenAPI, org: Organization) -> None:
    target = org.open_incidents()[0]
    body = {
        "title": "Orders are late",
        "severity": "critical",
        "status": "fixing",
        "description": "Upstream export stalled",
        "resolutionNotes": "",
    }
    response = requests.post(
        f"{sim.cloud_url}/api/v1/incidents/{target.incident_id}", json=body, auth=KEY, timeout=10
    )
    assert response.status_code == 200
    content = conforms(cloud, response)
    number = target.number
    assert content == {
        "id": target.incident_id,
        "number": number,
        "name": "Orders are late",
        "severity": "critical",
        "status": "fixing",
        "description": "Upstream export stalled",
        "resolutionNotes": "",
        "cloudUrl": f"{sim.base_url}/incidents/{number}",
    }
    assert sim.updates[-1].incident_id == target.incident_id
    assert sim.updates[-1].fields == body


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"severity": "Blocker"}},
        {"json": {"status": "closed"}},
        {"json": {"title": 42}},
        {"json": ["status", "resolved"]},
        {"data": b""},
        {"data": b'{"status": '},
    ],
    ids=["severity", "status", "title-type", "array", "empty", "malformed"],
)
def test_update_rejects_bad_bodies_with_400(
    sim: SimulatorServer, cloud: OpenAPI, org: Organization, kwargs: dict[str, Any]
) -> None:
    target = org.open_incidents()[1]
    url = f"{sim.cloud_url}/api/v1/incidents/{target.incident_id}"
    response = requests.post(
        url, auth=KEY, timeout=10, headers={"Content-Type": "application/json"}, **kwargs
    )
    assert response.status_code == 400
    assert set(conforms(cloud, response, valid_request=False)) == {"code", "message"}
    assert sim.updates == []


def test_update_unknown_incident_is_404(sim: SimulatorServer, cloud: OpenAPI) -> None:
    response = requests.post(
        sim.cloud_url + "/api/v1/incidents/no-such-incident",
        json={"status": "resolved"},
        auth=KEY,
        timeout=10,
    )
    assert response.status_code == 404
    conforms(cloud, response)


def test_update_auth_failures(sim: SimulatorServer, cloud: OpenAPI, org: Organization) -> None:
    url = f"{sim.cloud_url}/api/v1/incidents/{org.open_incidents()[0].incident_id}"
    anonymous = requests.post(url, json={"status": "resolved"}, timeout=10)
    assert anonymous.status_code == 401
    conforms(cloud, anonymous, valid_request=False)
    forbidden = requests.post(url, json={"status": "resolved"}, auth=FORBIDDEN, timeout=10)
    assert forbidden.status_code == 403
    conforms(cloud, forbidden)
    assert sim.updates == []


def test_update_is_limited_to_10_per_minute(sim: SimulatorServer, cloud: OpenAPI, org: Organization) -> None:
    url = f"{sim.cloud_url}/api/v1/incidents/{org.open_incidents()[2].incident_id}"
    statuses = [
        requests.post(url, json={"title": f"t{n}"}, auth=KEY, timeout=10).status_code for n in range(10)
    ]
    assert statuses == [200] * 10
    limited = requests.post(url, json={"title": "t10"}, auth=KEY, timeout=10)
    assert limited.status_code == 429
    assert set(conforms(cloud, limited)) == {"code", "message"}
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert len(sim.updates) == 10


def test_cloud_unknown_path_and_method(sim: SimulatorServer) -> None:
    missing = requests.get(sim.cloud_url + "/api/v1/nothing", auth=KEY, timeout=10)
    assert missing.status_code == 404 and set(missing.json()) == {"code", "message"}
    wrong = requests.get(sim.cloud_url + "/api/v1/incidents/abc", auth=KEY, timeout=10)
    assert wrong.status_code == 405 and set(wrong.json()) == {"code", "message"}


def test_requests_are_logged(sim: SimulatorServer) -> None:
    post_incidents(sim, {"page": 1, "size": 5})
    record = sim.requests_log[-1]
    assert (record.method, record.path, record.status, record.body) == (
        "POST",
        "/v1/impact/incidents",
        200,
        {"page": 1, "size": 5},
    )
    assert record.headers["x-api-key-id"] == KEY[0]
