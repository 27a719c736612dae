"""Dataset names from /coverage/datasets, and several organisations polled in one process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from exporter.app import Exporter
from exporter.config.arguments import parse_args
from exporter.simulator import SimulatorServer
from exporter.simulator.faults import FaultPlan
from tests.support.builders import incident, make_org, org_env, write_orgs
from tests.support.http import scrape, series
from tests.support.waiting import wait_until

StartSim = Callable[..., SimulatorServer]
StartExporter = Callable[..., Exporter]


def dataset_names(text: str) -> dict[str, str]:
    """dataset_id -> dataset_name from soda_dataset_info."""
    return {dict(k)["dataset_id"]: dict(k)["dataset_name"] for k in series(text, "soda_dataset_info")}


def test_dataset_info_is_served(simulator: SimulatorServer, ready_exporter: Exporter) -> None:
    exporter = ready_exporter
    names = dataset_names(scrape(exporter.port).text)
    assert names == {d.dataset_id: d.dataset_name for d in simulator.organization.datasets}
    (labels, value), *_ = series(scrape(exporter.port).text, "soda_dataset_info").items()
    assert value == 1 and {k for k, _ in labels} == {
        "dataset_id",
        "dataset_name",
        "dataset_label",
        "datasource_name",
        "owner_email",
        "team",
    }


def test_dataset_failure_never_blocks_incidents_and_keeps_the_last_names(
    start_simulator: StartSim, start_exporter: StartExporter
) -> None:
    sim = start_simulator(make_org([incident(1)], datasets=3))
    exporter = start_exporter(sim, "--datasets.interval", "1ms", "--soda.retries", "0", run=False)
    exporter.start(poll=False)
    assert exporter.pollers[0].run_cycle()
    names = dataset_names(scrape(exporter.port).text)
    assert len(names) == 3
    sim.set_faults(
        FaultPlan.from_dict(
            {"rules": [{"kind": "http_status", "code": 500, "path": "/v1/coverage/datasets"}]}
        )
    )
    assert exporter.pollers[0].run_cycle()
    text = scrape(exporter.port).text
    assert series(text, "soda_up") == {(): 1.0}
    assert dataset_names(text) == names
    assert series(text, "soda_exporter_dataset_refresh_failures_total")[(("reason", "server_error"),)] == 1


@pytest.mark.slow
def test_two_organizations_are_labelled_and_one_failing_does_not_affect_the_other(
    start_simulator: StartSim, start_exporter: StartExporter, tmp_path: Path
) -> None:
    acme = start_simulator(make_org([incident(1, severity="critical"), incident(2)]))
    beta = start_simulator(make_org([incident(n) for n in range(1, 6)]))
    config = write_orgs(tmp_path / "orgs.yml", ("acme", acme), ("beta", beta))
    exporter = start_exporter(acme, "--config.file", str(config), env=org_env("acme", "beta"))
    wait_until(lambda: len(exporter.state.outcomes()) == 2)
    text = scrape(exporter.port).text
    assert series(text, "soda_up") == {(("organization", "acme"),): 1.0, (("organization", "beta"),): 1.0}
    opened = series(text, "soda_incidents_open")
    assert all(dict(k).get("organization") in {"acme", "beta"} for k in opened)
    per_org = {
        org: sum(v for k, v in opened.items() if dict(k)["organization"] == org) for org in ("acme", "beta")
    }
    assert per_org == {"acme": 2, "beta": 5}
    for name in ("soda_incident_info", "soda_exporter_api_requests_total", "soda_exporter_polls_total"):
        assert all("organization" in dict(k) for k in series(text, name)), name

    beta.stop()
    beta_poller = next(p for p in exporter.pollers if p.organization == "beta")
    beta_poller.client.close()
    assert not beta_poller.run_cycle()
    acme_poller = next(p for p in exporter.pollers if p.organization == "acme")
    assert acme_poller.run_cycle()
    text = scrape(exporter.port).text
    assert series(text, "soda_up") == {(("organization", "acme"),): 1.0, (("organization", "beta"),): 0.0}
    opened = series(text, "soda_incidents_open")
    assert sum(v for k, v in opened.items() if dict(k)["organization"] == "beta") == 5  # last good kept


def test_single_organization_has_no_label_unless_named(
    simulator: SimulatorServer, start_exporter: StartExporter
) -> None:
    plain = start_exporter(simulator)
    named = start_exporter(simulator, "--soda.organization", "acme")
    for exporter in (plain, named):
        assert exporter.state.wait_ready(20)
    assert series(scrape(plain.port).text, "soda_up") == {(): 1.0}
    assert series(scrape(named.port).text, "soda_up") == {(("organization", "acme"),): 1.0}


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("organizations: []\n", "non-empty 'organizations' list"),
        ("organizations:\n  - region: eu\n", "name is required"),
        ("organizations:\n  - name: a\n    region: ap\n", "region 'ap' is not one of eu, us"),
        ("organizations:\n  - name: a\n    colour: red\n", "unknown key 'colour'"),
        (
            "organizations:\n  - name: a\n    api_key_id_env: NOPE_ID\n    api_key_secret_env: NOPE_SECRET\n",
            "organization 'a': api_key_id_env names NOPE_ID, which is not set",
        ),
        (
            "organizations:\n  - name: a\n    api_key_id_env: A_ID\n    api_key_secret_env: NOPE_SECRET\n",
            "organization 'a': api_key_secret_env names NOPE_SECRET, which is not set",
        ),
        (
            "organizations:\n  - name: a\n    api_key_id_env: A_ID\n",
            "organization 'a': no API key secret: set api_key_secret_env or api_key_secret_file",
        ),
        ("organizations: [\n", "is not valid YAML"),
        (
            "organizations:\n  - {name: a, api_key_id_env: A_ID, api_key_secret_env: A_SECRET}\n"
            "  - {name: a, api_key_id_env: A_ID, api_key_secret_env: A_SECRET}\n",
            "'a' is used twice",
        ),
    ],
)
def test_bad_organizations_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needle: str
) -> None:
    path = tmp_path / "orgs.yml"
    path.write_text(content)
    with pytest.raises(SystemExit) as exc:
        parse_args(["--config.file", str(path)], {"A_ID": "x", "A_SECRET": "y"})
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--config.file" in err and needle in err
    assert "SODA_API_KEY" not in err, "the single-organisation variables are not what this file uses"
