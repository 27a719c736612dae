"""The web flags: repeated listen addresses, their variable, the time bounds, the deprecated pool size."""

from __future__ import annotations

import pytest

from exporter.config.arguments import parse_args
from exporter.web.limits import Limits

ENV = {"SODA_API_KEY_ID": "id", "SODA_API_KEY_SECRET": "secret"}


def test_listen_address_repeats_and_its_variable_takes_a_comma_separated_list() -> None:
    config = parse_args(["--web.listen-address", "127.0.0.1:9100", "--web.listen-address", "[::1]:9101"], ENV)
    assert config.listen_addresses == (("127.0.0.1", 9100), ("::1", 9101))
    from_env = parse_args([], {**ENV, "SODA_EXPORTER_WEB_LISTEN_ADDRESS": "127.0.0.1:9100, [::1]:9101"})
    assert from_env.listen_addresses == (("127.0.0.1", 9100), ("::1", 9101))
    assert parse_args([], ENV).listen_addresses == (("", 9877),)


def test_a_bad_listen_address_names_the_item(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args([], {**ENV, "SODA_EXPORTER_WEB_LISTEN_ADDRESS": "127.0.0.1:9100,::1:9101"})
    assert exit_info.value.code == 2
    assert "$SODA_EXPORTER_WEB_LISTEN_ADDRESS: '::1:9101' must look like" in capsys.readouterr().err


def test_the_time_bounds_reach_the_server_limits() -> None:
    flags = ["--web.read-header-timeout", "3s", "--web.read-timeout", "7s"]
    config = parse_args([*flags, "--web.idle-timeout", "1m", "--web.write-timeout", "9s"], ENV)
    assert config.web_limits == Limits(
        read_header_timeout=3, read_timeout=7, idle_timeout=60, write_timeout=9
    )
    assert parse_args([], ENV).web_limits == Limits()


def test_the_old_pool_size_is_accepted_with_a_deprecation_notice() -> None:
    assert parse_args([], ENV).notices == ()
    notices = parse_args(["--web.max-workers", "4"], ENV).notices
    assert len(notices) == 1 and "--web.max-workers is deprecated and ignored" in notices[0]
