"""Parsing flags and expecting the one-line configuration error (exit 2)."""

from __future__ import annotations

import pytest

from exporter.config.arguments import parse_args

CREDS = {"SODA_API_KEY_ID": "key-id-123", "SODA_API_KEY_SECRET": "s3cr3t-value-xyz"}


def config_error(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]) -> str:
    """Parse and expect exit 2; return the single stderr line."""
    with pytest.raises(SystemExit) as exc:
        parse_args(argv, env)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()
