"""Several Soda Cloud organisations in one process: the ``--config.file`` YAML and its validation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exporter.config.durations import parse_duration
from exporter.config.yamlfile import load_yaml_file
from exporter.soda.credentials import CredentialsError, CredentialSource

REGIONS = {
    "eu": ("https://reporting.cloud.soda.io/v1", "https://cloud.soda.io"),
    "us": ("https://reporting.cloud.us.soda.io/v1", "https://cloud.us.soda.io"),
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_KEYS = {
    "name",
    "region",
    "reporting_url",
    "cloud_url",
    "api_key_id_env",
    "api_key_secret_env",
    "api_key_id_file",
    "api_key_secret_file",
    "poll_interval",
}


class OrganizationsFileError(ValueError):
    """The organisations file is invalid; the message says where."""


@dataclass(frozen=True)
class Organization:
    """One organisation to poll: its label value (None: no label), endpoints and credentials."""

    name: str | None
    reporting_url: str
    cloud_url: str
    credentials: CredentialSource
    poll_interval_seconds: float | None = None

    @property
    def key(self) -> str:
        """What the exporter's state, pages and logs call this organisation: its name, else "default"."""
        return self.name or "default"


def _text(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise OrganizationsFileError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _check_credentials(
    credentials: CredentialSource, entry: Mapping[str, Any], environ: Mapping[str, str], where: str
) -> None:
    """Fail naming the variable or file this entry points at, not the single-organisation settings."""
    for half, what in (("id", "API key id"), ("secret", "API key secret")):
        env_name = _text(entry, f"api_key_{half}_env", where)
        file_name = _text(entry, f"api_key_{half}_file", where)
        if file_name is None and env_name is not None and not environ.get(env_name):
            raise OrganizationsFileError(
                f"{where}: api_key_{half}_env names {env_name}, which is not set (or is empty)"
            )
        if file_name is None and env_name is None:
            raise OrganizationsFileError(f"{where}: no {what}: set api_key_{half}_env or api_key_{half}_file")
    try:
        credentials.get()
    except CredentialsError as exc:  # an unreadable or empty file: the message names it
        raise OrganizationsFileError(f"{where}: {exc}") from None


def _organization(
    entry: Any, index: int, environ: Mapping[str, str], check_credentials: bool
) -> Organization:
    where = f"organizations[{index}]"
    if not isinstance(entry, dict):
        raise OrganizationsFileError(f"{where}: must be a mapping")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise OrganizationsFileError(f"{where}: unknown key {unknown[0]!r}")
    name = _text(entry, "name", where)
    if name is None or not _NAME.match(name):
        raise OrganizationsFileError(f"{where}: name is required (letters, digits, '.', '_', '-')")
    where = f"organization {name!r}"
    region = _text(entry, "region", where) or "eu"
    if region not in REGIONS:
        raise OrganizationsFileError(f"{where}: region {region!r} is not one of eu, us")
    reporting_url = (_text(entry, "reporting_url", where) or REGIONS[region][0]).rstrip("/")
    cloud_url = (_text(entry, "cloud_url", where) or REGIONS[region][1]).rstrip("/")
    for url in (reporting_url, cloud_url):
        if not url.startswith(("http://", "https://")):
            raise OrganizationsFileError(f"{where}: {url!r} must start with http:// or https://")
    id_env = _text(entry, "api_key_id_env", where)
    secret_env = _text(entry, "api_key_secret_env", where)
    credentials = CredentialSource(
        key_id=environ.get(id_env) if id_env else None,
        key_secret=environ.get(secret_env) if secret_env else None,
        key_id_file=_text(entry, "api_key_id_file", where),
        key_secret_file=_text(entry, "api_key_secret_file", where),
    )
    if check_credentials:
        _check_credentials(credentials, entry, environ, where)
    interval = None
    if entry.get("poll_interval") is not None:
        try:
            interval = parse_duration(str(entry["poll_interval"]))
        except ValueError as exc:
            raise OrganizationsFileError(f"{where}: poll_interval {exc}") from None
        if interval <= 0:
            raise OrganizationsFileError(f"{where}: poll_interval must be greater than zero")
    return Organization(name, reporting_url, cloud_url, credentials, interval)


def load_organizations(
    path: str, environ: Mapping[str, str], *, check_credentials: bool = True
) -> tuple[Organization, ...]:
    """Read and validate the organisations file; raise OrganizationsFileError naming the problem."""
    try:
        document = load_yaml_file(path, "organisations file")
    except ValueError as exc:
        raise OrganizationsFileError(str(exc)) from None
    entries = document.get("organizations") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise OrganizationsFileError(f"{path}: needs a non-empty 'organizations' list")
    orgs = tuple(_organization(entry, i, environ, check_credentials) for i, entry in enumerate(entries))
    names = [org.name for org in orgs]
    duplicates = sorted({n for n in names if names.count(n) > 1 and n is not None})
    if duplicates:
        raise OrganizationsFileError(f"{path}: organization name {duplicates[0]!r} is used twice")
    return orgs
