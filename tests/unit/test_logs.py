"""Logging: JSON rendering and secret masking in structlog and stdlib lines alike."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from exporter.logs import add_secret_source, clear_secret_sources, configure_logging, redact

SECRET = "sk-very-secret-4242"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Logging configured to JSON into a buffer, with one registered secret."""
    buffer = io.StringIO()
    configure_logging("debug", "json", stream=buffer)
    add_secret_source(lambda: [SECRET, None, ""])
    yield buffer
    clear_secret_sources()
    configure_logging("info", "console")


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    """Parsed JSON lines written so far."""
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_structlog_values_nested_values_and_event_are_masked(stream: io.StringIO) -> None:
    structlog.get_logger("t").warning(f"saw {SECRET}", detail={"header": f"X-API-KEY-SECRET: {SECRET}"})
    (line,) = lines(stream)
    assert SECRET not in json.dumps(line)
    assert line["event"] == "saw ***"
    assert line["detail"] == {"header": "X-API-KEY-SECRET: ***"}
    assert line["level"] == "warning"


def test_stdlib_and_exception_text_are_masked(stream: io.StringIO) -> None:
    logging.getLogger("somelib").error("connecting with %s", SECRET)
    try:
        raise RuntimeError(f"boom {SECRET}")
    except RuntimeError:
        structlog.get_logger("t").exception("failed")
    text = stream.getvalue()
    assert SECRET not in text
    assert text.count("***") >= 2
    assert "RuntimeError: boom ***" in text


def test_redact_replaces_every_occurrence() -> None:
    assert redact(f"{SECRET}/{SECRET}", [SECRET]) == "***/***"


def _fail_with_secret() -> None:
    raise ValueError(f"request with header X-API-KEY-SECRET: {SECRET} refused")


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_traceback_carrying_a_secret_is_masked_in_both_formats(fmt: str) -> None:
    buffer = io.StringIO()
    configure_logging("info", fmt, stream=buffer)
    add_secret_source(lambda: [SECRET])
    try:
        try:
            _fail_with_secret()
        except ValueError:
            structlog.get_logger("t").exception("poll failed")
        try:
            _fail_with_secret()
        except ValueError:
            logging.getLogger("somelib").exception("stdlib failed")
    finally:
        clear_secret_sources()
        configure_logging("info", "console")
    text = buffer.getvalue()
    assert SECRET not in text
    # The tracebacks are there, with the secret masked rather than the whole text dropped.
    assert text.count("Traceback (most recent call last)") == 2
    assert text.count("ValueError: request with header X-API-KEY-SECRET: *** refused") == 2
    assert "_fail_with_secret" in text
