"""The release artefacts: wheel and sdist (built, twine-checked, installed with pipx) and the Helm chart."""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import exporter
from tests.binaries import require_test_extra_tool
from tests.support.helm import CHART, helm
from tests.support.paths import ROOT

pytestmark = pytest.mark.slow  # more than a few seconds each (real binaries, builds or many cycles)

NAME = "soda_incidents_exporter"
SCRIPT = "soda-incidents-exporter"
SEMVER = re.compile(r"\d+\.\d+\.\d+")


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a command, failing with its output when it fails; return stdout."""
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{' '.join(argv)}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist, and the wheel that `python -m build` builds from that sdist."""
    pytest.importorskip("build", reason="pip install -e '.[test]' brings `build`")
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=ROOT)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def unpacked(dists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, unpacked: a source tree as a downstream packager gets it."""
    target = tmp_path_factory.mktemp("sdist")
    with tarfile.open(dists["sdist"]) as archive:
        archive.extractall(target, filter="data")
    (tree,) = target.iterdir()
    return tree


def _wheel_metadata(wheel: Path) -> Any:
    """The wheel's METADATA as an email message."""
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(f"{NAME}-{exporter.__version__}.dist-info/METADATA").decode()
    return email.parser.Parser().parsestr(text)


def test_twine_check_passes_on_both(dists: dict[str, Path]) -> None:
    twine = require_test_extra_tool("twine")
    out = _run([twine, "check", "--strict", str(dists["sdist"]), str(dists["wheel"])], cwd=ROOT)
    assert out.count("PASSED") == 2, out


def test_the_version_has_one_source(dists: dict[str, Path]) -> None:
    assert SEMVER.fullmatch(exporter.__version__)
    assert _wheel_metadata(dists["wheel"])["Version"] == exporter.__version__
    assert dists["sdist"].name == f"{NAME}-{exporter.__version__}.tar.gz"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and 'version = { attr = "exporter.__version__" }' in pyproject
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["version"] == chart["appVersion"] == exporter.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    entry = rf"^## \[{re.escape(exporter.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$"
    assert re.search(entry, changelog, re.MULTILINE), "CHANGELOG.md needs a dated entry for this version"


def test_wheel_holds_the_package_and_its_metadata(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as archive:
        names = archive.namelist()
        entry_points = archive.read(f"{NAME}-{exporter.__version__}.dist-info/entry_points.txt").decode()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"exporter", f"{NAME}-{exporter.__version__}.dist-info"}, tops
    assert "exporter/py.typed" in names
    assert f"{SCRIPT} = exporter.cli:main" in entry_points
    meta = _wheel_metadata(dists["wheel"])
    urls = dict(value.split(", ", 1) for value in meta.get_all("Project-URL"))
    assert {"Homepage", "Repository", "Issues", "Changelog"} <= set(urls), urls
    classifiers = meta.get_all("Classifier")
    assert "Topic :: System :: Monitoring" in classifiers and "Typing :: Typed" in classifiers
    assert meta["License-Expression"] == "Apache-2.0"


def _git_files() -> set[str] | None:
    """The files git tracks here, or None outside a git checkout."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        return None
    result = subprocess.run(
        [git, "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    return {name for name in result.stdout.split("\0") if name} if result.returncode == 0 else None


def test_sdist_holds_every_tracked_file(unpacked: Path) -> None:
    tracked = _git_files()
    if tracked is None:
        pytest.skip("not a git checkout (running from an sdist?)")
    present = {p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()}
    missing = sorted(name for name in tracked if (ROOT / name).is_file() and name not in present)
    assert missing == [], f"MANIFEST.in leaves out: {missing}"


def test_the_suite_collects_from_the_sdist(unpacked: Path) -> None:
    # `python -m pytest` puts the unpacked tree first on sys.path, so its own `exporter` is imported.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    out = _run(argv, cwd=unpacked, env=env)
    collected = {line.split("::")[0] for line in out.splitlines() if "::" in line}
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py")}
    assert collected == expected, sorted(expected ^ collected)


@pytest.fixture(scope="module")
def pipx_install(unpacked: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`pipx install .` from the unpacked source tree into a throwaway PIPX_HOME; the bin dir."""
    pipx = require_test_extra_tool("pipx")
    home = tmp_path_factory.mktemp("pipx")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPX_", "SODA_", "VIRTUAL_ENV"))}
    env.update(
        {
            "PIPX_HOME": str(home / "home"),
            "PIPX_BIN_DIR": str(home / "bin"),
            "PIPX_MAN_DIR": str(home / "man"),
            "PIPX_DEFAULT_PYTHON": sys.executable,
        }
    )
    _run([pipx, "install", "."], cwd=unpacked, env=env, timeout=900)
    yield home / "bin"
    subprocess.run([pipx, "uninstall", SCRIPT], env=env, capture_output=True, timeout=120, check=False)


def test_pipx_install_works(pipx_install: Path) -> None:
    script = pipx_install / SCRIPT
    assert script.is_file(), sorted(p.name for p in pipx_install.iterdir())
    version = _run([str(script), "--version"], cwd=pipx_install)
    assert version.strip() == f"{SCRIPT} {exporter.__version__}"
    assert "--web.listen-address" in _run([str(script), "--help"], cwd=pipx_install)


def test_helm_package_makes_the_chart_archive(tmp_path: Path) -> None:
    archive = Path(helm().package(CHART, destination=tmp_path))
    assert archive.name == f"soda-incidents-exporter-{exporter.__version__}.tgz"
    with tarfile.open(archive) as packed:
        names = packed.getnames()
        meta = yaml.safe_load(packed.extractfile("soda-incidents-exporter/Chart.yaml").read())  # type: ignore[union-attr]
    assert "soda-incidents-exporter/values.schema.json" in names
    assert any(n.startswith("soda-incidents-exporter/templates/") for n in names)
    assert not any("/tests/" in n or n.endswith(".py") for n in names), "the chart ships generators"
    assert meta["version"] == exporter.__version__


def test_chart_carries_artifact_hub_annotations() -> None:
    annotations = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))["annotations"]
    assert all(isinstance(v, str) for v in annotations.values()), "annotation values must be strings"
    assert annotations["artifacthub.io/license"] == "Apache-2.0"
    assert annotations["artifacthub.io/prerelease"] in ("true", "false")
    images = yaml.safe_load(annotations["artifacthub.io/images"])
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))["image"]
    default = f"{values['registry']}/{values['repository']}:{exporter.__version__}"
    assert [i["image"] for i in images] == [default], "list the image the chart runs by default"
    changes = yaml.safe_load(annotations["artifacthub.io/changes"])
    kinds = {"added", "changed", "deprecated", "removed", "fixed", "security"}
    assert changes and all(c["kind"] in kinds and c["description"] for c in changes)
    links = yaml.safe_load(annotations["artifacthub.io/links"])
    assert all(link["name"] and link["url"].startswith("https://") for link in links)
