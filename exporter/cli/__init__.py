"""The command line: the exporter and its subcommands."""

from exporter.cli.entry import main

__all__ = ["main"]
