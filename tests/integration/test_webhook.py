"""The Alertmanager webhook receiver in a running exporter, against the simulator over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from structlog.testing import capture_logs

from exporter.app import Exporter
from exporter.logs import redact_processor
from exporter.simulator import SimulatorServer, StateChange
from exporter.simulator.faults import FaultPlan, FaultRule
from exporter.soda.ratelimit import bucket_for, reset_buckets
from tests.support.builders import KEY_ID, NOW, incident, make_org, sim_env
from tests.support.http import scrape, series
from tests.support.waiting import wait_until

StartSim = Callable[..., SimulatorServer]
StartExporter = Callable[..., Exporter]
TOKEN = "webhook-token-for-tests-7c1d"
PATH = "/alertmanager/webhook"


@pytest.fixture(autouse=True)
def _fresh_bucket() -> Iterator[None]:
    """The exporter uses the process-wide bucket of each API key: give each test all ten tokens."""
    reset_buckets()
    yield
    reset_buckets()


def alert(
    incident_id: str | None, action: str | None, status: str = "firing", **labels: str
) -> dict[str, Any]:
    """One alert as Alertmanager renders it."""
    all_labels = {"alertname": "SodaIncidentUnattended", **labels}
    if incident_id is not None:
        all_labels["soda_incident_id"] = incident_id
    if action is not None:
        all_labels["soda_action"] = action
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": "s"},
        "startsAt": "2025-01-01T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": "0123456789abcdef",
    }


def post(
    exporter: Exporter, *alerts: dict[str, Any], token: str | None = TOKEN, **extra: Any
) -> requests.Response:
    """POST a version 4 payload to the exporter's webhook."""
    payload = {
        "version": "4",
        "groupKey": '{}:{alertname="SodaIncidentUnattended"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "soda",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager",
        "alerts": list(alerts),
        **extra,
    }
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.post(f"http://127.0.0.1:{exporter.port}{PATH}", json=payload, headers=headers, timeout=10)


def counts(exporter: Exporter) -> dict[tuple[str, str], float]:
    """soda_exporter_incident_updates_total by (action, result), zeros left out."""
    found = series(scrape(exporter.port).text, "soda_exporter_incident_updates_total")
    return {(dict(k)["action"], dict(k)["result"]): v for k, v in found.items() if v}


def queue_length(exporter: Exporter) -> float:
    """The queue-length gauge as served."""
    return series(scrape(exporter.port).text, "soda_exporter_incident_update_queue_length")[()]


def org() -> Any:
    """Three open incidents (major, critical, minor) and one resolved."""
    resolved = incident(4, changes=[StateChange(at=NOW - timedelta(days=1), status="resolved")])
    return make_org([incident(1), incident(2, severity="critical"), incident(3, severity="minor"), resolved])


@pytest.fixture
def webhook(
    start_simulator: StartSim, start_exporter: StartExporter
) -> Callable[..., tuple[SimulatorServer, Exporter]]:
    """Factory: a simulator and a polled exporter serving the webhook with ``argv`` added."""

    def start(*argv: str, **env: str) -> tuple[SimulatorServer, Exporter]:
        sim = start_simulator(org())
        environ = sim_env(sim, SODA_EXPORTER_WEBHOOK_TOKEN=TOKEN, **env)
        exporter = start_exporter(sim, "--webhook.enable", *argv, env=environ)
        assert exporter.state.wait_ready(20)
        return sim, exporter

    return start


def test_anything_but_the_bearer_token_is_401_and_queues_nothing(webhook: Callable[..., Any]) -> None:
    sim, exporter = webhook()
    escalate = alert("inc-0001", "escalate")
    for token in (None, "wrong-token-wrong-token", ""):
        reply = post(exporter, escalate, token=token)
        assert reply.status_code == 401
        assert reply.headers["WWW-Authenticate"] == "Bearer"
    basic = requests.post(
        f"http://127.0.0.1:{exporter.port}{PATH}",
        json={},
        headers={"Authorization": f"Basic {TOKEN}"},
        timeout=5,
    )
    assert basic.status_code == 401
    assert queue_length(exporter) == 0
    assert counts(exporter) == {}
    assert sim.updates == []


def test_escalate_updates_the_incident_once_however_often_alertmanager_repeats_it(
    webhook: Callable[..., Any],
) -> None:
    sim, exporter = webhook()
    reply = post(exporter, alert("inc-0001", "escalate"))
    assert reply.status_code == 200 and reply.json() == {"queued": 1, "skipped": {}}
    wait_until(lambda: len(sim.updates) == 1)
    assert sim.updates[0].incident_id == "inc-0001" and sim.updates[0].fields == {"severity": "critical"}
    wait_until(lambda: counts(exporter).get(("escalate", "updated")) == 1)
    # Alertmanager re-sends the whole group; the snapshot has not been refreshed since.
    assert post(exporter, alert("inc-0001", "escalate")).json()["skipped"] == {"unchanged": 1}
    exporter.pollers[0].run_cycle()
    assert exporter.state.snapshot("default").open_states["inc-0001"] == ("critical", "reported")
    assert post(exporter, alert("inc-0001", "escalate")).json()["skipped"] == {"unchanged": 1}
    assert len(sim.updates) == 1
    wait_until(lambda: counts(exporter).get(("escalate", "unchanged")) == 2)


def test_an_update_that_would_change_nothing_is_skipped_and_counted(webhook: Callable[..., Any]) -> None:
    sim, exporter = webhook()
    reply = post(
        exporter,
        alert("inc-0002", "escalate"),
        alert("inc-0004", "escalate"),
        alert("inc-0404", "investigate"),
    )
    assert reply.json() == {"queued": 0, "skipped": {"unchanged": 1, "not_open": 2}}
    wait_until(
        lambda: (
            counts(exporter)
            == {("escalate", "unchanged"): 1, ("escalate", "not_open"): 1, ("investigate", "not_open"): 1}
        )
    )
    assert [r for r in sim.requests_log if r.path.startswith("/api/")] == []


def test_the_same_update_twice_in_one_notification_is_sent_once(webhook: Callable[..., Any]) -> None:
    sim, exporter = webhook()
    reply = post(exporter, alert("inc-0003", "investigate"), alert("inc-0003", "investigate"))
    assert reply.json() == {"queued": 1, "skipped": {"duplicate": 1}}
    wait_until(lambda: len(sim.updates) == 1)
    assert sim.updates[0].fields == {"status": "investigating"}


def test_unknown_actions_missing_ids_and_other_alerts(webhook: Callable[..., Any]) -> None:
    sim, exporter = webhook()
    reply = post(
        exporter,
        alert("inc-0001", "delete-everything"),
        alert(None, "escalate"),
        alert("inc-0001", "escalate", status="resolved"),
        alert("inc-0001", None),
    )
    assert reply.status_code == 200  # retrying would not help, so Alertmanager must not
    assert reply.json() == {"queued": 0, "skipped": {"unknown_action": 1, "invalid": 1}}
    wait_until(lambda: counts(exporter) == {("unknown", "unknown_action"): 1, ("escalate", "invalid"): 1})
    assert sim.updates == []


def test_actions_from_a_yaml_file(webhook: Callable[..., Any], tmp_path: Path) -> None:
    actions = tmp_path / "actions.yml"
    actions.write_text("actions:\n  start-fixing:\n    status: fixing\n  calm-down:\n    severity: minor\n")
    sim, exporter = webhook("--webhook.actions-file", str(actions))
    reply = post(
        exporter,
        alert("inc-0001", "start-fixing"),
        alert("inc-0002", "calm-down"),
        alert("inc-0003", "escalate"),
    )
    assert reply.json()["queued"] == 3
    wait_until(lambda: len(sim.updates) == 3)
    assert {u.incident_id: u.fields for u in sim.updates} == {
        "inc-0001": {"status": "fixing"},
        "inc-0002": {"severity": "minor"},
        "inc-0003": {"severity": "critical"},
    }


def test_dry_run_logs_what_it_would_send_and_sends_nothing(webhook: Callable[..., Any]) -> None:
    sim, exporter = webhook("--webhook.dry-run")
    with capture_logs() as logs:
        assert post(exporter, alert("inc-0001", "escalate")).json()["queued"] == 1
        wait_until(lambda: counts(exporter).get(("escalate", "dry_run")) == 1)
    lines = [entry for entry in logs if entry["event"] == "dry run: would update incident"]
    assert lines and lines[0]["incident_id"] == "inc-0001" and "critical" in lines[0]["changes"]
    assert sim.updates == []
    assert [r for r in sim.requests_log if r.path.startswith("/api/")] == []


def test_a_full_queue_answers_503_and_drops_nothing(webhook: Callable[..., Any]) -> None:
    sim, exporter = webhook("--webhook.queue-size", "1")
    bucket_for(KEY_ID).hold(60)  # as after a 429: the worker cannot send for now
    too_many = post(exporter, alert("inc-0001", "escalate"), alert("inc-0003", "escalate"))
    assert too_many.status_code == 503  # all or none: none of the two was queued
    assert post(exporter, alert("inc-0001", "escalate")).status_code == 200
    wait_until(lambda: queue_length(exporter) == 0)  # the worker holds it, waiting for a token
    assert post(exporter, alert("inc-0003", "escalate")).status_code == 200
    wait_until(lambda: queue_length(exporter) == 1)
    assert post(exporter, alert("inc-0001", "investigate")).status_code == 503
    assert sim.updates == []
    reset_buckets()
    wait_until(lambda: len(sim.updates) == 2)
    assert post(exporter, alert("inc-0001", "investigate")).status_code == 200  # Alertmanager's retry
    wait_until(lambda: len(sim.updates) == 3)
    assert [(u.incident_id, u.fields) for u in sim.updates] == [
        ("inc-0001", {"severity": "critical"}),
        ("inc-0003", {"severity": "critical"}),
        ("inc-0001", {"status": "investigating"}),
    ]
    wait_until(lambda: counts(exporter).get(("escalate", "queue_full")) == 2)
    wait_until(lambda: counts(exporter).get(("investigate", "queue_full")) == 1)


def test_before_the_first_poll_the_webhook_answers_503(
    start_simulator: StartSim, start_exporter: StartExporter
) -> None:
    sim = start_simulator(org())
    exporter = start_exporter(
        sim, "--webhook.enable", env=sim_env(sim, SODA_EXPORTER_WEBHOOK_TOKEN=TOKEN), run=False
    )
    exporter.start(poll=False)
    reply = post(exporter, alert("inc-0001", "escalate"))
    assert reply.status_code == 503 and "not ready" in reply.text
    assert sim.updates == []


def test_malformed_payloads_are_400_and_other_methods_405(webhook: Callable[..., Any]) -> None:
    _, exporter = webhook()
    url = f"http://127.0.0.1:{exporter.port}{PATH}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.post(url, data=b"{not json", headers=auth, timeout=5).status_code == 400
    old = post(exporter, alert("inc-0001", "escalate"), version="3")
    assert old.status_code == 400 and "version" in old.text
    assert (
        requests.post(url, json={"version": "4", "alerts": "x"}, headers=auth, timeout=5).status_code == 400
    )
    assert requests.get(url, headers=auth, timeout=5).status_code == 405


def test_the_token_is_masked_in_logs(webhook: Callable[..., Any]) -> None:
    webhook()
    assert (
        redact_processor(None, "", {"event": f"header was Bearer {TOKEN}"})["event"]
        == "header was Bearer ***"
    )


def webhook_for_organizations(
    sims: dict[str, SimulatorServer], start_exporter: StartExporter, tmp_path: Path
) -> Exporter:
    """An exporter with the webhook on, polling each simulator as the organisation of its key name."""
    lines = ["organizations:"]
    for name, sim in sims.items():
        lines += [
            f"  - name: {name}",
            f"    reporting_url: {sim.reporting_url}",
            f"    cloud_url: {sim.cloud_url}",
            "    api_key_id_env: SODA_API_KEY_ID",
            "    api_key_secret_env: SODA_API_KEY_SECRET",
        ]
    (tmp_path / "orgs.yml").write_text("\n".join(lines) + "\n")
    first = next(iter(sims.values()))
    env = sim_env(first, SODA_EXPORTER_WEBHOOK_TOKEN=TOKEN)
    return start_exporter(first, "--config.file", str(tmp_path / "orgs.yml"), "--webhook.enable", env=env)


def test_alerts_are_routed_by_their_organization_label(
    start_simulator: StartSim, start_exporter: StartExporter, tmp_path: Path
) -> None:
    sims = {name: start_simulator(org()) for name in ("north", "south")}
    exporter = webhook_for_organizations(sims, start_exporter, tmp_path)
    wait_until(lambda: all(exporter.state.snapshot(n) is not None for n in sims))
    reply = post(
        exporter,
        alert("inc-0001", "escalate", organization="south"),
        alert("inc-0003", "escalate", organization="elsewhere"),
    )
    assert reply.json() == {"queued": 1, "skipped": {"unknown_organization": 1}}
    wait_until(lambda: len(sims["south"].updates) == 1)
    assert sims["north"].updates == []


def test_a_429_storm_on_one_organization_does_not_delay_the_other(
    start_simulator: StartSim, start_exporter: StartExporter, tmp_path: Path
) -> None:
    # Each organisation has its own API key, and Soda limits each key: north's 429s are north's.
    storm = FaultRule("rate_limited", path="/api/v1/incidents/*", retry_after=30)
    keys = {
        "north": ("north-key-id-0001", "north-secret-0001"),
        "south": ("south-key-id-0002", "south-secret-0002"),
    }
    sims = {
        "north": start_simulator(
            org(), api_key_id=keys["north"][0], api_key_secret=keys["north"][1], faults=FaultPlan([storm])
        ),
        "south": start_simulator(org(), api_key_id=keys["south"][0], api_key_secret=keys["south"][1]),
    }
    lines = ["organizations:"]
    env = {"SODA_EXPORTER_WEBHOOK_TOKEN": TOKEN}
    for name, sim in sims.items():
        upper = name.upper()
        lines += [
            f"  - name: {name}",
            f"    reporting_url: {sim.reporting_url}",
            f"    cloud_url: {sim.cloud_url}",
            f"    api_key_id_env: {upper}_ID",
            f"    api_key_secret_env: {upper}_SECRET",
        ]
        env[f"{upper}_ID"], env[f"{upper}_SECRET"] = keys[name]
    (tmp_path / "orgs.yml").write_text("\n".join(lines) + "\n")
    exporter = start_exporter(
        sims["north"], "--config.file", str(tmp_path / "orgs.yml"), "--webhook.enable", env=env
    )
    wait_until(lambda: all(exporter.state.snapshot(n) is not None for n in sims))
    first = post(exporter, alert("inc-0001", "escalate", organization="north"))
    assert first.json()["queued"] == 1
    wait_until(lambda: storm.fired >= 1)  # north is now held for 30 s by Soda's Retry-After
    started = time.monotonic()
    second = post(exporter, alert("inc-0001", "escalate", organization="south"))
    assert second.json()["queued"] == 1
    wait_until(lambda: len(sims["south"].updates) == 1, timeout=10)
    assert time.monotonic() - started < 10
    assert sims["north"].updates == [] and storm.fired == 1  # north still waits out its Retry-After
    assert bucket_for(keys["north"][0]).available() == 0
    assert bucket_for(keys["south"][0]).available() == 9


def test_organizations_sharing_a_key_share_its_bucket(
    start_simulator: StartSim, start_exporter: StartExporter, tmp_path: Path
) -> None:
    storm = FaultRule("rate_limited", path="/api/v1/incidents/*", retry_after=30, times=1)
    sims = {"north": start_simulator(org(), faults=FaultPlan([storm])), "south": start_simulator(org())}
    exporter = webhook_for_organizations(sims, start_exporter, tmp_path)
    wait_until(lambda: all(exporter.state.snapshot(n) is not None for n in sims))
    post(exporter, alert("inc-0001", "escalate", organization="north"))
    # The simulator counts the 429 as it sends it; the client holds the key's bucket once it reads it.
    wait_until(lambda: storm.fired == 1 and bucket_for(KEY_ID).available() == 0)
    post(exporter, alert("inc-0001", "escalate", organization="south"))
    # The behaviour under test is that nothing happens: for a second south's worker waits on the shared
    # key's hold and sends nothing (no event marks an update that is not sent).
    time.sleep(1.0)
    assert sims["south"].updates == []
    assert [r.status for r in sims["south"].requests_log if r.path.startswith("/api/")] == []
    reset_buckets()  # as when the Retry-After has passed
    wait_until(lambda: len(sims["south"].updates) == 1 and len(sims["north"].updates) == 1)


def test_once_stopping_the_webhook_answers_503_and_queues_nothing(webhook: Callable[..., Any]) -> None:
    sim, exporter = webhook()
    assert exporter.webhook is not None
    exporter.webhook.close()  # the first step of stop(), while the HTTP server still answers
    reply = post(exporter, alert("inc-0001", "escalate"))
    assert (reply.status_code, reply.text) == (503, "shutting down, retry later\n")
    assert queue_length(exporter) == 0
    assert sim.updates == []
