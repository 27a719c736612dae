"""Read a small YAML configuration file, turning every failure into one readable line."""

from __future__ import annotations

from typing import Any

import yaml


def load_yaml_file(path: str, what: str) -> Any:
    """Parse ``path``; raise ValueError naming ``what`` and the file (and the line of a syntax error)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except OSError as exc:
        raise ValueError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{what} {path} is not valid YAML{at}") from None
