"""Each injected fault happens on the wire as configured, seen with plain requests and raw sockets."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from exporter.simulator import (
    FAULT_KINDS,
    FaultPlan,
    FaultRule,
    Organization,
    SimulatorServer,
    generate_organization,
)
from exporter.simulator.cli import build_server, parse_simulator_args
from tests.support.paths import DATA

NOW = datetime(2026, 5, 2, 9, 30, tzinfo=timezone.utc)
KEY = ("fault-key-id", "fault-key-secret")
HEADERS = {"X-API-KEY-ID": KEY[0], "X-API-KEY-SECRET": KEY[1]}
INCIDENTS = "/v1/impact/incidents"
SIZE = 10


@pytest.fixture(scope="module")
def org() -> Organization:
    return generate_organization(seed=5, incidents=60, datasets=5, days=30, now=NOW)


@pytest.fixture(scope="module")
def module_sim(org: Organization) -> Iterator[SimulatorServer]:
    with SimulatorServer(org, api_key_id=KEY[0], api_key_secret=KEY[1]) as server:
        yield server


@pytest.fixture
def sim(module_sim: SimulatorServer) -> Iterator[SimulatorServer]:
    module_sim.clear_records()
    yield module_sim
    module_sim.set_faults(None)
    module_sim.page_delay_seconds = 0.0


def faults(sim: SimulatorServer, *rules: dict[str, Any], seed: int = 0) -> FaultPlan:
    plan = FaultPlan.from_dict({"seed": seed, "rules": list(rules)})
    sim.set_faults(plan)
    return plan


def page(
    sim: SimulatorServer, number: int = 1, status: str = "unresolved", **kwargs: Any
) -> requests.Response:
    body = {"page": number, "size": SIZE, "status": status}
    return requests.post(
        sim.base_url + INCIDENTS, json=body, headers=HEADERS, timeout=kwargs.pop("timeout", 10)
    )


def clean_rows(org: Organization, status: str = "unresolved") -> list[dict[str, Any]]:
    return org.incident_rows(status, NOW - timedelta(days=31), NOW)


def raw_exchange(sim: SimulatorServer, body: dict[str, Any]) -> tuple[dict[str, str], bytes, OSError | None]:
    """POST incidents over a bare socket; return headers, the body bytes received, and any socket error."""
    address = urlsplit(sim.base_url)
    payload = json.dumps(body).encode()
    head = (
        f"POST {INCIDENTS} HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nX-API-KEY-ID: {KEY[0]}\r\nX-API-KEY-SECRET: {KEY[1]}\r\n"
        "Connection: close\r\n\r\n"
    )
    received = b""
    error: OSError | None = None
    with socket.create_connection((address.hostname, address.port or 80), timeout=5) as sock:
        sock.sendall(head.encode() + payload)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError as exc:
            error = exc
    header_block, _, data = received.partition(b"\r\n\r\n")
    lines = header_block.decode().split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    headers[":status"] = lines[0].split()[1] if lines and lines[0] else ""
    return headers, data, error


# --- replies replaced --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 503, 504, 401, 403])
def test_http_status_on_one_page_once(sim: SimulatorServer, code: int) -> None:
    faults(
        sim, {"kind": "http_status", "path": INCIDENTS, "page": 2, "code": code, "times": 1, "retry_after": 7}
    )
    assert page(sim, 1).status_code == 200
    failed = page(sim, 2)
    assert failed.status_code == code
    assert failed.headers["Retry-After"] == "7"
    assert failed.headers["Content-Type"] == "application/json"
    assert isinstance(failed.json()["detail"], str)
    assert page(sim, 2).status_code == 200
    assert [record.status for record in sim.requests_log] == [200, code, 200]


def test_http_status_with_http_date_and_cloud_shape(sim: SimulatorServer) -> None:
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    faults(sim, {"kind": "http_status", "path": "/api/v1/*", "code": 502, "retry_after": date})
    response = requests.get(sim.base_url + "/api/v1/test-login", auth=KEY, timeout=10)
    assert (response.status_code, response.headers["Retry-After"]) == (502, date)
    assert response.json() == {"code": "bad_gateway", "message": "Bad Gateway"}


def test_rate_limited_with_and_without_retry_after(sim: SimulatorServer) -> None:
    faults(
        sim,
        {"kind": "rate_limited", "path": INCIDENTS, "times": 1, "retry_after": 2},
        {"kind": "rate_limited", "path": INCIDENTS, "times": 1},
    )
    first, second, third = page(sim), page(sim), page(sim)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert third.status_code == 200


def test_status_filter(sim: SimulatorServer) -> None:
    faults(sim, {"kind": "http_status", "path": INCIDENTS, "status": "resolved", "code": 500})
    assert page(sim, status="unresolved").status_code == 200
    assert page(sim, status="resolved").status_code == 500


def test_probability_is_seeded(sim: SimulatorServer) -> None:
    def pattern() -> list[int]:
        faults(sim, {"kind": "http_status", "path": INCIDENTS, "code": 503, "probability": 0.5}, seed=9)
        return [page(sim).status_code for _ in range(16)]

    first = pattern()
    assert first == pattern()
    assert 0 < first.count(503) < 16


# --- timing and the connection -----------------------------------------------------------------------------


def test_delay_beyond_the_client_timeout(sim: SimulatorServer) -> None:
    faults(sim, {"kind": "delay", "path": INCIDENTS, "seconds": 0.6, "times": 2})
    with pytest.raises(requests.exceptions.ReadTimeout):
        page(sim, timeout=0.2)
    started = time.monotonic()
    assert page(sim).status_code == 200
    assert time.monotonic() - started >= 0.6


def test_page_delay_is_settable_at_runtime(sim: SimulatorServer) -> None:
    sim.page_delay_seconds = 0.3
    started = time.monotonic()
    assert page(sim).status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("rst", [True, False], ids=["reset", "close"])
def test_reset_mid_body(sim: SimulatorServer, rst: bool) -> None:
    faults(sim, {"kind": "reset_mid_body", "path": INCIDENTS, "fraction": 0.3, "rst": rst})
    headers, data, error = raw_exchange(sim, {"size": SIZE})
    assert headers[":status"] == "200"
    assert len(data) < int(headers["content-length"])
    if rst:
        assert isinstance(error, ConnectionResetError)
    else:
        assert error is None and len(data) == int(int(headers["content-length"]) * 0.3)
    with pytest.raises(requests.exceptions.RequestException):
        page(sim).json()


def test_truncated_json(sim: SimulatorServer, org: Organization) -> None:
    faults(sim, {"kind": "truncated_json", "path": INCIDENTS, "fraction": 0.5, "times": 1})
    broken = page(sim)
    assert broken.status_code == 200 and broken.headers["Content-Type"] == "application/json"
    assert int(broken.headers["Content-Length"]) == len(broken.content)
    with pytest.raises(ValueError):
        broken.json()
    assert page(sim).content.startswith(broken.content)


def test_malformed_json(sim: SimulatorServer) -> None:
    faults(sim, {"kind": "malformed_json", "path": INCIDENTS})
    response = page(sim)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()


def test_wrong_content_type(sim: SimulatorServer) -> None:
    faults(sim, {"kind": "wrong_content_type", "path": INCIDENTS, "times": 1})
    html = page(sim)
    assert html.status_code == 200
    assert html.headers["Content-Type"].startswith("text/html")
    assert html.text.startswith("<html>")
    faults(sim, {"kind": "wrong_content_type", "path": INCIDENTS, "code": 502, "content_type": "text/plain"})
    plain = page(sim)
    assert (plain.status_code, plain.headers["Content-Type"]) == (502, "text/plain")


# --- rows reshaped -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [3, -2])
def test_total_drift_shifts_the_page(sim: SimulatorServer, org: Organization, delta: int) -> None:
    rows = clean_rows(org)
    faults(sim, {"kind": "total_drift", "path": INCIDENTS, "page": 2, "delta": delta})
    body = page(sim, 2).json()
    assert body["total"] == len(rows) + delta
    assert body["data"] == rows[SIZE - delta : 2 * SIZE - delta]
    assert page(sim, 1).json()["total"] == len(rows)


def test_duplicate_rows(sim: SimulatorServer, org: Organization) -> None:
    rows = clean_rows(org)
    faults(sim, {"kind": "duplicate_rows", "path": INCIDENTS, "page": 3})
    assert page(sim, 3).json()["data"] == rows[SIZE : 2 * SIZE]
    faults(sim, {"kind": "duplicate_rows", "path": INCIDENTS, "page": 3, "rows": 4})
    assert page(sim, 3).json()["data"] == rows[2 * SIZE - 4 : 2 * SIZE] + rows[2 * SIZE + 4 : 3 * SIZE]


def test_empty_page(sim: SimulatorServer, org: Organization) -> None:
    faults(sim, {"kind": "empty_page", "path": INCIDENTS, "page": 2})
    response = page(sim, 2)
    assert response.status_code == 200
    assert response.json()["data"] == [] and response.json()["total"] == len(clean_rows(org))


def test_null_fields(sim: SimulatorServer) -> None:
    faults(
        sim, {"kind": "null_fields", "path": INCIDENTS, "fields": ["report_date", "incident_id"], "rows": 1}
    )
    data = page(sim).json()["data"]
    assert (data[0]["report_date"], data[0]["incident_id"]) == (None, None)
    assert all(row["report_date"] and row["incident_id"] for row in data[1:])
    faults(sim, {"kind": "null_fields", "path": INCIDENTS, "fields": ["created_at"], "remove": True})
    assert all("created_at" not in row for row in page(sim).json()["data"])


def test_unknown_values(sim: SimulatorServer) -> None:
    faults(sim, {"kind": "unknown_values", "path": INCIDENTS})
    data = page(sim).json()["data"]
    assert {(row["severity"], row["status"]) for row in data} == {("Blocker", "On Hold")}
    faults(sim, {"kind": "unknown_values", "path": INCIDENTS, "values": {"severity": "CRITICAL"}})
    assert {row["severity"] for row in page(sim).json()["data"]} == {"CRITICAL"}


def test_naive_and_non_utc_timestamps(sim: SimulatorServer, org: Organization) -> None:
    rows = clean_rows(org, "resolved")[:SIZE]
    faults(sim, {"kind": "naive_timestamps", "path": INCIDENTS})
    naive = page(sim, status="resolved").json()["data"]
    faults(sim, {"kind": "non_utc_timestamps", "path": INCIDENTS, "offset": "+02:00"})
    shifted = page(sim, status="resolved").json()["data"]
    for clean, bare, moved in zip(rows, naive, shifted, strict=True):
        for name in ("created_at", "resolved_at", "last_updated"):
            instant = datetime.fromisoformat(clean[name])
            assert datetime.fromisoformat(bare[name]).tzinfo is None
            assert datetime.fromisoformat(bare[name]).replace(tzinfo=timezone.utc) == instant
            assert moved[name].endswith("+02:00") and datetime.fromisoformat(moved[name]) == instant


def test_row_faults_leave_other_replies_alone(sim: SimulatorServer) -> None:
    faults(sim, {"kind": "empty_page", "path": "*"}, {"kind": "unknown_values", "path": "*"})
    past_the_end = page(sim, 99)
    assert past_the_end.status_code == 202 and past_the_end.json()["resource"] == "incidents"
    etl = requests.get(sim.base_url + "/v1/last_etl_refresh", headers=HEADERS, timeout=10)
    assert etl.status_code == 200 and "last_etl_refresh_at" in etl.json()["data"]


# --- plans -------------------------------------------------------------------------------------------------


def test_terminal_rule_shadows_later_rules_and_times_count(sim: SimulatorServer) -> None:
    plan = faults(
        sim,
        {"kind": "http_status", "path": INCIDENTS, "code": 500, "times": 2},
        {"kind": "http_status", "path": INCIDENTS, "code": 503, "times": 1},
    )
    assert [page(sim).status_code for _ in range(4)] == [500, 500, 503, 200]
    assert [rule.fired for rule in plan.rules] == [2, 1]


def test_scenario_files(tmp_path: Path, org: Organization) -> None:
    scenario = {"seed": 3, "rules": [{"kind": "http_status", "path": INCIDENTS, "code": 502, "page": 2}]}
    as_json = tmp_path / "scenario.json"
    as_json.write_text(json.dumps(scenario))
    as_yaml = tmp_path / "scenario.yaml"
    as_yaml.write_text(
        "seed: 3\nrules:\n  - kind: http_status\n    path: /v1/impact/incidents\n    code: 502\n    page: 2\n"
    )
    assert FaultPlan.from_file(as_json) == FaultPlan.from_file(as_yaml) == FaultPlan.from_dict(scenario)
    options = parse_simulator_args(
        ["--web.listen-address", "127.0.0.1:0", "--simulator.faults", str(as_yaml)], {}
    )
    server = build_server(options)
    try:
        assert server.faults == FaultPlan.from_dict(scenario)
    finally:
        server.stop()


def test_example_scenario_names_every_kind() -> None:
    plan = FaultPlan.from_file(DATA / "simulator" / "faults-example.yaml")
    assert {rule.kind for rule in plan.rules} == FAULT_KINDS
    assert plan.seed == 7


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "explode"},
        {"kind": "http_status"},
        {"kind": "null_fields"},
        {"kind": "delay"},
        {"kind": "empty_page", "colour": "red"},
        {"kind": "truncated_json", "fraction": 2},
    ],
)
def test_invalid_rules_are_rejected(rule: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FaultPlan.from_dict({"rules": [rule]})
    with pytest.raises(ValueError):
        FaultRule.from_dict(rule)
