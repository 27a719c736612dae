"""The Dockerfile's contract, and its install step reproduced in a fresh virtualenv."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from tests.dockerfile_support import (
    DOCKERFILE,
    DOCKERIGNORE,
    ROOT,
    Stage,
    default_listen_port,
    dockerignore_rules,
    env_names,
    is_ignored,
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


def test_base_python_satisfies_requires_python() -> None:
    match = PINNED_PYTHON.match(_stages()[-1].base)
    assert match
    minimum = re.search(r">=\s*(\d+)\.(\d+)", _distribution().metadata["Requires-Python"] or "")
    assert minimum
    assert (int(match[1]), int(match[2])) >= (int(minimum[1]), int(minimum[2]))


def test_builder_builds_wheels_and_final_installs_only_wheels() -> None:
    *builders, final = _stages()
    runs = " ".join(r.args for s in builders for r in s.all("RUN"))
    assert re.search(r"pip wheel\b.*--wheel-dir /wheels \.", runs), (
        "the builder must build wheels into /wheels"
    )
    final_runs = [r for r in final.all("RUN")]
    assert any(
        "--no-index" in r.args and "--find-links /wheels" in r.args and SCRIPT in r.args for r in final_runs
    ), "the final stage must install the package from the builder's wheels, offline"
    sources_from_builder = [r.flags().get("mount", "") for r in final_runs] + [
        c.flags().get("from", "") for c in final.all("COPY")
    ]
    assert any("from=builder" in s or s == "builder" for s in sources_from_builder)
    for copy in final.all("COPY") + final.all("ADD"):
        assert "from" in copy.flags(), f"final stage copies from the build context: line {copy.line}"


def test_final_stage_runs_as_non_root_numeric_user() -> None:
    user = _stages()[-1].last("USER")
    assert user is not None, "the final stage must set USER"
    assert re.fullmatch(r"\d+(:\d+)?", user.args), f"USER must be numeric uid[:gid], got {user.args!r}"
    assert all(int(part) != 0 for part in user.args.split(":")), "USER must not be root"


def test_expose_matches_the_exporter_default_port() -> None:
    exposed = [port for e in _stages()[-1].all("EXPOSE") for port in e.operands()]
    assert exposed == [str(default_listen_port())], exposed


def test_entrypoint_is_the_console_script() -> None:
    final = _stages()[-1]
    entrypoint = final.last("ENTRYPOINT")
    assert entrypoint is not None
    assert entrypoint.exec_form() == [SCRIPT], "ENTRYPOINT must be the exec-form console script"
    assert final.last("CMD") is None, "arguments belong to the runtime, not baked into CMD"
    scripts = [ep.name for ep in _distribution().entry_points if ep.group == "console_scripts"]
    assert SCRIPT in scripts


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
        "tests/test_dockerfile.py",
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


def _free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """The environment without any Soda settings or credentials from the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SODA_")}


def _copy_build_context(dest: Path) -> None:
    """Copy what the builder stage COPYs, honouring .dockerignore, like `docker build` would."""
    rules = dockerignore_rules(DOCKERIGNORE.read_text(encoding="utf-8"))
    for copy in _stages()[0].all("COPY"):
        *sources, target = copy.operands()
        for source in sources:
            src = ROOT / source
            assert src.exists(), f"COPY source {source} is missing: docker build would fail"
            if src.is_file():
                into_dir = target.endswith("/") or len(sources) > 1
                out = dest / target / src.name if into_dir else dest / target
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out)
                continue
            for file in sorted(src.rglob("*")):
                if file.is_file() and not is_ignored(file.relative_to(ROOT).as_posix(), rules):
                    out = dest / target / file.relative_to(src)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, out)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build wheels from the Docker build context and install them offline into a fresh venv."""
    base = tmp_path_factory.mktemp("docker-install")
    context, wheels, venv = base / "src", base / "wheels", base / "venv"
    _copy_build_context(context)
    env = _clean_env()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels), "."],
        cwd=context,
        env=env,
        check=True,
        timeout=600,
    )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], env=env, check=True, timeout=300)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(wheels),
            SCRIPT,
        ],
        env=env,
        check=True,
        timeout=600,
    )
    return venv / "bin" / SCRIPT


def test_installed_wheel_prints_help(installed: Path) -> None:
    result = subprocess.run(
        [str(installed), "--help"], env=_clean_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "--web.listen-address" in result.stdout


def _get(url: str) -> tuple[int, str]:
    """Status and body of a GET, without raising on HTTP errors."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")
    except OSError:
        return 0, ""


@pytest.fixture
def demo(installed: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The installed exporter running in demo mode on a free loopback port."""
    port = _free_port()
    env = {**_clean_env(), "TMPDIR": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    log = (tmp_path / "exporter.log").open("wb")
    proc = subprocess.Popen(
        [str(installed), "--demo", "--web.listen-address", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_installed_wheel_runs_a_demo_poll_and_stops_on_sigterm(
    demo: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    proc, base = demo
    deadline = time.monotonic() + 60
    status = 0
    while time.monotonic() < deadline and proc.poll() is None:
        status, _ = _get(f"{base}/readyz")
        if status == 200:
            break
        time.sleep(0.2)
    log = (tmp_path / "exporter.log").read_text(encoding="utf-8", errors="replace")
    assert status == 200, f"/readyz never became 200 (last {status}); log:\n{log[-3000:]}"
    assert _get(f"{base}/healthz")[0] == 200
    metrics_status, metrics = _get(f"{base}/metrics")
    assert metrics_status == 200
    assert re.search(r"^soda_incidents_open[{ ]", metrics, re.MULTILINE), metrics[:2000]
    proc.send_signal(signal.SIGTERM)
    returncode = proc.wait(timeout=20)
    # As PID 1 in a container the kernel ignores unhandled SIGTERM, so the exporter must handle it.
    assert returncode in (0, 128 + signal.SIGTERM), f"SIGTERM was not handled (exit {returncode})"
