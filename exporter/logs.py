"""structlog set-up: JSON off a TTY, console on one, and every known secret masked in every line."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import structlog

MASK = "***"
_secret_sources: list[Callable[[], Iterable[str | None]]] = []
_sources_lock = threading.Lock()


def add_secret_source(source: Callable[[], Iterable[str | None]]) -> None:
    """Register a callable returning the current secrets (it is asked again on each log line)."""
    with _sources_lock:
        _secret_sources.append(source)


def clear_secret_sources() -> None:
    """Forget every registered secret source (tests and re-configuration)."""
    with _sources_lock:
        _secret_sources.clear()


def current_secrets() -> list[str]:
    """Every secret the registered sources know of right now."""
    secrets: list[str] = []
    for source in list(_secret_sources):
        try:
            values = source()
        except Exception:  # a secret file that cannot be read has nothing to leak
            continue
        # Very short values would mask unrelated text; real keys are long.
        secrets.extend(v for v in values if v and len(v) >= 4)
    return secrets


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` by ``***``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _mask(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask(v, secrets) for v in value)
    return value


def redact_processor(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets in the rendered event, exception text included."""
    secrets = current_secrets()
    if not secrets:
        return event_dict
    for key, value in list(event_dict.items()):
        event_dict[key] = _mask(value, secrets)
    return event_dict


def _masked(renderer: Callable[..., Any]) -> Callable[..., Any]:
    """The renderer, with its output masked once more: whatever it adds must not carry a secret."""

    def render(logger: Any, name: str, event_dict: MutableMapping[str, Any]) -> Any:
        rendered = renderer(logger, name, event_dict)
        secrets = current_secrets()
        return redact(rendered, secrets) if secrets and isinstance(rendered, str) else rendered

    return render


def configure_logging(level: str = "info", fmt: str | None = None, stream: Any = None) -> None:
    """Route structlog and stdlib logging (urllib3 included) through one redacting renderer."""
    out = stream or sys.stderr
    if fmt is None:
        fmt = "console" if getattr(out, "isatty", lambda: False)() else "json"
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    # Tracebacks become text before masking in both formats: a renderer that formatted exc_info
    # itself would do it after redact_processor, and the secret in an exception message would pass.
    final: list[Any] = [structlog.processors.format_exc_info, redact_processor, _masked(renderer)]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # urllib3 announces every retry at WARNING; the canonical poll line already tells the outcome.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
