"""Flags onto an argument parser, and parsed flags (flag > variable > default) into the exporter's Config."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

from exporter import __version__
from exporter.config.flags import FALSE_WORDS, FLAGS, TRUE_WORDS, Flag
from exporter.config.settings import Config, ConfigError, make_config


class OneLineParser(argparse.ArgumentParser):
    """The one parser scaffold of the exporter and every subcommand: errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print one line naming the problem and exit 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


# Help groups, derived from a flag's prefix (``--web.x`` -> web), so a new flag lands in its group by name.
# Prefixes not listed here get a group of their own, after these.
GROUP_OF_PREFIX = {
    "web": "web",
    "soda": "soda",
    "config": "soda",
    "poll": "poll",
    "datasets": "poll",
    "metrics": "metrics",
    "resolved": "metrics",
    "incident-info": "metrics",
    "webhook": "webhook",
    "log": "logging",
}
GROUP_DESCRIPTIONS = {
    "web": "The HTTP server: metrics, health and the webhook.",
    "soda": "Where Soda Cloud is, how to log in, and how each request behaves.",
    "poll": "When and how much the Reporting API is read.",
    "metrics": "What the incident metrics show.",
    "webhook": "The Alertmanager webhook that updates Soda incidents.",
    "logging": "Log lines on standard error.",
}


def flag_group(flag: Flag) -> str | None:
    """The help group of a flag, from its dotted prefix; None for a flag without one (``--demo``)."""
    name = flag.name.lstrip("-")
    if "." not in name:
        return None
    prefix = name.split(".", 1)[0]
    return GROUP_OF_PREFIX.get(prefix, prefix)


def _help_text(flag: Flag) -> str:
    choices = f" One of: {', '.join(flag.choices)}." if flag.choices else ""
    shown = f" (default {flag.default})" if flag.default is not None else ""
    # argparse %-formats help strings.
    return f"{flag.help}{choices}{shown} [${flag.env_name}]".replace("%", "%%")


def add_flags(
    parser: argparse.ArgumentParser,
    flags: Iterable[Flag],
    *,
    grouped: bool = False,
    descriptions: Mapping[str, str] | None = None,
) -> None:
    """Add ``flags`` to ``parser``; values stay None there so env vars and defaults apply later.

    With ``grouped``, flags go into one help section per group (see ``flag_group``), in the order of
    ``descriptions`` (GROUP_DESCRIPTIONS unless given: a subcommand words its groups its own way)
    and then of first appearance.
    """
    flags = list(flags)
    described = GROUP_DESCRIPTIONS if descriptions is None else descriptions
    targets: dict[str | None, Any] = {None: parser}
    if grouped:
        names = [g for g in described if any(flag_group(f) == g for f in flags)]
        names += [g for g in dict.fromkeys(flag_group(f) for f in flags) if g and g not in names]
        for name in names:
            targets[name] = parser.add_argument_group(f"{name} flags", described.get(name))
    for flag in flags:
        target = targets.get(flag_group(flag), parser) if grouped else parser
        help_text = _help_text(flag)
        if flag.boolean:
            target.add_argument(flag.name, dest=flag.dest, action="store_const", const="true", help=help_text)
            continue
        if flag.repeatable:
            target.add_argument(
                flag.name,
                dest=flag.dest,
                action="append",
                default=None,
                metavar=flag.name.rsplit(".", 1)[-1].upper().replace("-", "_"),
                help=help_text,
            )
            continue
        target.add_argument(
            flag.name,
            dest=flag.dest,
            default=None,
            metavar=flag.name.rsplit(".", 1)[-1].upper().replace("-", "_"),
            help=help_text,
        )


def join_negative_values(argv: Sequence[str], flags: Iterable[Flag]) -> list[str]:
    """Turn ``--flag -5m`` into ``--flag=-5m`` for value flags, so argparse hands the value to its check.

    argparse takes any word starting with ``-`` (other than a plain negative number) for an option
    and answers "expected one argument"; the flag's own parser says what is wrong far better.
    """
    value_flags = {flag.name for flag in flags if not flag.boolean}
    args = list(argv)
    joined: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        following = args[i + 1] if i + 1 < len(args) else ""
        if (
            arg in value_flags
            and following[:1] == "-"
            and (following[1:2].isdigit() or following[1:2] == ".")
        ):
            joined.append(f"{arg}={following}")
            i += 2
            continue
        joined.append(arg)
        i += 1
    return joined


def build_parser(prog: str = "soda-incidents-exporter") -> argparse.ArgumentParser:
    """The exporter's argument parser; defaults are applied later so env vars can fill gaps."""
    parser = OneLineParser(
        prog=prog,
        allow_abbrev=False,
        description="Prometheus exporter for Soda Cloud incidents. Every flag can also be set "
        "through the environment variable shown; a flag wins over its variable. Booleans take "
        f"{'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)}.",
        epilog="Subcommands (each has --help): 'simulate' runs the Soda Cloud simulator alone; "
        "'incident update' changes a Soda incident; 'backfill' writes the Reporting API's history as "
        "OpenMetrics for promtool. Credentials come from SODA_API_KEY_ID / SODA_API_KEY_SECRET or the "
        "*-file flags, never from flag values.",
    )
    add_flags(parser, FLAGS, grouped=True)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def resolve_flags(
    namespace: argparse.Namespace, environ: Mapping[str, str], flags: Sequence[Flag] = FLAGS
) -> dict[str, Any]:
    """Apply flag > env var > default to each flag and parse it; raise ConfigError naming the source."""
    values: dict[str, Any] = {}
    for flag in flags:
        raw = getattr(namespace, flag.dest, None)
        source = flag.name
        if raw is None and environ.get(flag.env_name, "") != "":
            raw, source = environ[flag.env_name], f"${flag.env_name}"
        if raw is None:
            raw, source = flag.default, f"{flag.name} default"
        if raw is None:
            values[flag.dest] = None
            continue
        if flag.repeatable:
            values[flag.dest] = _parse_each(flag, raw, source)
            continue
        if flag.choices and raw.lower() not in flag.choices:
            raise ConfigError(f"{source}: {raw!r} is not one of {', '.join(flag.choices)}")
        try:
            values[flag.dest] = flag.parse(raw.lower() if flag.choices else raw)
        except ValueError as exc:
            raise ConfigError(f"{source}: {raw!r} {exc}") from None
    return values


def _parse_each(flag: Flag, raw: str | list[str], source: str) -> tuple[Any, ...]:
    """A repeatable flag's values: each occurrence, or each comma-separated item of its variable."""
    items = raw if isinstance(raw, list) else [item for item in raw.split(",") if item.strip()]
    parsed = []
    for item in items:
        try:
            parsed.append(flag.parse(item))
        except ValueError as exc:
            raise ConfigError(f"{source}: {item!r} {exc}") from None
    if not parsed:
        raise ConfigError(f"{source}: no value given")
    return tuple(parsed)


def parse_flags(
    parser: argparse.ArgumentParser,
    argv: Sequence[str],
    environ: Mapping[str, str],
    flags: Sequence[Flag],
) -> tuple[argparse.Namespace, dict[str, Any]]:
    """Parse ``argv`` and resolve ``flags`` (flag > variable > default), or exit 2 with one line."""
    namespace = parser.parse_args(join_negative_values(argv, flags))
    try:
        return namespace, resolve_flags(namespace, environ, flags)
    except ConfigError as exc:
        fail(parser, str(exc))


def fail(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """Report invalid configuration as one line and exit 2, before anything starts."""
    parser.error(message)


def parse_args(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Parse flags and environment into the exporter's Config, or exit 2 with one line."""
    parser = build_parser()
    env = os.environ if environ is None else environ
    namespace, values = parse_flags(parser, sys.argv[1:] if argv is None else argv, env, FLAGS)
    try:
        return make_config(namespace, values, env)
    except ConfigError as exc:
        fail(parser, str(exc))
