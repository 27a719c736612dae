"""Wires config -> client -> poller -> state -> HTTP server into one running exporter."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import structlog

from exporter.actions.webhook import Target, WebhookReceiver
from exporter.config.organizations import Organization
from exporter.config.settings import Config
from exporter.exposition.metrics import ExporterMetrics
from exporter.exposition.state import ExporterState
from exporter.logs import add_secret_source
from exporter.poll.poller import Poller
from exporter.soda.cloud import CloudClient
from exporter.soda.credentials import CredentialSource
from exporter.soda.reporting import ReportingClient
from exporter.web.config_door import WebConfigDoor
from exporter.web.door import FrontDoor, OpenDoor
from exporter.web.landing import LandingInfo
from exporter.web.pages import ExporterPages
from exporter.web.server import WebServer

log = structlog.get_logger("exporter")


def build_front_door(config: Config, metrics: ExporterMetrics) -> FrontDoor:
    """The security layer of the HTTP server: the --web.config.file's, or an open door without one."""
    if config.web_config_file is None:
        return OpenDoor()
    failures = metrics.web_auth_failures
    return WebConfigDoor(
        config.web_config_file,
        on_failure=lambda reason: failures.labels(reason).inc(),
        on_reload=lambda ok: metrics.web_config_reload_ok.set(1 if ok else 0),
    )


def _check_webhook_behind_basic_auth(door: FrontDoor, webhook: WebhookReceiver) -> None:
    """Warn when basic auth is on but no user's password is the webhook token: Alertmanager can't get in."""
    if not isinstance(door, WebConfigDoor) or not door.config.users:
        return
    if not door.users_with_password(webhook.token.get()):
        log.warning(
            "no basic_auth_users entry has the webhook token as its password, so Alertmanager's basic "
            "auth cannot reach the webhook: hash the token for Alertmanager's user",
            path=door.path,
        )


def build_webhook(config: Config, state: ExporterState, metrics: ExporterMetrics) -> WebhookReceiver:
    """The receiver for ``config``, with one Cloud API client per organisation, installed nowhere yet."""
    settings = config.webhook
    token = settings.token
    if token is not None:
        add_secret_source(lambda: [token.get()])
    targets = []
    for org in config.organizations:
        values: tuple[str, ...] = (org.name or "",) if config.labelled else ()

        def count(endpoint: str, code: str, values: tuple[str, ...] = values) -> None:
            metrics.api_requests.labels(*values, endpoint, code).inc()

        client = CloudClient(
            org.cloud_url,
            org.credentials,
            read_timeout=config.request_timeout,
            retries=config.retries,
            max_retry_after=config.max_retry_after,
            on_request=count,
        )
        targets.append(Target(org.key, org.name, client))
    return WebhookReceiver(settings, state, metrics.registry, targets)


class Exporter:
    """A running exporter: one poller thread per organisation and the HTTP server."""

    def __init__(self, config: Config, door: FrontDoor | None = None) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.metrics = ExporterMetrics(("organization",) if config.labelled else ())
        self.state = ExporterState(self.metrics)
        self.pollers = [self._poller_for(org) for org in config.organizations]
        self.door = door if door is not None else build_front_door(config, self.metrics)
        # Binds now: a bad or busy address fails here, with the address named (ListenError).
        self.server = WebServer(
            config.listen_addresses, door=self.door, limits=config.web_limits, registry=self.metrics.registry
        )
        intervals = {p.organization: p.settings.interval_seconds for p in self.pollers}
        info = LandingInfo(config.telemetry_path, config.demo, intervals)
        ExporterPages(self.state, info).install(self.server)
        self._threads: list[threading.Thread] = []
        self.webhook: WebhookReceiver | None = None
        if config.webhook.enabled:
            self.webhook = build_webhook(config, self.state, self.metrics)
            self.webhook.install(self.server)
            _check_webhook_behind_basic_auth(self.door, self.webhook)

    def _poller_for(self, org: Organization) -> Poller:
        values: tuple[str, ...] = (org.name or "",) if self.config.labelled else ()
        labels = (("organization", org.name or ""),) if self.config.labelled else ()
        self.metrics.init_organization(values)
        add_secret_source(org.credentials.secrets)
        counter = self.metrics.api_requests

        def count_request(endpoint: str, code: str) -> None:
            counter.labels(*values, endpoint, code).inc()

        client = ReportingClient(
            org.reporting_url,
            org.credentials,
            page_size=self.config.page_size,
            concurrency=self.config.concurrency,
            on_request=count_request,
            read_timeout=self.config.request_timeout,
            retries=self.config.retries,
            max_retry_after=self.config.max_retry_after,
        )
        settings = self.config.poll
        if org.poll_interval_seconds is not None:
            settings = replace(settings, interval_seconds=org.poll_interval_seconds)
        return Poller(client, self.state, self.metrics, settings, organization=org.key, labels=labels)

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        return self.server.port

    def start(self, *, poll: bool = True) -> None:
        """Start polling (unless ``poll`` is False) and serving in background threads."""
        for poller in self.pollers if poll else ():
            self._threads.append(poller.start(self.stop_event))
        if self.webhook is not None:
            self._threads.extend(self.webhook.start(self.stop_event))
        self.server.start()
        addresses = self.server.describe()
        log.info(
            "started",
            listen=addresses[0],
            listen_addresses=addresses,
            telemetry_path=self.config.telemetry_path,
            organizations=[p.organization for p in self.pollers],
            reporting_urls=[p.client.http.base_url for p in self.pollers],
            poll_interval_seconds=self.config.poll.interval_seconds,
        )

    def stop(self, timeout: float = 0.5) -> None:
        """Stop polling and serving; returns within about ``timeout`` seconds, whatever is in flight.

        Every thread is a daemon and nothing they hold needs saving: a poll in flight is a read,
        and the webhook drops (and counts) its queued updates in ``close``. So the threads get one
        shared ``timeout`` to finish, not one each, and whatever is still waiting on Soda is left.
        """
        deadline = time.monotonic() + timeout
        self.stop_event.set()
        self.server.stop()
        if self.webhook is not None:
            self.webhook.close()
        for poller in self.pollers:
            poller.client.close()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        log.info("stopped", still_running=[t.name for t in self._threads if t.is_alive()] or None)


def with_demo_endpoints(
    config: Config, reporting_url: str, cloud_url: str, credentials: CredentialSource
) -> Config:
    """The same config pointed at an embedded simulator."""
    org = Organization(config.organizations[0].name, reporting_url, cloud_url, credentials)
    return replace(config, organizations=(org,))
