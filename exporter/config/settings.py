"""The validated configuration the rest of the exporter runs on."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.config.organizations import REGIONS, Organization, OrganizationsFileError, load_organizations
from exporter.config.webhook import WebhookSettings, webhook_settings
from exporter.incidents.snapshot import SnapshotSettings
from exporter.poll.settings import PollSettings
from exporter.soda.credentials import CredentialsError, CredentialSource
from exporter.web.config_door import load
from exporter.web.limits import Limits
from exporter.web.webconfig import WebConfigError


class ConfigError(ValueError):
    """Invalid configuration; the message names the flag or variable."""


@dataclass(frozen=True)
class Config:
    """Everything the exporter needs to start."""

    listen_addresses: tuple[tuple[str, int], ...]
    telemetry_path: str
    web_limits: Limits
    request_timeout: float
    retries: int
    max_retry_after: float
    page_size: int
    concurrency: int
    poll: PollSettings
    log_level: str
    log_format: str | None
    demo: bool
    organizations: tuple[Organization, ...] = ()
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    web_config_file: str | None = None
    notices: tuple[str, ...] = ()  # warnings about the configuration, logged at start

    @property
    def listen_host(self) -> str:
        """The host of the first listen address (``""``: every interface)."""
        return self.listen_addresses[0][0]

    @property
    def listen_port(self) -> int:
        """The port of the first listen address."""
        return self.listen_addresses[0][1]

    @property
    def labelled(self) -> bool:
        """True when series carry an ``organization`` label."""
        return any(org.name for org in self.organizations)


def credentials_from(
    values: Mapping[str, Any], environ: Mapping[str, str], *, check: bool = True
) -> CredentialSource:
    """The API key pair from $SODA_API_KEY_ID/$SODA_API_KEY_SECRET or the *-file flags, for every command.

    With ``check`` it is read once now, so a missing or unreadable secret is a ConfigError at start-up.
    """
    source = CredentialSource(
        key_id=environ.get("SODA_API_KEY_ID") or None,
        key_secret=environ.get("SODA_API_KEY_SECRET") or None,
        key_id_file=values["soda_api_key_id_file"],
        key_secret_file=values["soda_api_key_secret_file"],
    )
    if check:
        try:
            source.get()
        except CredentialsError as exc:
            raise ConfigError(str(exc)) from None
    return source


def _webhook(values: dict[str, Any], environ: Mapping[str, str]) -> WebhookSettings:
    try:
        return webhook_settings(values, environ)
    except ValueError as exc:  # the token and actions-file errors name their flag or variable
        raise ConfigError(str(exc)) from None


def _web_config_file(path: str | None) -> str | None:
    if not path:
        return None
    try:
        load(path)  # the same checks every reload makes: the file, and the certificates it names
    except WebConfigError as exc:
        raise ConfigError(f"--web.config.file: {exc}") from None
    return path


def make_config(namespace: argparse.Namespace, values: dict[str, Any], environ: Mapping[str, str]) -> Config:
    """Combine parsed flag values into a Config; raise ConfigError on an inconsistent combination."""
    demo = bool(values.get("demo"))  # --demo or $SODA_EXPORTER_DEMO, read by the one boolean parser
    region_reporting, region_cloud = REGIONS[values["soda_region"]]
    if values["poll_lookback"] < 86400:
        raise ConfigError("--poll.lookback: must be at least 1d, so the latest report date is inside it")
    if values["poll_timeout"] < values["soda_request_timeout"]:
        raise ConfigError("--poll.timeout: must not be shorter than --soda.request-timeout")
    config_file = values["config_file"]
    if config_file:
        try:
            organizations = load_organizations(config_file, environ, check_credentials=not demo)
        except OrganizationsFileError as exc:
            raise ConfigError(f"--config.file: {exc}") from None
    else:
        reporting_url = values["soda_reporting_url"] or region_reporting
        cloud_url = values["soda_cloud_url"] or region_cloud
        credentials = credentials_from(values, environ, check=not demo)
        organizations = (Organization(values["soda_organization"], reporting_url, cloud_url, credentials),)
    return Config(
        listen_addresses=values["web_listen_address"],
        telemetry_path=values["web_telemetry_path"],
        web_limits=Limits(
            read_header_timeout=values["web_read_header_timeout"],
            read_timeout=values["web_read_timeout"],
            idle_timeout=values["web_idle_timeout"],
            write_timeout=values["web_write_timeout"],
        ),
        request_timeout=values["soda_request_timeout"],
        retries=values["soda_retries"],
        max_retry_after=values["soda_max_retry_after"],
        page_size=values["poll_page_size"],
        concurrency=values["poll_concurrency"],
        poll=PollSettings(
            interval_seconds=values["poll_interval"],
            lookback_seconds=values["poll_lookback"],
            timeout_seconds=values["poll_timeout"],
            max_age_seconds=values["poll_max_age"],
            datasets_interval_seconds=values["datasets_interval"],
            datasets_team_from=values["datasets_team_from"],
            snapshot=SnapshotSettings(
                resolved_window_seconds=values["resolved_window"],
                age_buckets=values["metrics_age_buckets"],
                info_limit=values["incident_info_limit"],
            ),
        ),
        log_level=values["log_level"],
        log_format=values["log_format"],
        demo=demo,
        organizations=organizations,
        webhook=_webhook(values, environ),
        web_config_file=_web_config_file(values["web_config_file"]),
        notices=_notices(values),
    )


def _notices(values: dict[str, Any]) -> tuple[str, ...]:
    """Warnings for settings that are accepted but no longer do anything."""
    if values.get("web_max_workers") is not None:
        return ("--web.max-workers is deprecated and ignored: the HTTP server no longer uses a thread pool",)
    return ()
