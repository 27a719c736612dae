"""Flags, environment variables, durations, and one-line configuration errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.config import FLAGS, env_var_for, parse_args
from exporter.durations import format_duration, parse_duration

CREDS = {"SODA_API_KEY_ID": "key-id-123", "SODA_API_KEY_SECRET": "s3cr3t-value-xyz"}


def config_error(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]) -> str:
    """Parse and expect exit 2; return the single stderr line."""
    with pytest.raises(SystemExit) as exc:
        parse_args(argv, env)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("1h", 3600),
        ("3d", 259200),
        ("1h30m", 5400),
        ("42", 42),
        ("1.5", 1.5),
        ("500ms", 0.5),
        ("2w", 1209600),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "-1s", "5x", "1h-", "nan", "inf"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for seconds in (300.0, 86400.0, 90.0, 3600.0 * 30):
        assert parse_duration(format_duration(seconds)) == seconds


def test_defaults() -> None:
    config = parse_args([], CREDS)
    assert (config.listen_host, config.listen_port) == ("", 9877)
    assert config.telemetry_path == "/metrics"
    assert config.reporting_url == "https://reporting.cloud.soda.io/v1"
    assert config.cloud_url == "https://cloud.soda.io"
    assert config.poll.interval_seconds == 300
    assert config.poll.lookback_seconds == 3 * 86400
    assert config.poll.timeout_seconds == 120
    assert config.poll.snapshot.resolved_window_seconds == 30 * 86400
    assert config.poll.snapshot.info_limit == 500
    assert config.page_size == 1000
    assert config.concurrency == 4
    assert config.poll.snapshot.age_buckets[0] == 3600 and config.poll.snapshot.age_buckets[-1] == 365 * 86400
    creds = config.credentials.get()
    assert (creds.key_id, creds.key_secret) == ("key-id-123", "s3cr3t-value-xyz")


def test_region_us_and_url_overrides() -> None:
    config = parse_args(["--soda.region", "us"], CREDS)
    assert config.reporting_url == "https://reporting.cloud.us.soda.io/v1"
    assert config.cloud_url == "https://cloud.us.soda.io"
    env = {
        **CREDS,
        "SODA_REPORTING_URL": "http://127.0.0.1:8080/v1/",
        "SODA_CLOUD_URL": "http://127.0.0.1:8080",
    }
    config = parse_args(["--soda.region", "us"], env)
    assert config.reporting_url == "http://127.0.0.1:8080/v1"
    assert config.cloud_url == "http://127.0.0.1:8080"


def test_flag_wins_over_env_and_env_fills_in() -> None:
    env = {**CREDS, "SODA_EXPORTER_POLL_INTERVAL": "1h", "SODA_EXPORTER_POLL_PAGE_SIZE": "50"}
    config = parse_args(["--poll.interval", "90s"], env)
    assert config.poll.interval_seconds == 90
    assert config.page_size == 50


def test_every_flag_has_a_distinct_env_var() -> None:
    names = [flag.env_name for flag in FLAGS]
    assert len(names) == len(set(names))
    assert env_var_for("--soda.api-key-id-file") == "SODA_API_KEY_ID_FILE"
    assert env_var_for("--web.listen-address") == "SODA_EXPORTER_WEB_LISTEN_ADDRESS"


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["--poll.interval", "soon"], {}, "--poll.interval: 'soon' "),
        (
            [],
            {"SODA_EXPORTER_POLL_INTERVAL": "0s"},
            "$SODA_EXPORTER_POLL_INTERVAL: '0s' must be greater than zero",
        ),
        (["--poll.page-size", "1001"], {}, "--poll.page-size: '1001' must be between 1 and 1000"),
        (["--soda.region", "ap"], {}, "--soda.region: 'ap' is not one of eu, us"),
        (["--web.listen-address", "9877"], {}, "--web.listen-address"),
        (["--soda.reporting-url", "ftp://x"], {}, "--soda.reporting-url"),
        (["--log.format", "xml"], {}, "--log.format"),
        (["--metrics.age-buckets", "1h,30m"], {}, "strictly increasing"),
        (["--no-such-flag"], {}, "unrecognized arguments: --no-such-flag"),
    ],
)
def test_invalid_configuration_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str], needle: str
) -> None:
    line = config_error(capsys, argv, {**CREDS, **env})
    assert line.startswith("soda-incidents-exporter: error: ")
    assert needle in line


def test_missing_credentials_are_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    line = config_error(capsys, [], {})
    assert "SODA_API_KEY_ID" in line
    line = config_error(capsys, [], {"SODA_API_KEY_ID": "abc"})
    assert "SODA_API_KEY_SECRET" in line


def test_credentials_from_files_and_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "id").write_text("file-key-id\n")
    (tmp_path / "secret").write_text("file-secret-value\n")
    config = parse_args(
        [
            "--soda.api-key-id-file",
            str(tmp_path / "id"),
            "--soda.api-key-secret-file",
            str(tmp_path / "secret"),
        ],
        {},
    )
    assert config.credentials.get().key_secret == "file-secret-value"
    line = config_error(
        capsys, ["--soda.api-key-secret-file", str(tmp_path / "missing")], {"SODA_API_KEY_ID": "x"}
    )
    assert "cannot read API key secret file" in line


def test_credentials_cannot_be_given_as_flag_values(capsys: pytest.CaptureFixture[str]) -> None:
    line = config_error(capsys, ["--soda.api-key-secret", "oops"], CREDS)
    assert "unrecognized arguments" in line


def test_console_script_reports_bad_flag_as_one_line_and_exit_2() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODA_")}
    proc = subprocess.run(
        [sys.executable, "-m", "exporter.cli", "--poll.interval", "never"],
        env={**env, **CREDS},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "soda-incidents-exporter: error: --poll.interval: 'never' is not a duration "
        "(use e.g. 90s, 5m, 1h, 3d or plain seconds)"
    ]
    assert proc.stdout == ""
