"""What the Dockerfile promises beyond what building and running it proves (tests/test_image.py)."""

from __future__ import annotations

import re
import subprocess
from importlib import metadata

from tests.binaries import require_test_extra_tool
from tests.support.dockerfile import (
    DOCKERFILE,
    DOCKERIGNORE,
    Stage,
    default_listen_port,
    dockerignore_rules,
    env_names,
    is_ignored,
    parse_instructions,
    parse_stages,
)

SCRIPT = "soda-incidents-exporter"
PINNED_PYTHON = re.compile(r"^python:(\d+)\.(\d+)\.(\d+)-slim-(bookworm|trixie)(@sha256:[0-9a-f]{64})?$")
SECRET_WORDS = re.compile(r"KEY|SECRET|TOKEN|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)


def _stages() -> list[Stage]:
    """The Dockerfile's build stages."""
    preamble, stages = parse_stages(DOCKERFILE.read_text(encoding="utf-8"))
    assert all(i.keyword in {"ARG"} for i in preamble), "only ARG may precede the first FROM"
    return stages


def _distribution() -> metadata.Distribution:
    """The installed distribution's metadata (the project is installed, editable or not)."""
    return metadata.distribution(SCRIPT)


def test_multi_stage_with_exactly_pinned_python_base() -> None:
    stages = _stages()
    assert len(stages) >= 2, "expected a builder stage and a final stage"
    aliases = {s.alias for s in stages if s.alias}
    for stage in stages:
        if stage.base in aliases:
            continue
        match = PINNED_PYTHON.match(stage.base)
        assert match, f"base image {stage.base!r} must be an exact python:X.Y.Z-slim-<debian> tag"
    final = stages[-1]
    assert PINNED_PYTHON.match(final.base), "the final stage must start from the pinned base, not a stage"
    builders = {s.alias for s in stages[:-1]}
    assert None not in builders, "every non-final stage needs an alias"


def test_every_stage_starts_from_the_substitutable_base() -> None:
    instructions = parse_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    bases = [i.args.split()[0] for i in instructions if i.keyword == "FROM"]
    assert bases and set(bases) == {"${BASE_IMAGE}"}, (
        f"both stages must use ARG BASE_IMAGE (the venv links to the base's python3): {bases}"
    )


def test_hadolint_is_clean() -> None:
    hadolint = require_test_extra_tool("hadolint")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_python_satisfies_requires_python() -> None:
    match = PINNED_PYTHON.match(_stages()[-1].base)
    assert match
    minimum = re.search(r">=\s*(\d+)\.(\d+)", _distribution().metadata["Requires-Python"] or "")
    assert minimum
    assert (int(match[1]), int(match[2])) >= (int(minimum[1]), int(minimum[2]))


def test_expose_matches_the_exporter_default_port() -> None:
    exposed = [port for e in _stages()[-1].all("EXPOSE") for port in e.operands()]
    assert exposed == [str(default_listen_port())], exposed


def test_read_only_friendly_and_no_credentials_in_build() -> None:
    final = _stages()[-1]
    env = " ".join(e.args for e in final.all("ENV"))
    assert re.search(r"\bPYTHONDONTWRITEBYTECODE=1\b", env), "the runtime must not write .pyc files"
    for stage in _stages():
        for instruction in stage.all("ENV") + stage.all("ARG"):
            for name in env_names(instruction):
                assert not SECRET_WORDS.search(name), (
                    f"line {instruction.line}: {name} looks like a credential"
                )
    text = DOCKERFILE.read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "SODA_API_KEY" not in code
    assert "latest" not in code


def test_dockerignore_keeps_the_context_minimal() -> None:
    rules = dockerignore_rules(DOCKERIGNORE.read_text(encoding="utf-8"))
    for path in (
        ".git/config",
        "tests/e2e/test_dockerfile.py",
        "deploy/helm/x/Chart.yaml",
        "docs/kubernetes.md",
        ".venv/bin/python",
        "exporter/__pycache__/cli.cpython-312.pyc",
        "dist/x.whl",
        "soda_incidents_exporter.egg-info/PKG-INFO",
        "grafana/dashboards/a.json",
        ".ci/run",
    ):
        assert is_ignored(path, rules), f"{path} must not be sent to the Docker build"
    for path in (
        "pyproject.toml",
        "README.md",
        "exporter/__init__.py",
        "exporter/soda/http.py",
        "exporter/py.typed",
    ):
        assert not is_ignored(path, rules), f"{path} is needed by the build"
    builder = _stages()[0]
    for copy in builder.all("COPY"):
        for source in copy.operands()[:-1]:
            assert not is_ignored(source, rules), f"COPY source {source} is excluded by .dockerignore"
