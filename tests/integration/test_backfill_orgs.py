"""``backfill --config.file``: every organisation's history in one file, each under its organization label."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from exporter.simulator import SimulatorServer, generate_organization
from tests.support.backfill import parse, run_cli, truth, values_at
from tests.support.builders import org_env, write_orgs

StartSim = Callable[..., SimulatorServer]


def two_orgs(start_simulator: StartSim, tmp_path: Path) -> tuple[dict[str, SimulatorServer], Path]:
    """acme and globex, two different simulated organisations, and a --config.file naming both."""
    sims = {
        name: start_simulator(generate_organization(seed=seed, incidents=80, datasets=5, days=30))
        for name, seed in (("acme", 21), ("globex", 22))
    }
    return sims, write_orgs(tmp_path / "orgs.yml", *sims.items())


def test_one_run_writes_every_organizations_history(
    start_simulator: StartSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sims, config = two_orgs(start_simulator, tmp_path)
    today = sims["acme"].organization.now.date()
    first = today - timedelta(days=5)
    out = tmp_path / "history.om"
    argv = [
        "--from",
        first.isoformat(),
        "--to",
        today.isoformat(),
        "-o",
        str(out),
        "--config.file",
        str(config),
    ]
    assert run_cli([*argv, "--label", "job=soda"], org_env("acme", "globex")) == 0
    samples = parse(out.read_text())  # one family block each: the parser refuses a family split in two
    assert {dict(labels)["organization"] for _, labels, _ in samples} == {"acme", "globex"}
    assert all(dict(labels)["job"] == "soda" for _, labels, _ in samples)
    for name, sim in sims.items():
        mine = {key: v for key, v in samples.items() if dict(key[1])["organization"] == name}
        for day in (first, today - timedelta(days=1)):
            got = values_at(mine, "soda_incidents_open", day, ("dataset_id", "severity", "status"))
            want_open, _ = truth(sim.organization, day)
            assert {k: v for k, v in got.items() if v} == dict(want_open), (name, day)
    err = capsys.readouterr().err
    assert "acme: " in err and "globex: " in err


def test_config_file_errors(
    start_simulator: StartSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sims, config = two_orgs(start_simulator, tmp_path)
    day = sims["acme"].organization.now.date().isoformat()
    out = tmp_path / "out.om"
    base = ["--from", day, "--to", day, "-o", str(out), "--config.file", str(config)]
    for argv, env, message in (
        ([*base, "--soda.organization", "x"], org_env("acme", "globex"), "--soda.organization: not with"),
        (base, org_env("acme"), "--config.file: organization 'globex'"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            run_cli(argv, env)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    # One organisation failing fails the run: no file with only part of the history.
    env = {**org_env("acme", "globex"), "GLOBEX_SECRET": "wrong"}
    assert run_cli([*base, "--soda.retries", "0"], env) == 1
    assert "error: globex: " in capsys.readouterr().err and not out.exists()
