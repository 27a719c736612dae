"""The simulated organisation: generator, daily-snapshot row semantics, truth queries, updates and limits."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from exporter.simulator import (
    Dataset,
    Incident,
    Organization,
    SimulatorServer,
    StateChange,
    generate_organization,
)

NOW = datetime(2026, 3, 14, 15, 0, tzinfo=timezone.utc)
TODAY = NOW.date()
KEY = ("org-key-id", "org-key-secret")
HEADERS = {"X-API-KEY-ID": KEY[0], "X-API-KEY-SECRET": KEY[1]}


def day(offset: int, hour: int = 12) -> datetime:
    """``hour`` o'clock UTC, ``offset`` days from today (negative: in the past)."""
    return datetime.combine(TODAY + timedelta(days=offset), datetime.min.time(), tzinfo=timezone.utc).replace(
        hour=hour
    )


def make_incident(number: int, created: datetime, *changes: StateChange, **kwargs: Any) -> Incident:
    return Incident(
        incident_id=f"inc-{number}",
        number=number,
        dataset_id=kwargs.pop("dataset_id", "ds-1"),
        check_id=f"check-{number}",
        check_name=f"check {number}",
        title=f"Incident {number}",
        created_at=created,
        severity=kwargs.pop("severity", "minor"),
        changes=list(changes),
        **kwargs,
    )


def make_org(*incidents: Incident) -> Organization:
    datasets = [
        Dataset("ds-1", "orders", "Orders", "src-1", "warehouse", "owner@example.com"),
        Dataset("ds-2", "customers", "Customers", "src-1", "warehouse", None),
    ]
    return Organization(organization_id="org-1", datasets=datasets, incidents=list(incidents), now=NOW)


@pytest.fixture
def history() -> Organization:
    """A hand-written history covering each row rule."""
    return make_org(
        # Progresses, changes severity, then resolves.
        make_incident(
            1,
            day(-6, 10),
            StateChange(day(-4, 9), status="investigating"),
            StateChange(day(-3, 12), severity="critical"),
            StateChange(day(-2, 8), status="resolved"),
        ),
        # Deleted yesterday: no rows at all, on any date.
        make_incident(2, day(-5), deleted_at=day(-1)),
        # Reopened after a resolution.
        make_incident(
            3,
            day(-5),
            StateChange(day(-4), status="resolved"),
            StateChange(day(-2), status="investigating"),
            dataset_id="ds-2",
            lead_email="lead@example.com",
        ),
        # Created an hour ago; its change an hour from now is not visible yet.
        make_incident(4, NOW - timedelta(hours=1), StateChange(NOW + timedelta(hours=1), status="fixing")),
        # Will be deleted only in the future: still visible.
        make_incident(5, day(-1), deleted_at=NOW + timedelta(hours=1)),
    )


def rows_by_incident(org: Organization, status: str) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    for row in org.incident_rows(status, day(-10), NOW):
        out.setdefault(row["incident_id"], []).append((row["report_date"], row["status"], row["severity"]))
    return out


def iso_day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


# --- row semantics ---------------------------------------------------------------------------------------


def test_one_row_per_incident_per_report_date(history: Organization) -> None:
    unresolved = rows_by_incident(history, "unresolved")
    resolved = rows_by_incident(history, "resolved")
    assert unresolved["inc-1"] == [
        (iso_day(-6), "reported", "minor"),
        (iso_day(-5), "reported", "minor"),
        (iso_day(-4), "investigating", "minor"),
        (iso_day(-3), "investigating", "critical"),
    ]
    # Resolved incidents keep appearing on every later date: the table is a daily snapshot.
    assert resolved["inc-1"] == [(iso_day(d), "resolved", "critical") for d in (-2, -1, 0)]
    assert "inc-2" not in unresolved and "inc-2" not in resolved
    reopened = [(iso_day(-5), "reported")] + [(iso_day(d), "investigating") for d in (-2, -1, 0)]
    assert [r[:2] for r in unresolved["inc-3"]] == reopened
    assert [r[0] for r in resolved["inc-3"]] == [iso_day(-4), iso_day(-3)]
    assert unresolved["inc-4"] == [(iso_day(0), "reported", "minor")]
    assert [r[0] for r in unresolved["inc-5"]] == [iso_day(-1), iso_day(0)]


def test_row_fields_and_order(history: Organization) -> None:
    rows = history.incident_rows("resolved", day(-10), NOW) + history.incident_rows(
        "unresolved", day(-10), NOW
    )
    assert len({row["incident_id_report_date_id"] for row in rows}) == len(rows)
    unresolved = history.incident_rows("unresolved", day(-10), NOW)
    keys = [(row["report_date"], int(row["incident_id"].split("-")[1])) for row in unresolved]
    assert keys == sorted(keys)
    first_resolved = history.incident_rows("resolved", day(-10), NOW)[0]
    assert (first_resolved["incident_id"], first_resolved["resolved_at"]) == ("inc-3", day(-4).isoformat())
    resolved_1 = [row for row in rows if row["incident_id"] == "inc-1" and row["status"] == "resolved"]
    assert {row["resolved_at"] for row in resolved_1} == {day(-2, 8).isoformat()}
    assert first_resolved["organization_id"] == "org-1"
    reopened = [row for row in unresolved if row["incident_id"] == "inc-3"][-1]
    assert reopened["resolved_at"] is None
    assert reopened["lead_email"] == "lead@example.com" and reopened["lead_id"]
    assert unresolved[0]["lead_email"] is None and unresolved[0]["lead_id"] is None


def test_window_and_dataset_filters(history: Organization) -> None:
    assert history.incident_rows("unresolved", day(-3), day(-3)) == [
        row for row in history.incident_rows("unresolved", day(-10), NOW) if row["report_date"] == iso_day(-3)
    ]
    only = history.incident_rows("unresolved", day(-10), NOW, ["ds-2"])
    assert {row["dataset_id"] for row in only} == {"ds-2"}
    # Report dates stop at the latest one, whatever to_datetime says.
    later = history.incident_rows("unresolved", day(-1), NOW + timedelta(days=5))
    assert max(row["report_date"] for row in later) == iso_day(0)
    assert history.incident_rows("unresolved", NOW, day(-3)) == []
    with pytest.raises(ValueError):
        history.incident_rows("open", day(-3), NOW)


def test_truth_queries(history: Organization) -> None:
    assert [state.incident_id for state in history.open_incidents()] == ["inc-3", "inc-4", "inc-5"]
    assert [state.incident_id for state in history.resolved_since(day(-3))] == ["inc-1"]
    assert history.resolved_since(day(-2, 9)) == []
    assert history.latest_report_date() == TODAY
    incident_4 = history.incidents[3]
    state = history.state_on(incident_4, TODAY)
    assert state is not None and state.status == "reported"  # capped at now
    assert history.state_on(incident_4, TODAY - timedelta(days=1)) is None
    assert (
        history.state_on(history.incidents[1], TODAY - timedelta(days=3)) is None
    )  # deleted: gone everywhere


def test_resolved_at_is_the_last_transition_still_in_force() -> None:
    incident = make_incident(
        1,
        day(-9),
        StateChange(day(-8), status="resolved"),
        StateChange(day(-7), status="resolved"),  # no transition: still resolved since day -8
        StateChange(day(-6), status="fixing"),
        StateChange(day(-5), status="resolved"),
    )
    assert incident.resolved_at == day(-5)
    state = incident.state_at(day(-7, 13))
    assert state is not None and state.resolved_at == day(-8)
    reopened = incident.state_at(day(-6, 13))
    assert reopened is not None and reopened.resolved_at is None
    assert incident.state_at(day(-10)) is None


def test_apply_update_shows_on_the_latest_report_date_only(history: Organization) -> None:
    history.apply_update("inc-3", status="resolved", severity="major", title="Fixed", description="done")
    rows = history.incident_rows("resolved", day(-1), NOW)
    today = [row for row in rows if row["incident_id"] == "inc-3"]
    assert [(row["report_date"], row["severity"], row["title"]) for row in today] == [
        (iso_day(0), "major", "Fixed")
    ]
    assert today[0]["resolved_at"] == NOW.isoformat()
    assert today[0]["description_notes"] == "done"
    assert "inc-3" not in [state.incident_id for state in history.open_incidents()]
    with pytest.raises(KeyError):
        history.apply_update("inc-404", status="resolved")
    with pytest.raises(KeyError):
        history.apply_update("inc-2", status="resolved")  # deleted
    with pytest.raises(ValueError):
        history.apply_update("inc-4", severity="Blocker")


def test_direct_mutation_is_not_hidden_by_the_cache(history: Organization) -> None:
    before = len(history.incident_rows("unresolved", day(-10), NOW))
    history.incidents[2].changes.append(StateChange(NOW, status="resolved"))
    assert len(history.incident_rows("unresolved", day(-10), NOW)) == before - 1
    history.add_incident(make_incident(9, day(-1)))
    history.delete_incident("inc-5")
    ids = {row["incident_id"] for row in history.incident_rows("unresolved", day(-10), NOW)}
    assert "inc-9" in ids and "inc-5" not in ids


def test_set_now_moves_the_latest_report_date(history: Organization) -> None:
    history.set_now(NOW + timedelta(days=1))
    assert history.latest_report_date() == TODAY + timedelta(days=1)
    dates = {
        row["report_date"] for row in history.incident_rows("unresolved", day(-1), NOW + timedelta(days=1))
    }
    assert iso_day(1) in dates


# --- generator -------------------------------------------------------------------------------------------


def all_rows(org: Organization) -> list[dict[str, Any]]:
    start = org.now - timedelta(days=200)
    return org.incident_rows("unresolved", start, org.now) + org.incident_rows("resolved", start, org.now)


def test_same_seed_same_data() -> None:
    first = generate_organization(seed=3, incidents=200, datasets=10, days=50, now=NOW)
    second = generate_organization(seed=3, incidents=200, datasets=10, days=50, now=NOW)
    other = generate_organization(seed=4, incidents=200, datasets=10, days=50, now=NOW)
    assert all_rows(first) == all_rows(second)
    assert first.dataset_rows() == second.dataset_rows()
    assert all_rows(first) != all_rows(other)


def test_generated_history_is_realistic() -> None:
    org = generate_organization(seed=42, incidents=4000, datasets=40, days=120, now=NOW)
    severities = Counter(incident.severity for incident in org.incidents)
    assert 0.50 < severities["minor"] / 4000 < 0.60
    assert 0.25 < severities["major"] / 4000 < 0.35
    assert 0.11 < severities["critical"] / 4000 < 0.19
    old = [incident for incident in org.incidents if NOW - incident.created_at > timedelta(days=30)]
    resolved = sum(incident.current_state().status == "resolved" for incident in old)
    assert 0.6 < resolved / len(old) < 0.8
    order = {"reported": 0, "investigating": 1, "fixing": 2, "resolved": 3}
    forward = [[change.status for change in incident.changes if change.status] for incident in org.incidents]
    assert sum(statuses == sorted(statuses, key=order.__getitem__) for statuses in forward) / 4000 > 0.9
    assert any(change.severity for incident in org.incidents for change in incident.changes)
    assert 0 < sum(incident.deleted_at is not None for incident in org.incidents) < 200
    assert sum(NOW - incident.created_at < timedelta(days=1) for incident in org.incidents) > 20
    assert sum(NOW - incident.created_at < timedelta(hours=6) for incident in org.incidents) > 3
    assert any(incident.lead_email is None for incident in org.incidents)
    assert all(change.at <= NOW for incident in org.incidents for change in incident.changes)
    created = [incident.created_at for incident in sorted(org.incidents, key=lambda inc: inc.number)]
    assert created == sorted(created)
    assert min(created) < NOW - timedelta(days=100)


def test_serves_100k_rows_of_three_days_with_exact_paging() -> None:
    # How fast the simulator serves such an organisation is measured in bench/, not asserted here.
    org = generate_organization(
        seed=1, incidents=34_000, datasets=200, days=120, now=NOW, resolved_fraction=0.0, deleted_fraction=0.0
    )
    rows = org.incident_rows("unresolved", day(-2, 0), NOW)
    total, page = org.incident_page("unresolved", day(-2, 0), NOW, None, 98_000, 1000)
    assert len(rows) == total >= 99_000
    assert page == rows[98_000:99_000]


# --- over HTTP -------------------------------------------------------------------------------------------


@pytest.fixture
def served(history: Organization) -> Iterator[SimulatorServer]:
    with SimulatorServer(
        history, api_key_id=KEY[0], api_key_secret=KEY[1], update_rate_limit=3, update_rate_window_seconds=0.5
    ) as server:
        yield server


def fetch_all(sim: SimulatorServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        response = requests.post(
            sim.reporting_url + "/impact/incidents", json={**body, "page": page}, headers=HEADERS, timeout=10
        )
        if response.status_code == 202:
            return rows
        assert response.status_code == 200
        rows += response.json()["data"]
        page += 1


def test_pages_reassemble_the_rows(served: SimulatorServer, history: Organization) -> None:
    body = {
        "status": "unresolved",
        "size": 2,
        "from_datetime": day(-10).isoformat(),
        "to_datetime": NOW.isoformat(),
    }
    assert fetch_all(served, body) == history.incident_rows("unresolved", day(-10), NOW)


def test_update_over_http_shows_at_the_latest_report_date(served: SimulatorServer) -> None:
    response = requests.post(
        served.cloud_url + "/api/v1/incidents/inc-4",
        json={"status": "resolved", "severity": "critical"},
        auth=KEY,
    )
    assert response.status_code == 200
    body = {"status": "resolved", "from_datetime": day(-1).isoformat()}
    rows = [row for row in fetch_all(served, body) if row["incident_id"] == "inc-4"]
    assert [(row["report_date"], row["severity"], row["resolved_at"]) for row in rows] == [
        (iso_day(0), "critical", NOW.isoformat())
    ]
    assert served.updates[-1].fields == {"status": "resolved", "severity": "critical"}
    assert served.updates[-1].at == NOW


def test_update_rate_limit_is_a_sliding_window(served: SimulatorServer) -> None:
    url = served.cloud_url + "/api/v1/incidents/inc-4"
    statuses = [requests.post(url, json={"title": str(n)}, auth=KEY).status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    time.sleep(0.6)  # the behaviour under test: time passing slides the window (of 0.5 s, see `served`)
    assert requests.post(url, json={"title": "later"}, auth=KEY).status_code == 200
    assert len(served.updates) == 4


def test_without_retry_after(history: Organization) -> None:
    with SimulatorServer(
        history, api_key_id=KEY[0], api_key_secret=KEY[1], update_rate_limit=1, retry_after_header=False
    ) as sim:
        url = sim.cloud_url + "/api/v1/incidents/inc-4"
        assert requests.post(url, json={}, auth=KEY).status_code == 200
        limited = requests.post(url, json={}, auth=KEY)
        assert limited.status_code == 429 and "Retry-After" not in limited.headers


def test_datasets_count_open_incidents(served: SimulatorServer, history: Organization) -> None:
    response = requests.post(served.reporting_url + "/coverage/datasets", json={}, headers=HEADERS)
    counts = {row["dataset_name"]: row["number_of_failed_checks"] for row in response.json()["data"]}
    assert counts == {"orders": 2, "customers": 1}
    owners = {row["dataset_name"]: row["owner_email"] for row in response.json()["data"]}
    assert owners == {"orders": "owner@example.com", "customers": None}


def test_report_dates_are_utc_days(history: Organization) -> None:
    late = datetime(2026, 3, 13, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 04:30 UTC on the 14th
    rows = history.incident_rows("unresolved", late, late)
    assert {row["report_date"] for row in rows} == {date(2026, 3, 14).isoformat()}


def test_stop_cuts_kept_alive_connections(history: Organization) -> None:
    sim = SimulatorServer(history)
    sim.start()
    session = requests.Session()
    assert session.get(sim.reporting_url + "/ping", timeout=5).status_code == 200
    sim.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(sim.reporting_url + "/ping", timeout=5)
