"""The Cloud API v1 incident client against the simulator over real HTTP: models, errors, rate limit, 429s."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from exporter.simulator import SimulatorServer
from exporter.simulator.faults import FaultPlan, FaultRule
from exporter.soda.cloud import (
    CloudClient,
    IncidentNotFound,
    IncidentUpdate,
    IncidentUpdateRejected,
    SodaAuthError,
    SodaPermissionError,
    SodaRateLimitedError,
    UpdateCancelled,
    parse_retry_after,
)
from exporter.soda.credentials import CredentialSource
from exporter.soda.errors import SodaConnectionError, SodaError, SodaServerError
from exporter.soda.ratelimit import Ticket, TokenBucket
from tests.support.builders import KEY_ID, KEY_SECRET, incident, make_org

StartSim = Callable[..., SimulatorServer]
MakeClient = Callable[..., CloudClient]
UPDATE_PATH = "/api/v1/incidents/"


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """Factory: a client with its own bucket (never the process-wide one), closed at teardown."""
    clients: list[CloudClient] = []

    def make(sim: SimulatorServer, **kwargs: Any) -> CloudClient:
        key_id = kwargs.pop("key_id", KEY_ID)
        key_secret = kwargs.pop("key_secret", KEY_SECRET)
        kwargs.setdefault("bucket", TokenBucket(10, 2.0))
        kwargs.setdefault("backoff_factor", 0.05)
        client = CloudClient(sim.cloud_url, CredentialSource(key_id=key_id, key_secret=key_secret), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def updates_log(sim: SimulatorServer) -> list[int]:
    """Status of every incident update the simulator answered, in order."""
    return [r.status for r in sim.requests_log if r.path.startswith(UPDATE_PATH)]


def two_incidents() -> Any:
    return make_org([incident(1, severity="major"), incident(2, severity="minor")])


def test_update_sends_basic_auth_and_camel_case_and_returns_the_incident(
    start_simulator: StartSim, make_client: MakeClient
) -> None:
    sim = start_simulator(two_incidents())
    update = IncidentUpdate(
        title="Orders late",
        severity="critical",
        status="investigating",
        description="Upstream delay",
        resolution_notes="none yet",
    )
    result = make_client(sim).update_incident("inc-0001", update)
    assert (result.id, result.number, result.name) == ("inc-0001", 1, "Orders late")
    assert (result.severity, result.status) == ("critical", "investigating")
    assert result.cloud_url.endswith("/incidents/1")
    record = sim.requests_log[-1]
    assert record.method == "POST" and record.path == "/api/v1/incidents/inc-0001"
    expected = base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
    assert record.headers["authorization"] == f"Basic {expected}"
    assert record.body == {
        "title": "Orders late",
        "severity": "critical",
        "status": "investigating",
        "description": "Upstream delay",
        "resolutionNotes": "none yet",
    }
    assert sim.updates[-1].fields == record.body
    state = sim.organization.find_incident("inc-0001")
    assert state is not None and state.current_state().severity == "critical"


def test_unset_fields_are_left_out_of_the_body(start_simulator: StartSim, make_client: MakeClient) -> None:
    sim = start_simulator(two_incidents())
    make_client(sim).update_incident("inc-0002", IncidentUpdate(status="fixing"))
    assert sim.requests_log[-1].body == {"status": "fixing"}


def test_values_outside_the_spec_and_empty_updates_are_refused_before_sending(
    start_simulator: StartSim, make_client: MakeClient
) -> None:
    sim = start_simulator(two_incidents())
    with pytest.raises(ValueError, match="severity 'blocker'"):
        IncidentUpdate(severity="blocker")
    with pytest.raises(ValueError, match="status 'closed'"):
        IncidentUpdate(status="closed")
    with pytest.raises(ValueError, match="at least one field"):
        make_client(sim).update_incident("inc-0001", IncidentUpdate())
    assert updates_log(sim) == []


@pytest.mark.parametrize(
    ("status", "error", "key", "incident_id", "body"),
    [
        (400, IncidentUpdateRejected, "good", "inc-0001", {"severity": "blocker"}),
        (401, SodaAuthError, "wrong", "inc-0001", {"status": "fixing"}),
        (403, SodaPermissionError, "readonly", "inc-0001", {"status": "fixing"}),
        (404, IncidentNotFound, "good", "inc-9999", {"status": "fixing"}),
    ],
)
def test_each_refusal_has_its_own_error_and_is_not_retried(
    start_simulator: StartSim,
    make_client: MakeClient,
    status: int,
    error: type[SodaError],
    key: str,
    incident_id: str,
    body: dict[str, str],
) -> None:
    sim = start_simulator(
        two_incidents(), extra_keys={"readonly-key": "readonly-secret"}, forbidden_key_ids={"readonly-key"}
    )
    keys = {
        "good": (KEY_ID, KEY_SECRET),
        "wrong": (KEY_ID, "not-the-secret"),
        "readonly": ("readonly-key", "readonly-secret"),
    }
    client = make_client(sim, key_id=keys[key][0], key_secret=keys[key][1])
    with pytest.raises(SodaError) as caught:
        client.send_update(incident_id, body)
    assert type(caught.value) is error
    assert f"{status}" in str(caught.value)
    assert KEY_SECRET not in str(caught.value)
    assert updates_log(sim) == [status]


def test_the_bucket_keeps_updates_within_the_window_so_soda_never_answers_429(
    start_simulator: StartSim, make_client: MakeClient
) -> None:
    sim = start_simulator(two_incidents(), update_rate_limit=10, update_rate_window_seconds=1)
    client = make_client(sim, bucket=TokenBucket(10, 1.0))
    for n in range(12):
        client.update_incident("inc-0001", IncidentUpdate(title=f"title {n}"))
    records = [r for r in sim.requests_log if r.path.startswith(UPDATE_PATH)]
    assert [r.status for r in records] == [200] * 12
    # The 11th and 12th had to wait for the first two to leave the 1-second window.
    assert records[10].at - records[0].at >= 1.0
    assert records[11].at - records[1].at >= 1.0


def test_a_429_with_retry_after_is_waited_out_not_raised(
    start_simulator: StartSim, make_client: MakeClient
) -> None:
    sim = start_simulator(two_incidents(), update_rate_limit=2, update_rate_window_seconds=1)
    client = make_client(sim, bucket=TokenBucket(10, 1.0))  # looser than the server, on purpose
    started = time.monotonic()
    for n in range(3):
        assert client.update_incident("inc-0001", IncidentUpdate(title=f"t{n}")).name == f"t{n}"
    assert updates_log(sim) == [200, 200, 429, 200]
    assert time.monotonic() - started >= 1.0  # the simulator's Retry-After: whole seconds, at least 1
    retried = [r for r in sim.requests_log if r.status == 429]
    assert retried and retried[0].body == {"title": "t2"}


def test_a_429_without_retry_after_waits_a_computed_time(
    start_simulator: StartSim, make_client: MakeClient
) -> None:
    sim = start_simulator(
        two_incidents(), update_rate_limit=2, update_rate_window_seconds=1, retry_after_header=False
    )
    client = make_client(sim, bucket=TokenBucket(10, 1.0))
    for n in range(3):
        client.update_incident("inc-0001", IncidentUpdate(title=f"t{n}"))
    statuses = updates_log(sim)
    assert statuses[:2] == [200, 200] and statuses[-1] == 200
    assert set(statuses[2:-1]) == {429}


def test_429s_are_retried_a_bounded_number_of_times(
    start_simulator: StartSim, make_client: MakeClient
) -> None:
    sim = start_simulator(two_incidents(), update_rate_limit=1, update_rate_window_seconds=60)
    client = make_client(sim, rate_limit_retries=2, max_retry_after=0.2)
    client.update_incident("inc-0001", IncidentUpdate(status="fixing"))
    with pytest.raises(SodaRateLimitedError, match="429"):
        client.update_incident("inc-0001", IncidentUpdate(status="investigating"))
    assert updates_log(sim) == [200, 429, 429, 429]


def test_a_429_makes_every_update_in_the_process_wait(
    start_simulator: StartSim, make_client: MakeClient
) -> None:
    sim = start_simulator(two_incidents(), update_rate_limit=1, update_rate_window_seconds=60)
    bucket = TokenBucket(10, 60.0)
    client = make_client(sim, bucket=bucket, rate_limit_retries=0)
    client.update_incident("inc-0001", IncidentUpdate(status="fixing"))
    with pytest.raises(SodaRateLimitedError):
        client.update_incident("inc-0002", IncidentUpdate(status="fixing"))
    assert bucket.available() == 0  # held for the Retry-After the simulator gave (up to 60 s)


def test_server_errors_and_resets_are_retried_then_reported(
    start_simulator: StartSim, make_client: MakeClient
) -> None:
    rules = [
        FaultRule("http_status", path=f"{UPDATE_PATH}*", code=503, times=1),
        FaultRule("reset_mid_body", path=f"{UPDATE_PATH}*", times=1),
    ]
    sim = start_simulator(two_incidents(), faults=FaultPlan(rules))
    client = make_client(sim, retries=2)
    assert client.update_incident("inc-0001", IncidentUpdate(status="fixing")).status == "fixing"
    sim.set_faults(FaultPlan([FaultRule("http_status", path=f"{UPDATE_PATH}*", code=500)]))
    with pytest.raises(SodaServerError, match="HTTP 500"):
        client.update_incident("inc-0001", IncidentUpdate(status="investigating"))


def test_an_unreachable_cloud_url_is_a_connection_error(make_client: MakeClient) -> None:
    client = CloudClient(
        "http://127.0.0.1:9",
        CredentialSource(key_id=KEY_ID, key_secret=KEY_SECRET),
        bucket=TokenBucket(10, 2.0),
        retries=1,
        backoff_factor=0.01,
    )
    with pytest.raises(SodaConnectionError):
        client.update_incident("inc-0001", IncidentUpdate(status="fixing"))


def test_closing_the_client_cancels_a_wait_for_a_token(
    start_simulator: StartSim, make_client: MakeClient
) -> None:
    sim = start_simulator(two_incidents())
    waiting = threading.Event()

    class WatchedBucket(TokenBucket):
        def take(self, stop: threading.Event | None = None, timeout: float | None = None) -> Ticket | None:
            waiting.set()
            return super().take(stop, timeout)

    bucket = WatchedBucket(10, 60.0)
    bucket.hold(60)
    client = make_client(sim, bucket=bucket)
    errors: list[Exception] = []

    def update() -> None:
        try:
            client.update_incident("inc-0001", IncidentUpdate(status="fixing"))
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=update)
    thread.start()
    assert waiting.wait(10)
    client.close()
    thread.join(2)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], UpdateCancelled)
    assert updates_log(sim) == []


def test_retry_after_parsing() -> None:
    from datetime import datetime, timezone

    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_requests_and_answers_conform_to_the_cloud_api_document(
    start_simulator: StartSim, make_client: MakeClient
) -> None:
    from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

    from tests.support.spec import cloud_spec

    sim = start_simulator(two_incidents())
    spec = cloud_spec(sim.cloud_url)
    client = make_client(sim)
    seen: list[requests.Response] = []
    client.session.hooks["response"].append(lambda response, *args, **kwargs: seen.append(response))
    client.update_incident("inc-0001", IncidentUpdate(status="fixing", resolution_notes="on it"))
    with pytest.raises(IncidentNotFound):
        client.update_incident("inc-0404", IncidentUpdate(severity="minor"))
    assert [r.status_code for r in seen] == [200, 404]
    for response in seen:
        request = RequestsOpenAPIRequest(response.request)
        spec.validate_request(request)
        spec.validate_response(request, RequestsOpenAPIResponse(response))
