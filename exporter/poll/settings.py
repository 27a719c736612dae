"""How often and how far back a poller reads: settings alone, so parsing flags loads no runtime."""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.incidents.snapshot import SnapshotSettings
from exporter.incidents.teams import DEFAULT_TEAM_FROM, TeamSource, parse_team_from


@dataclass(frozen=True)
class PollSettings:
    """Timing and window settings of one organisation's poller."""

    interval_seconds: float = 300.0
    lookback_seconds: float = 3 * 86400.0
    timeout_seconds: float = 120.0
    max_age_seconds: float = 6 * 3600.0
    datasets_interval_seconds: float = 3600.0
    datasets_team_from: tuple[TeamSource, ...] = parse_team_from(DEFAULT_TEAM_FROM)
    snapshot: SnapshotSettings = field(default_factory=SnapshotSettings)
