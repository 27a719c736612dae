"""The simulator's command line on the exporter's scaffold: dotted flags, variables, one-line errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from exporter.simulator.cli import SimulatorOptions, build_parser, parse_listen_address, parse_simulator_args


def test_defaults() -> None:
    options = parse_simulator_args([], {})
    assert options == SimulatorOptions(
        listen_address=("127.0.0.1", 8080),
        seed=42,
        incidents=300,
        datasets=40,
        days=120,
        now=None,
        etl_outage=timedelta(0),
        faults=None,
        max_page_size=1000,
        page_delay=0.0,
    )


def test_flags_win_over_their_variables_and_the_exporters_variables_are_not_read() -> None:
    env = {
        "SODA_EXPORTER_SIMULATOR_SEED": "9",
        "SODA_EXPORTER_SIMULATOR_INCIDENTS": "12",
        "SODA_EXPORTER_WEB_LISTEN_ADDRESS": ":9877",  # the exporter's, in a shared environment
    }
    options = parse_simulator_args(
        [
            "--simulator.seed",
            "5",
            "--simulator.page-delay",
            "0.5",
            "--simulator.now",
            "2026-03-01T12:00:00+00:00",
        ],
        env,
    )
    assert (options.seed, options.incidents, options.page_delay) == (5, 12, 0.5)
    assert options.now == datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    assert options.listen_address == ("127.0.0.1", 8080)
    moved = parse_simulator_args([], {"SODA_EXPORTER_SIMULATOR_WEB_LISTEN_ADDRESS": ":9999"})
    assert moved.listen_address == ("0.0.0.0", 9999)
    assert parse_simulator_args(["--simulator.etl-outage", "5d"], {}).etl_outage == timedelta(days=5)


def test_listen_addresses() -> None:
    assert parse_listen_address(":9999") == ("0.0.0.0", 9999)
    assert parse_listen_address("[::1]:80") == ("::1", 80)
    assert parse_listen_address("localhost:0") == ("localhost", 0)
    with pytest.raises(ValueError):
        parse_listen_address("localhost")


# What is wrong -> what the one line says; "VAR=value" is given through the environment.
BAD_INPUT = {
    "--simulator.incidents -5": "--simulator.incidents: '-5' must be 0 or more",
    "--simulator.now yesterday": "--simulator.now: 'yesterday' is not an ISO 8601 time",
    "--simulator.page-delay soon": "--simulator.page-delay: 'soon' is not a duration",
    "--simulator.max-page-size 0": "--simulator.max-page-size: '0' must be between 1 and 1000",
    "--web.listen-address nowhere": "--web.listen-address: 'nowhere' must look like host:port",
    "SODA_EXPORTER_SIMULATOR_DAYS=many": "$SODA_EXPORTER_SIMULATOR_DAYS: 'many'",
    "--simulator.faults /nonexistent/faults.yml": "--simulator.faults: cannot read",
    "--simulator.seeds 1": "unrecognized arguments: --simulator.seeds",
}


@pytest.mark.parametrize(("given", "message"), BAD_INPUT.items())
def test_invalid_input_is_one_line_and_exit_2(
    given: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name, is_variable, value = given.partition("=")
    argv, env = ([], {name: value}) if is_variable else (given.split(), {})
    with pytest.raises(SystemExit) as exited:
        parse_simulator_args(argv, env, prog="simulate")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("simulate: error: ") and message in err


def test_a_fault_file_that_is_no_scenario_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faults = tmp_path / "faults.yml"
    faults.write_text("just a string\n")
    with pytest.raises(SystemExit):
        parse_simulator_args(["--simulator.faults", str(faults)], {}, prog="simulate")
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "a fault scenario is a mapping or a list of rules" in err


def test_help_groups_the_flags_and_names_each_variable() -> None:
    text = " ".join(build_parser("simulate").format_help().split())
    assert "web flags: Where the simulator listens." in text
    assert "simulator flags: The simulated organisation, its data and its faults." in text
    assert text.index("web flags") < text.index("Address the simulated") < text.index("simulator flags")
    assert text.index("simulator flags") < text.index("Random seed")
    for variable in ("SODA_EXPORTER_SIMULATOR_WEB_LISTEN_ADDRESS", "SODA_EXPORTER_SIMULATOR_SEED"):
        assert f"[${variable}]" in text
