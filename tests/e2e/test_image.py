"""The image built from the Dockerfile with buildah and run with podman, scraped by a real Prometheus."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pip
import pytest
import yaml

from tests.binaries import require_binary
from tests.support.http import free_port
from tests.support.image import (
    CONTAINER_PORT,
    added_bytes,
    build,
    inspect,
    podman,
    remove,
    remove_image,
    require_tools,
    run_image,
    run_once,
    standin_base,
)
from tests.support.monitoring_stack import Processes, PrometheusAPI, http_ok
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow  # more than a few seconds each (real binaries, builds or many cycles)

BUDGET_BYTES = 40 * 1000 * 1000
# Run inside the image: every installer or compiler left anywhere on its filesystem.
FIND_TOOLING = r"""
import os
found = []
packages = {"pip", "setuptools", "pkg_resources", "wheel", "ensurepip"}
commands = {"gcc", "cc", "c++", "g++", "clang", "tcc", "pip", "pip3"}
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys", "/dev")]
    for d in dirs:
        if d in packages and os.path.exists(os.path.join(top, d, "__init__.py")):
            found.append(os.path.join(top, d))
    for f in files:
        path = os.path.join(top, f)
        name = f.split("-")[-1] if f.startswith(("x86_64", "aarch64")) else f
        runnable = os.path.isfile(path) and os.access(path, os.X_OK)
        if f.endswith(".whl") or runnable and (name in commands or name.startswith(("pip3.", "gcc-"))):
            found.append(path)
print("\n".join(found))
"""


@pytest.fixture(scope="module")
def image() -> Iterator[tuple[str, str]]:
    """(image, base): the project's image built on the local stand-in base."""
    require_tools()
    base = standin_base()
    tag = f"localhost/soda-incidents-exporter-test:{uuid.uuid4().hex[:12]}"
    try:
        build(base, tag)
        yield tag, base
    finally:
        remove_image(tag)


class Container:
    """A running container of the image, published on a loopback port."""

    def __init__(self, image: str) -> None:
        self.name = f"soda-exporter-test-{uuid.uuid4().hex[:12]}"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        run_image(image, "--demo", name=self.name, port=self.port)

    def logs(self) -> str:
        """The container's output so far."""
        result = podman("logs", self.name, check=False)
        return (result.stdout + result.stderr)[-4000:]

    def wait_ready(self) -> None:
        """Wait until the exporter inside answers /readyz (its first demo poll has succeeded)."""
        wait_for("the container's /readyz", lambda: http_ok(f"{self.base}/readyz"), 90, self.logs)

    def exec(self, *argv: str) -> tuple[int, str]:
        """Run a command inside as the image's user: (exit code, stdout and stderr)."""
        result = podman("exec", self.name, *argv, check=False)
        return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def container(image: tuple[str, str]) -> Iterator[Container]:
    """The image serving --demo, ready."""
    running = Container(image[0])
    try:
        running.wait_ready()
        yield running
    finally:
        remove(running.name)


def test_runs_as_non_root_on_a_read_only_root(container: Container) -> None:
    config = podman("inspect", container.name).stdout
    assert '"ReadonlyRootfs": true' in config
    code, uid = container.exec("python3", "-c", "import os; print(os.getuid(), os.getgid())")
    assert code == 0, uid
    assert all(int(n) != 0 for n in uid.split()), f"runs as root: {uid}"
    # The mount flag itself: podman also puts tmpfs on /var/tmp and /run under --read-only.
    code, out = container.exec("python3", "-c", "import os; print(os.statvfs('/').f_flag & os.ST_RDONLY)")
    assert (code, out.strip()) == (0, "1"), f"the root file system is writable: {out}"
    code, out = container.exec("python3", "-c", "open('/tmp/probe', 'w').write('ok')")
    assert code == 0, f"/tmp (tmpfs) must stay writable: {out}"


def test_prometheus_scrapes_the_container(container: Container, tmp_path: Path) -> None:
    prometheus_bin = require_binary("prometheus")
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {"job_name": "container", "static_configs": [{"targets": [f"127.0.0.1:{container.port}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    procs = Processes(tmp_path)
    try:
        procs.start(
            "prometheus",
            [
                prometheus_bin,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
        )
        api = PrometheusAPI(f"http://127.0.0.1:{port}")
        wait_for("Prometheus", lambda: http_ok(f"{api.base}/-/ready"), 60, procs.logs)
        up = wait_for("up == 1", lambda: api.series('up{job="container"} == 1'), 60, procs.logs)
        assert len(up) == 1
        opened = wait_for(
            "soda_incidents_open", lambda: api.series('soda_incidents_open{job="container"}'), 60, procs.logs
        )
        assert opened and all(s["metric"]["instance"] == f"127.0.0.1:{container.port}" for s in opened)
    finally:
        procs.stop()


def test_stops_within_five_seconds_of_sigterm(image: tuple[str, str]) -> None:
    running = Container(image[0])
    try:
        running.wait_ready()
        # podman stop sends SIGTERM, then SIGKILL after --time: exit 137 would mean it ignored SIGTERM.
        podman("stop", "--time", "5", running.name, timeout=60)
        state = podman("inspect", "--format", "{{.State.ExitCode}}", running.name).stdout.strip()
        assert state in ("0", "143"), f"exit {state} after SIGTERM\n{running.logs()}"
    finally:
        remove(running.name)


def test_layers_on_top_of_the_base_stay_under_budget(image: tuple[str, str]) -> None:
    tag, base = image
    added = added_bytes(tag, base)
    assert 0 < added < BUDGET_BYTES, f"the Dockerfile adds {added / 1e6:.1f} MB over its base"


def test_no_installer_or_compiler_in_the_image(image: tuple[str, str]) -> None:
    result = run_once(image[0], "python3", "-c", FIND_TOOLING)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"left in the final image:\n{result.stdout}"


def test_image_config_as_kubernetes_and_docker_read_it(image: tuple[str, str]) -> None:
    config = inspect(image[0])["Config"]
    # runAsNonRoot can only verify a numeric user.
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", config["User"]), config["User"]
    assert config["Entrypoint"] == ["soda-incidents-exporter"] and not config.get("Cmd"), config
    assert list(config["ExposedPorts"]) == [f"{CONTAINER_PORT}/tcp"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert not [name for name in env if name.startswith("SODA_")], "no settings or keys baked in"
    assert config["Labels"]["org.opencontainers.image.licenses"] == "Apache-2.0"


def test_pip_check_passes_inside(image: tuple[str, str], tmp_path: Path) -> None:
    # The image has no pip, so a copy of the test environment's own (pure Python) pip is mounted
    # read-only and run by the image's interpreter: it checks the installed set, not a rebuild.
    shutil.copytree(Path(pip.__file__).parent, tmp_path / "pip")
    tmp_path.chmod(0o755)  # readable by the image's unprivileged user
    options = ("--volume", f"{tmp_path}:/pipcheck:ro", "--env", "PYTHONPATH=/pipcheck")
    result = run_once(image[0], "python3", "-m", "pip", "check", options=options)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No broken requirements found" in result.stdout
