"""A deterministic, seeded synthetic organisation with a realistic incident history."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

from exporter.incidents.domain import SEVERITIES
from exporter.simulator.model import Dataset, Incident, StateChange, as_utc
from exporter.simulator.organization import Organization

_SEVERITY_WEIGHTS = (55, 30, 15)
_DATASOURCES = ("snowflake_prod", "postgres_dwh", "bigquery_analytics", "databricks_lake", "redshift_finance")
_TABLES = (
    "orders", "customers", "payments", "invoices", "shipments", "products", "inventory", "sessions",
    "events", "refunds", "subscriptions", "leads", "accounts", "transactions", "returns", "suppliers",
    "employees", "campaigns", "clicks", "reviews",
)  # fmt: skip
_SUFFIXES = ("", "_raw", "_daily", "_history", "_staging", "_v2")
_PEOPLE = (
    "alice.martin", "bob.nguyen", "carla.rossi", "deepak.iyer", "emma.schmidt", "farid.haddad",
    "grace.okafor", "hugo.dubois", "ines.garcia", "jonas.berg", "keiko.tanaka", "liam.walsh",
)  # fmt: skip
# Each person's team. Half the owned datasets name it in a ``team`` attribute, the others in a ``team:`` tag;
# unowned datasets have no team. Derived without the random stream, so seeded data stays as it was.
_TEAMS = ("payments", "growth", "platform")
_CHECKS = (
    "row_count > 0",
    "missing_count(email) = 0",
    "duplicate_count(id) = 0",
    "freshness(updated_at) < 1d",
    "invalid_percent(phone) < 1%",
    "schema",
    "anomaly detection for row_count",
    "avg(amount) between 10 and 500",
)
_TITLES = (
    "{check} failed on {dataset}",
    "Data quality issue in {dataset}",
    "{dataset}: check '{check}' is failing",
    "Investigate {dataset} ({check})",
)
_EMAIL_DOMAIN = "example.com"
_HOUR = timedelta(hours=1)


def _email(person: str) -> str:
    return f"{person}@{_EMAIL_DOMAIN}"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hours(rng: random.Random, mean: float) -> timedelta:
    return timedelta(seconds=int(rng.expovariate(1.0 / mean) * 3600) + 60)


def _datasets(rng: random.Random, count: int) -> list[Dataset]:
    sources = [(_uuid(rng), name) for name in _DATASOURCES[: max(1, min(len(_DATASOURCES), count // 8 + 1))]]
    datasets = []
    for index in range(count):
        table = _TABLES[index % len(_TABLES)]
        round_ = index // len(_TABLES)
        suffix = _SUFFIXES[round_] if round_ < len(_SUFFIXES) else f"_{round_}"
        name = f"{table}{suffix}"
        source_id, source_name = sources[index % len(sources)]
        person = None if rng.random() < 0.15 else rng.choice(_PEOPLE)
        owner = None if person is None else _email(person)
        dataset_id = _uuid(rng)  # drawn before the tags, the order the stream always had
        tags = tuple(sorted(rng.sample(("pii", "finance", "core", "marketing", "gold"), 2)))
        attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()
        if person is not None:
            team = _TEAMS[_PEOPLE.index(person) % len(_TEAMS)]
            if index % 2:
                tags = (*tags, f"team:{team}")
            else:
                attributes = (("team", (team,)),)
        datasets.append(
            Dataset(
                dataset_id=dataset_id,
                dataset_name=name,
                dataset_label=name.replace("_", " ").title(),
                datasource_id=source_id,
                datasource_name=source_name,
                owner_email=owner,
                tags=tags,
                number_of_rows=rng.randrange(1_000, 50_000_000),
                attributes=attributes,
            )
        )
    return datasets


def _history(
    rng: random.Random, created: datetime, now: datetime, resolves: bool
) -> tuple[str, list[StateChange]]:
    """The initial status and the status/severity/title changes of one incident, all at or before now."""
    changes: list[StateChange] = []
    path = ["investigating", "fixing", "resolved"] if resolves else ["investigating", "fixing"]
    if not resolves:
        path = path[: rng.randrange(len(path) + 1)]
    elif rng.random() < 0.2:
        path = ["resolved"]  # closed straight away: a false alarm
    at = created
    for status, mean_hours in zip(path, (6.0, 24.0, 48.0), strict=False):
        at = at + _hours(rng, mean_hours)
        if at > now:
            break
        changes.append(StateChange(at=at, status=status))
    if changes and changes[-1].status == "resolved" and rng.random() < 0.04:
        reopened = changes[-1].at + _hours(rng, 24.0)
        if reopened <= now:
            changes.append(StateChange(at=reopened, status="investigating"))
            resolved_again = reopened + _hours(rng, 24.0)
            if resolved_again <= now and rng.random() < 0.5:
                changes.append(StateChange(at=resolved_again, status="resolved"))
    if rng.random() < 0.08:
        at = created + (now - created) * rng.random()
        changes.append(StateChange(at=at.replace(microsecond=0), severity=rng.choice(SEVERITIES)))
    if rng.random() < 0.02:
        at = created + (now - created) * rng.random()
        changes.append(StateChange(at=at.replace(microsecond=0), title="Renamed: " + rng.choice(_TABLES)))
    changes.sort(key=lambda change: change.at)
    return "reported", changes


def generate_organization(
    *,
    seed: int = 42,
    incidents: int = 300,
    datasets: int = 40,
    days: int = 120,
    now: datetime | None = None,
    resolved_fraction: float = 0.7,
    deleted_fraction: float = 0.02,
    young_fraction: float = 0.03,
    organization_name: str = "Demo Org",
) -> Organization:
    """A synthetic organisation, identical for the same arguments (``now`` defaults to the wall clock)."""
    # Sizing: a window of k report dates holds about k rows per live incident (both statuses together);
    # resolved_fraction=0 and deleted_fraction=0 make every incident an open row on every date.
    now = as_utc(now if now is not None else datetime.now(timezone.utc)).replace(microsecond=0)
    rng = random.Random(seed)
    organization_id = _uuid(rng)
    dataset_list = _datasets(rng, max(1, datasets))
    checks = [(dataset, _uuid(rng), rng.choice(_CHECKS)) for dataset in dataset_list for _ in range(3)]
    span = timedelta(days=max(days, 1)).total_seconds()
    young_span = timedelta(days=2).total_seconds()
    ages = [
        (young_span if rng.random() < young_fraction else span) * rng.random() + 60.0
        for _ in range(incidents)
    ]
    # Oldest first, so numbers grow with creation time as they do in Soda Cloud.
    ages.sort(reverse=True)
    result = []
    for number, age in enumerate(ages, start=1):
        created = (now - timedelta(seconds=age)).replace(microsecond=0)
        dataset, check_id, check_name = rng.choice(checks)
        initial, changes = _history(rng, created, now, rng.random() < resolved_fraction)
        title = rng.choice(_TITLES).format(check=check_name, dataset=dataset.dataset_name)
        source = dataset.datasource_name
        final_status = next((c.status for c in reversed(changes) if c.status), initial)
        deleted_at = None
        if rng.random() < deleted_fraction:
            deleted_at = (created + (now - created) * rng.random()).replace(microsecond=0) + _HOUR / 60
            deleted_at = min(deleted_at, now)
        result.append(
            Incident(
                incident_id=_uuid(rng),
                number=number,
                dataset_id=dataset.dataset_id,
                check_id=check_id,
                check_name=check_name,
                title=title,
                created_at=created,
                severity=rng.choices(SEVERITIES, weights=_SEVERITY_WEIGHTS)[0],
                status=initial,
                lead_email=None if rng.random() < 0.25 else _email(rng.choice(_PEOPLE)),
                reporter_email=_email(rng.choice(_PEOPLE)),
                description=f"Check '{check_name}' failed on {source}.{dataset.dataset_name}.",
                resolution_notes="Fixed upstream and re-ran the pipeline."
                if final_status == "resolved"
                else "",
                changes=changes,
                deleted_at=deleted_at,
            )
        )
    return Organization(
        organization_id=organization_id,
        datasets=dataset_list,
        incidents=result,
        now=now,
        organization_name=organization_name,
    )
