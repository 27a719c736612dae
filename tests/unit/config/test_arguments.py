"""Flags, environment variables, durations, and one-line configuration errors."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.config.arguments import add_flags, build_parser, join_negative_values, parse_args, resolve_flags
from exporter.config.durations import format_duration, parse_duration
from exporter.config.flags import FLAGS, Flag, env_var_for
from tests.support.config import CREDS, config_error


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
    assert config.organizations[0].reporting_url == "https://reporting.cloud.soda.io/v1"
    assert config.organizations[0].cloud_url == "https://cloud.soda.io"
    assert config.poll.interval_seconds == 300
    assert config.poll.lookback_seconds == 3 * 86400
    assert config.poll.timeout_seconds == 120
    assert config.poll.snapshot.resolved_window_seconds == 30 * 86400
    assert config.poll.snapshot.info_limit == 500
    assert config.page_size == 1000
    assert config.concurrency == 4
    assert config.poll.snapshot.age_buckets[0] == 3600 and config.poll.snapshot.age_buckets[-1] == 365 * 86400
    creds = config.organizations[0].credentials.get()
    assert (creds.key_id, creds.key_secret) == ("key-id-123", "s3cr3t-value-xyz")


def test_region_us_and_url_overrides() -> None:
    config = parse_args(["--soda.region", "us"], CREDS)
    assert config.organizations[0].reporting_url == "https://reporting.cloud.us.soda.io/v1"
    assert config.organizations[0].cloud_url == "https://cloud.us.soda.io"
    env = {
        **CREDS,
        "SODA_REPORTING_URL": "http://127.0.0.1:8080/v1/",
        "SODA_CLOUD_URL": "http://127.0.0.1:8080",
    }
    config = parse_args(["--soda.region", "us"], env)
    assert config.organizations[0].reporting_url == "http://127.0.0.1:8080/v1"
    assert config.organizations[0].cloud_url == "http://127.0.0.1:8080"


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
        (["--metrics.age-buckets", "1h,30m"], {}, "must increase strictly, but '30m' follows '1h'"),
        (["--metrics.age-buckets", "1h,1x"], {}, "item 2, '1x', which is not a duration"),
        (["--poll.interval", "-5m"], {}, "--poll.interval: '-5m' must be greater than zero"),
        (["--poll.lookback", "-.5d"], {}, "--poll.lookback: '-.5d' must be greater than zero"),
        (["--log.level", "loud"], {}, "--log.level: 'loud' is not one of debug, info, warn, warning, error"),
        ([], {"SODA_EXPORTER_DEMO": "maybe"}, "$SODA_EXPORTER_DEMO: 'maybe' must be one of 1, true, yes"),
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
    assert config.organizations[0].credentials.get().key_secret == "file-secret-value"
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


@pytest.mark.parametrize(
    ("given", "level"), [("warn", "warning"), ("WARNING", "warning"), ("debug", "debug")]
)
def test_log_level_accepts_warn_as_prometheus_spells_it(given: str, level: str) -> None:
    assert parse_args(["--log.level", given], CREDS).log_level == level
    assert parse_args([], {**CREDS, "SODA_EXPORTER_LOG_LEVEL": given}).log_level == level


@pytest.mark.parametrize("word", ["1", "true", "yes", "on", "TRUE", "Yes"])
def test_every_boolean_variable_reads_the_same_words(word: str) -> None:
    # No credentials: only demo mode can start without them.
    assert parse_args([], {"SODA_EXPORTER_DEMO": word}).demo is True
    booleans = [flag for flag in FLAGS if flag.boolean]
    env = {flag.env_name: word for flag in booleans}
    values = resolve_flags(build_parser().parse_args([]), env)
    assert [values[flag.dest] for flag in booleans] == [True] * len(booleans)


@pytest.mark.parametrize("word", ["0", "false", "no", "off"])
def test_false_words_turn_demo_off(word: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args([], {**CREDS, "SODA_EXPORTER_DEMO": word}).demo is False
    assert "SODA_API_KEY_ID" in config_error(capsys, [], {"SODA_EXPORTER_DEMO": word})


def test_a_negative_looking_value_reaches_its_flag_and_a_real_option_still_wins() -> None:
    assert join_negative_values(["--poll.interval", "-5m"], FLAGS) == ["--poll.interval=-5m"]
    assert join_negative_values(["--soda.organization", "--demo"], FLAGS) == ["--soda.organization", "--demo"]
    assert join_negative_values(["--demo", "-1"], FLAGS) == ["--demo", "-1"]


def help_text() -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODA_")}
    proc = subprocess.run(
        [sys.executable, "-m", "exporter.cli", "--help"],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


def help_sections(text: str) -> dict[str, list[str]]:
    """Section title -> the flags listed under it."""
    sections: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
            sections[current] = []
        elif line.startswith("  -") and current:
            sections[current].append(next(t for t in line.split() if t.startswith("--")))
    return sections


def test_help_groups_flags_by_prefix_in_the_documented_order() -> None:
    sections = help_sections(help_text())
    titles = [t for t in sections if t.endswith(" flags")]
    assert titles == [
        "web flags", "soda flags", "poll flags", "metrics flags", "webhook flags", "logging flags"
    ]  # fmt: skip
    assert sections["logging flags"] == ["--log.level", "--log.format"]
    assert "--datasets.interval" in sections["poll flags"]
    assert "--config.file" in sections["soda flags"]
    assert {"--resolved.window", "--incident-info.limit"} <= set(sections["metrics flags"])
    listed = [flag for flags in sections.values() for flag in flags]
    assert sorted(listed) == sorted([f.name for f in FLAGS] + ["--help", "--version"])


def test_a_new_flag_falls_into_its_group_by_name_alone() -> None:
    new = (
        Flag("--web.new-flag", None, "Later."),
        Flag("--tracing.endpoint", None, "OTLP."),
    )
    parser = argparse.ArgumentParser()
    add_flags(parser, (*FLAGS, *new), grouped=True)
    sections = help_sections(parser.format_help())
    assert sections["web flags"][-1] == "--web.new-flag"
    assert sections["tracing flags"] == ["--tracing.endpoint"]


def test_help_lists_allowed_values_variables_and_subcommands() -> None:
    text = " ".join(help_text().split())
    assert "One of: eu, us." in text
    assert "One of: debug, info, warn, warning, error." in text
    assert "One of: json, console." in text
    assert "[$SODA_EXPORTER_DEMO]" in text
    for name in ("'simulate'", "'incident update'", "'backfill'"):
        assert name in text
