"""The GitHub workflows and the dependabot config, checked here because they can only run on GitHub."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import exporter
from tests.binaries import require_test_extra_tool
from tests.support.paths import ROOT

GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
DEPENDABOT = GITHUB / "dependabot.yml"

# Offline there is no asking GitHub whether an action or a tag exists, so each `uses:` must name
# an action listed here, pinned to the full commit of a release: the release tag, and the commit
# that tag pointed to, were read from each action's own repository (`git rev-parse vX.Y.Z^{commit}`).
# A typo, an unknown action or a moved tag fails the test; bumping means updating this list after
# checking the new tag's commit (dependabot proposes the bumps and rewrites both pin and comment).
KNOWN_ACTIONS: dict[str, dict[str, str]] = {
    "actions/checkout": {"v7.0.1": "3d3c42e5aac5ba805825da76410c181273ba90b1"},
    "actions/setup-python": {"v7.0.0": "5fda3b95a4ea91299a34e894583c3862153e4b97"},
    "actions/upload-artifact": {"v7.0.0": "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f"},
    "actions/download-artifact": {"v8.0.1": "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c"},
    "docker/setup-qemu-action": {"v4.2.0": "96fe6ef7f33517b61c61be40b68a1882f3264fb8"},
    "docker/setup-buildx-action": {"v4.3.0": "37fe631027851001ddb9b187196cc803df7f5f0e"},
    "docker/login-action": {"v4.1.0": "4907a6ddec9925e35a0a9e82d7399ccc52663121"},
    "docker/metadata-action": {"v6.2.0": "dc802804100637a589fabce1cb79ff13a1411302"},
    "docker/build-push-action": {"v7.3.0": "53b7df96c91f9c12dcc8a07bcb9ccacbed38856a"},
    "pypa/gh-action-pypi-publish": {"v1.8.14": "81e9d935c883d0b210363ab89cf05f3894778450"},
    "Azure/setup-helm": {"v5.0.1": "9bc31f4ebc9c6b171d7bfbaa5d006ae7abdb4310"},
}
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)\s*(?:#\s*(?P<comment>\S+))?\s*$")


def _load(path: Path) -> dict[str, Any]:
    """A YAML file as a dict."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def _tool(name: str) -> str:
    """A checker from the test extra; skip (or fail under CI) when it is not installed."""
    return require_test_extra_tool(name)


def _check(argv: list[str]) -> None:
    """Run a checker in the repository and fail with its output when it complains."""
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{' '.join(argv)}\n{result.stdout}\n{result.stderr}"


def _uses_lines() -> list[tuple[Path, int, str, str | None]]:
    """Every `uses:` in the workflows: (file, line, reference, trailing comment)."""
    found = []
    for path in WORKFLOWS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = USES_LINE.match(line)
            if match:
                found.append((path, number, match["ref"], match["comment"]))
    return found


def test_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "release.yml"}
    assert DEPENDABOT.is_file()


def test_workflows_match_the_github_schema() -> None:
    checker = _tool("check-jsonschema")
    _check([checker, "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)])


def test_dependabot_matches_its_schema() -> None:
    checker = _tool("check-jsonschema")
    _check([checker, "--builtin-schema", "vendor.dependabot", str(DEPENDABOT)])


def test_actionlint_is_clean() -> None:
    _check([_tool("actionlint"), "-no-color", "-oneline", *map(str, WORKFLOWS)])


def test_every_action_is_known_and_pinned_to_a_release_commit() -> None:
    uses = _uses_lines()
    assert uses, "no `uses:` found: the pattern no longer matches the workflows"
    for path, line, ref, comment in uses:
        where = f"{path.name}:{line}: {ref}"
        action, _, pin = ref.partition("@")
        assert action in KNOWN_ACTIONS, f"{where}: unknown action (add it to KNOWN_ACTIONS once checked)"
        assert re.fullmatch(r"[0-9a-f]{40}", pin), f"{where}: pin a full commit, not a tag or branch"
        assert comment in KNOWN_ACTIONS[action], f"{where}: the comment must name a known release"
        released = KNOWN_ACTIONS[action][comment]
        assert released == pin, f"{where}: {comment} is commit {released}"


def _jobs(name: str) -> dict[str, dict[str, Any]]:
    """The jobs of one workflow."""
    jobs: dict[str, dict[str, Any]] = _load(GITHUB / "workflows" / name)["jobs"]
    return jobs


def _steps_text(job: dict[str, Any]) -> str:
    """The job's steps as YAML text, for looking up what they run."""
    return yaml.safe_dump(job.get("steps", []))


def test_ci_runs_the_ci_script_read_only() -> None:
    workflow = _load(GITHUB / "workflows" / "ci.yml")
    assert workflow["permissions"] == {"contents": "read"}
    assert any("bash .ci/run" in _steps_text(job) for job in workflow["jobs"].values())


def test_release_runs_on_version_tags_with_least_privilege() -> None:
    workflow = _load(GITHUB / "workflows" / "release.yml")
    # PyYAML (YAML 1.1) reads the bare key `on` as the boolean True.
    trigger = {str(k): v for k, v in workflow.items()}.get("True")
    assert trigger == {"push": {"tags": ["v*.*.*"]}}
    assert workflow["permissions"] == {}, "permissions are granted per job"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name} must say what it needs"


@pytest.mark.parametrize(
    ("needle", "what"),
    [
        ("platforms: linux/amd64,linux/arm64", "the image for amd64 and arm64"),
        ("docker/setup-qemu-action", "QEMU for the arm64 build"),
        ("push: true", "the image pushed"),
        ("pypa/gh-action-pypi-publish", "PyPI publishing"),
        ("twine check --strict dist/*", "twine check of the dists"),
        ('helm push "$package" "oci://$REGISTRY/', "the chart pushed to an OCI registry"),
        ("grafana/dashboards/*.json", "the dashboards attached to the release"),
    ],
)
def test_release_does(needle: str, what: str) -> None:
    assert needle in (GITHUB / "workflows" / "release.yml").read_text(encoding="utf-8"), what


def test_pypi_uses_trusted_publishing_only() -> None:
    pypi = _jobs("release.yml")["pypi"]
    assert pypi["permissions"] == {"id-token": "write"}
    assert pypi["environment"]["name"] == "pypi"
    text = _steps_text(pypi)
    assert "password" not in text and "secrets." not in text, "trusted publishing needs no token"


def test_dependabot_watches_the_actions_and_python() -> None:
    ecosystems = {update["package-ecosystem"] for update in _load(DEPENDABOT)["updates"]}
    assert ecosystems == {"github-actions", "pip"}


def _version_check_script() -> str:
    """The release's version-check step, without its PyYAML install (the test extra has it)."""
    steps = _jobs("release.yml")["check"]["steps"]
    (step,) = [s for s in steps if s.get("id") == "version"]
    script: str = step["run"]
    return script.replace("python -m pip install --quiet PyYAML\n", "")


@pytest.mark.parametrize("right", [True, False])
def test_release_refuses_a_tag_that_disagrees_with_the_version(right: bool, tmp_path: Path) -> None:
    tag = f"v{exporter.__version__}" if right else "v999.0.0"
    output = tmp_path / "github_output"
    env = {
        "TAG": tag,
        "GITHUB_OUTPUT": str(output),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    # GitHub runs `run:` steps with bash -e -o pipefail.
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _version_check_script()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if right:
        assert result.returncode == 0, result.stderr
        assert output.read_text(encoding="utf-8") == f"version={exporter.__version__}\n"
    else:
        assert result.returncode != 0 and "disagrees" in result.stderr, result.stderr
