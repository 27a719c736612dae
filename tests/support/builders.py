"""Builders: simulated organisations and incidents by hand, test credentials, the env aimed at a simulator."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from exporter.simulator import (
    Dataset,
    Incident,
    Organization,
    SimulatorServer,
    StateChange,
)

KEY_ID = "test-key-id-0001"


KEY_SECRET = "test-secret-do-not-log-5b1f"


NOW = datetime.now(timezone.utc).replace(microsecond=0)


def make_org(incidents: list[Incident], *, datasets: int = 2, now: datetime = NOW) -> Organization:
    """An organisation from explicit incident histories."""
    sets = [
        Dataset(f"ds-{n}", f"dataset_{n}", f"Dataset {n}", "src-1", "warehouse", f"owner{n}@example.com")
        for n in range(datasets)
    ]
    return Organization(organization_id="org-test", datasets=sets, incidents=incidents, now=now)


def incident(
    number: int,
    *,
    dataset: str = "ds-0",
    severity: str = "major",
    created: datetime | None = None,
    changes: list[StateChange] | None = None,
    deleted: datetime | None = None,
) -> Incident:
    """One incident created ``created`` (default: ten days ago)."""
    return Incident(
        incident_id=f"inc-{number:04d}",
        number=number,
        dataset_id=dataset,
        check_id=f"check-{number}",
        check_name=f"check_{number}",
        title=f"Incident {number}",
        created_at=created or NOW - timedelta(days=10),
        severity=severity,
        lead_email=f"lead{number}@example.com",
        changes=changes or [],
        deleted_at=deleted,
    )


def sim_env(sim: SimulatorServer, **extra: str) -> dict[str, str]:
    """Environment pointing the exporter at ``sim`` with valid credentials."""
    return {
        "SODA_REPORTING_URL": sim.reporting_url,
        "SODA_CLOUD_URL": sim.cloud_url,
        "SODA_API_KEY_ID": KEY_ID,
        "SODA_API_KEY_SECRET": KEY_SECRET,
        **extra,
    }


def write_orgs(path: Path, *orgs: tuple[str, SimulatorServer]) -> Path:
    """An organisations file naming env vars for each org's credentials."""
    lines = ["organizations:"]
    for name, sim in orgs:
        env = name.upper()
        lines += [
            f"  - name: {name}",
            f"    reporting_url: {sim.reporting_url}",
            f"    cloud_url: {sim.cloud_url}",
            f"    api_key_id_env: {env}_ID",
            f"    api_key_secret_env: {env}_SECRET",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def org_env(*names: str) -> dict[str, str]:
    """Credentials for each named org, as its file says to find them."""
    env: dict[str, str] = {}
    for name in names:
        env[f"{name.upper()}_ID"] = KEY_ID
        env[f"{name.upper()}_SECRET"] = KEY_SECRET
    return env
