"""The Alertmanager webhook receiver: bearer auth, payload version 4, actions, a bounded queue, workers."""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from exporter.actions.payload import ACTION_LABEL, INCIDENT_LABEL, parse_payload
from exporter.actions.queue import Job, QueueFull, RecentUpdates, UpdateQueue
from exporter.actions.rules import remaining_changes
from exporter.config.webhook import WebhookSettings
from exporter.exposition.state import ExporterState
from exporter.soda.cloud import CloudClient, IncidentUpdate, SodaError
from exporter.web.messages import Request, Response, text
from exporter.web.server import WebServer

log = structlog.get_logger("exporter")

WEBHOOK_PATH = "/alertmanager/webhook"
# Unknown action names come from alert labels; one label value keeps the counter's cardinality bounded.
UNKNOWN_ACTION = "unknown"
# Failure reasons of the client that are worth their own result; every other failure is "error".
CLIENT_RESULTS = frozenset(
    {"rejected", "not_found", "auth", "forbidden", "rate_limited", "credentials", "cancelled"}
)


@dataclass(frozen=True)
class Target:
    """One organisation the webhook can update: its state key, label value and Cloud API client."""

    key: str
    name: str | None
    client: CloudClient


class WebhookReceiver:
    """Turns firing alerts into incident updates, queues them, and sends them: one worker per organisation."""

    def __init__(
        self,
        settings: WebhookSettings,
        state: ExporterState,
        registry: CollectorRegistry,
        targets: Sequence[Target],
    ) -> None:
        if settings.token is None:
            raise ValueError("the webhook needs a token")
        self.settings = settings
        self.token = settings.token
        self.state = state
        self.targets = list(targets)
        self.queue = UpdateQueue(settings.queue_size)
        self.recent = RecentUpdates()
        self.updates = Counter(
            "soda_exporter_incident_updates",
            "Incident updates asked for through the Alertmanager webhook, by action and result.",
            ["action", "result"],
            registry=registry,
        )
        self.queue_length = Gauge(
            "soda_exporter_incident_update_queue_length",
            "Incident updates accepted by the webhook and not yet sent.",
            registry=registry,
        )
        self.queue_length.set_function(lambda: len(self.queue))
        for action in settings.actions:
            self.updates.labels(action, "updated")
        self._stopped = threading.Event()

    def install(self, server: WebServer) -> None:
        """Serve the webhook on the exporter's port."""
        server.add_route(WEBHOOK_PATH, frozenset({"POST"}), self.handle)

    def start(self, stop: threading.Event) -> list[threading.Thread]:
        """Start one worker per organisation, so one organisation's 429s never hold up another's updates."""
        threads = [
            threading.Thread(
                target=self._run, args=(stop, target.key), name=f"webhook-{target.key}", daemon=True
            )
            for target in self.targets
        ]
        for thread in threads:
            thread.start()
        log.info(
            "alertmanager webhook enabled",
            path=WEBHOOK_PATH,
            dry_run=self.settings.dry_run,
            actions=sorted(self.settings.actions),
            queue_size=self.settings.queue_size,
        )
        return threads

    def close(self) -> None:
        """Drop the queued updates (counted and logged), cancel the one in progress, close the clients.

        Queued updates are not sent at shutdown: each could wait a minute for Soda's rate limit.
        Alertmanager sends the firing alerts again with its next notification, to this process's
        successor, which judges them afresh.
        """
        self._stopped.set()
        self._drop_queued()
        self.queue.wake()
        for target in self.targets:
            target.client.close()

    def _drop_queued(self) -> None:
        left = self.queue.drain()
        for job in left:
            self.updates.labels(job.action, "cancelled").inc()
        if left:
            log.warning(
                "exporter stopping: queued incident updates not sent",
                count=len(left),
                incident_ids=sorted({job.incident_id for job in left})[:20],
            )

    # --- HTTP side -------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one POST from Alertmanager."""
        if not self.token.matches(request.header("authorization")):
            return text(HTTPStatus.UNAUTHORIZED, "unauthorized\n", (("WWW-Authenticate", "Bearer"),))
        if self._stopped.is_set():
            # Queued now, an update would be dropped unsent: let Alertmanager retry with our successor.
            return text(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down, retry later\n")
        try:
            alerts = parse_payload(request.body)
        except ValueError as exc:
            return text(HTTPStatus.BAD_REQUEST, f"{exc}\n")
        jobs: list[Job] = []
        skipped: collections.Counter[str] = collections.Counter()
        for alert in alerts:
            outcome = self._plan(alert)
            if isinstance(outcome, Job):
                jobs.append(outcome)
            else:
                labels = alert.get("labels") or {}
                log.debug(
                    "webhook decision",
                    result=outcome or "not_for_webhook",
                    alert_status=str(alert.get("status"))[:16],
                    alertname=str(labels.get("alertname", ""))[:128],
                    incident_id=str(labels.get(INCIDENT_LABEL, ""))[:128],
                )
                if outcome:
                    skipped[outcome] += 1
        not_ready = [job for job in jobs if self.state.snapshot(job.organization) is None]
        if not_ready:
            for job in not_ready:
                self.updates.labels(job.action, "not_ready").inc()
                _decided(job, "not_ready")
            reply = "not ready: no snapshot of the organisation yet to judge the update by\n"
            return text(HTTPStatus.SERVICE_UNAVAILABLE, reply)
        wanted: list[Job] = []
        for job in jobs:
            result, changes = self._judge(job)
            if result == "send":
                wanted.append(job)
            else:
                self.updates.labels(job.action, result).inc()
                skipped[result] += 1
                _decided(job, result, changes)
        try:
            queued, duplicates = self.queue.offer(wanted)
        except QueueFull as exc:
            for job in wanted:
                self.updates.labels(job.action, "queue_full").inc()
                _decided(job, "queue_full")
            log.warning("webhook queue full; asking Alertmanager to retry", detail=str(exc))
            return text(HTTPStatus.SERVICE_UNAVAILABLE, "queue full, retry later\n")
        for job in duplicates:
            self.updates.labels(job.action, "duplicate").inc()
            skipped["duplicate"] += 1
            _decided(job, "duplicate")
        for job in queued:
            _decided(job, "queued", queue_length=len(self.queue))
        body = json.dumps({"queued": len(queued), "skipped": dict(skipped)}).encode()
        return Response(HTTPStatus.OK, body, "application/json")

    def _plan(self, alert: dict[str, Any]) -> Job | str | None:
        """A job for a firing alert with our labels, a skip result, or None for an alert not ours."""
        labels = alert.get("labels") or {}
        if alert.get("status") != "firing" or ACTION_LABEL not in labels:
            return None
        name = str(labels[ACTION_LABEL])
        update = self.settings.actions.get(name)
        if update is None:
            self.updates.labels(UNKNOWN_ACTION, "unknown_action").inc()
            log.warning("alert asks for an unknown soda_action", soda_action=name[:64])
            return "unknown_action"
        incident_id = str(labels.get(INCIDENT_LABEL) or "").strip()
        if not incident_id:
            self.updates.labels(name, "invalid").inc()
            log.warning("alert with soda_action has no soda_incident_id label", soda_action=name)
            return "invalid"
        target = self._target_for(labels)
        if target is None:
            self.updates.labels(name, "unknown_organization").inc()
            return "unknown_organization"
        return Job(target.key, incident_id, name, update)

    def _target_for(self, labels: dict[str, Any]) -> Target | None:
        if len(self.targets) == 1:
            return self.targets[0]
        wanted = labels.get("organization")
        return next((t for t in self.targets if t.name is not None and t.name == wanted), None)

    def _judge(self, job: Job) -> tuple[str, IncidentUpdate]:
        """("send", the fields that would change) or (a skip result, empty) per the latest snapshot."""
        snapshot = self.state.snapshot(job.organization)
        if snapshot is None:
            return "not_ready", IncidentUpdate()
        current = self.recent.current(job.organization, job.incident_id, snapshot)
        if current is None or current[1] == "resolved":
            return "not_open", IncidentUpdate()
        changes = remaining_changes(job.update, current)
        return ("unchanged", changes) if changes.is_empty() else ("send", changes)

    # --- worker side -----------------------------------------------------------------------------

    def _run(self, stop: threading.Event, organization: str) -> None:
        while not stop.is_set() and not self._stopped.is_set():
            job = self.queue.take(timeout=0.5, organization=organization)
            if job is None:
                continue
            try:
                self._process(job)
            except Exception:  # one bad job must not end the worker
                self.updates.labels(job.action, "error").inc()
                log.exception("incident update failed", incident_id=job.incident_id, action=job.action)
            finally:
                self.queue.done(job)
        self._drop_queued()  # when stopped through ``stop`` rather than ``close``

    def _process(self, job: Job) -> None:
        result, changes = self._judge(job)  # again: the incident may have changed while queued
        fields = {"incident_id": job.incident_id, "action": job.action, "changes": changes.describe()}
        if result != "send":
            self.updates.labels(job.action, result).inc()
            log.info("incident update skipped", result=result, **fields)
            return
        if self.settings.dry_run:
            self.updates.labels(job.action, "dry_run").inc()
            log.info("dry run: would update incident", **fields)
            return
        target = next(t for t in self.targets if t.key == job.organization)
        try:
            updated = target.client.update_incident(job.incident_id, changes)
        except SodaError as exc:
            outcome = "cancelled" if self._stopped.is_set() else exc.reason
            outcome = outcome if outcome in CLIENT_RESULTS else "error"
            self.updates.labels(job.action, outcome).inc()
            log.warning("incident update failed", result=outcome, error=str(exc), **fields)
            return
        self.recent.record(job.organization, job.incident_id, updated.severity, updated.status)
        self.updates.labels(job.action, "updated").inc()
        log.info(
            "incident updated",
            number=updated.number,
            severity=updated.severity,
            status=updated.status,
            cloud_url=updated.cloud_url,
            **fields,
        )


def _decided(job: Job, result: str, changes: IncidentUpdate | None = None, **extra: Any) -> None:
    """One debug line per webhook decision on an alert that asked for an action."""
    shown = job.update if changes is None else changes
    described = shown.describe() if not shown.is_empty() else None
    log.debug(
        "webhook decision",
        result=result,
        organization=job.organization,
        incident_id=job.incident_id,
        action=job.action,
        changes=described,
        **extra,
    )
