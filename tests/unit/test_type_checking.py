"""The configured mypy run covers every Python file of the repository, so none escapes the strict check."""

from __future__ import annotations

import os
from pathlib import Path

import tomllib

from tests.support.paths import ROOT

# Directories that hold no project code: tool caches, environments, build and mutation outputs.
NOT_PROJECT = {"__pycache__", "build", "dist", "mutants", "node_modules"}


def mypy_files() -> list[str]:
    """The ``files`` of pyproject's [tool.mypy]: what plain ``mypy`` checks."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    files: list[str] = config.get("files", [])
    return files


def is_project_directory(name: str) -> bool:
    """False for hidden directories (.git, .venv, caches) and for build, egg-info and mutation outputs."""
    return not name.startswith(".") and name not in NOT_PROJECT and not name.endswith(".egg-info")


def project_python_files() -> list[Path]:
    """Every .py file of the repository, relative to its root, outside caches and environments."""
    found = []
    for directory, subdirectories, names in os.walk(ROOT):
        subdirectories[:] = [d for d in subdirectories if is_project_directory(d)]
        found += [Path(directory, name).relative_to(ROOT) for name in names if name.endswith(".py")]
    return sorted(found)


def test_mypy_checks_every_python_file() -> None:
    roots = [Path(entry) for entry in mypy_files()]
    unchecked = [p.as_posix() for p in project_python_files() if not any(p.is_relative_to(r) for r in roots)]
    assert roots and unchecked == [], "add them to files in pyproject's [tool.mypy]"


def test_every_configured_path_exists() -> None:
    assert [entry for entry in mypy_files() if not (ROOT / entry).exists()] == []
