"""The hardened systemd unit for hosts outside Kubernetes, checked by systemd's own analyzer."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.binaries import require_binary
from tests.support.paths import ROOT

UNIT = ROOT / "deploy" / "systemd" / "soda-incidents-exporter.service"
INSTALLED = "/opt/soda-incidents-exporter/bin/soda-incidents-exporter"
MAX_EXPOSURE = 2.0


def _directives() -> list[tuple[str, str]]:
    """(key, value) of every directive, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", UNIT.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.append((key, value.strip()))
    return found


def _values(key: str) -> list[str]:
    """Every value given to ``key``."""
    return [value for k, value in _directives() if k == key]


def _script() -> str:
    """The exporter's console script in the test environment (a venv, like the documented install)."""
    script = shutil.which("soda-incidents-exporter", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the console script is not installed: pip install -e '.[test]'")
    return script


@pytest.fixture
def checkable_unit(tmp_path: Path) -> Path:
    """The unit as shipped, but starting this environment's exporter (verify checks ExecStart exists)."""
    text = UNIT.read_text(encoding="utf-8")
    assert text.count(INSTALLED) == 1, f"ExecStart must run {INSTALLED}"
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(INSTALLED, _script()), encoding="utf-8")
    return copy


def test_systemd_analyze_verify_accepts_the_unit(checkable_unit: Path) -> None:
    analyze = require_binary("systemd-analyze", hint="install Debian's systemd package")
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(checkable_unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    complaints = [line for line in result.stderr.splitlines() if checkable_unit.name in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


def test_security_exposure_is_at_most_two(checkable_unit: Path) -> None:
    analyze = require_binary("systemd-analyze", hint="install Debian's systemd package")
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(checkable_unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout + result.stderr)
    assert match, result.stdout[-3000:] + result.stderr
    exposure = float(match[1])
    assert exposure <= MAX_EXPOSURE, f"exposure {exposure}\n{result.stdout}"


def test_runs_as_a_dynamic_user_on_a_read_only_system() -> None:
    for key, value in {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert _values(key) == [value], f"{key}= must be {value!r}, got {_values(key)}"
    assert not _values("User"), "DynamicUser allocates the user; a fixed User= defeats it"


def test_api_key_files_come_from_systemd_credentials() -> None:
    credentials = dict(value.split(":", 1) for value in _values("LoadCredential"))
    assert all(path.startswith("/etc/soda-incidents-exporter/") for path in credentials.values())
    (exec_start,) = _values("ExecStart")
    passed = dict(re.findall(r"--(soda\.api-key-(?:id|secret)-file)=(\S+)", exec_start))
    assert passed == {
        "soda.api-key-id-file": "%d/soda-api-key-id",
        "soda.api-key-secret-file": "%d/soda-api-key-secret",
    }
    assert {path.removeprefix("%d/") for path in passed.values()} == set(credentials)
    assert not any("SODA_API_KEY" in value for value in _values("Environment")), "no key in the unit"


def test_every_flag_in_exec_start_exists() -> None:
    (exec_start,) = _values("ExecStart")
    flags = re.findall(r"(--[a-z][\w.-]*)=", exec_start)
    assert flags
    result = subprocess.run([_script(), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    for flag in flags:
        assert flag in result.stdout, f"{flag} is not a flag of the exporter"
