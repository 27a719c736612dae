"""Build the project's image with buildah on a local stand-in base, and run it with podman."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.binaries import require_binary
from tests.support.paths import ROOT

DOCKERFILE = ROOT / "Dockerfile"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Image registries are out of reach, so the base is a Debian bootstrap with the parts of the
# official Python image the Dockerfile relies on: python3 with venv and pip, and CA certificates.
STANDIN_SUITE = "bookworm"
STANDIN_PACKAGES = ("python3", "python3-venv", "python3-pip", "python-is-python3", "ca-certificates")
STANDIN_REPO = "localhost/soda-exporter-base-standin"
# The tarball survives test runs (a bootstrap takes over a minute). It is keyed by the recipe and
# by the base the Dockerfile names (the official image the stand-in imitates), so changing either
# makes a new one, while editing the rest of the Dockerfile reuses it.
CACHE_DIR = Path(tempfile.gettempdir()) / "soda-exporter-image-cache"
CONTAINER_PORT = 9877
# This machine class has hybrid cgroups (crun refuses them) and lacks CAP_SYS_RESOURCE, so
# podman's default ulimits (above the hard limit) fail: pin runc, cgroupfs and modest limits.
PODMAN_GLOBAL = ("--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file")
RUN_LIMITS = ("--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", "--log-driver", "k8s-file")
TOOLS = ("buildah", "podman", "mmdebstrap", "runc")


def require_tools() -> dict[str, str]:
    """Paths of the image tools; skip (or fail under CI) when one is missing."""
    hint = "install Debian's buildah, podman, mmdebstrap and runc; .ci/run lists every package"
    return {name: require_binary(name, hint=hint) for name in TOOLS}


def default_base() -> str:
    """The Dockerfile's ``ARG BASE_IMAGE`` default: the base a plain ``docker build`` uses."""
    match = re.search(r"^ARG BASE_IMAGE=(\S+)\s*$", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, "the Dockerfile must declare ARG BASE_IMAGE=<image> before its first FROM"
    return match[1]


def standin_key() -> str:
    """A short digest of everything that decides the stand-in base's content."""
    recipe = json.dumps([STANDIN_SUITE, STANDIN_PACKAGES, default_base()])
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def _prune_cache(keep: Path) -> None:
    """Delete tarballs of older recipes: each is a quarter of a gigabyte."""
    for old in CACHE_DIR.glob("base-*.tar"):
        if old != keep:
            old.unlink(missing_ok=True)


def run(argv: Sequence[str], timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a tool, raising with its output when it fails and ``check`` is set."""
    result = subprocess.run(
        list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``podman`` with the runtime settings this machine class needs."""
    return run(["podman", *PODMAN_GLOBAL, *args], timeout=timeout, check=check)


def standin_base() -> str:
    """The stand-in base image's name, bootstrapping and importing it when not there yet."""
    key = standin_key()
    name = f"{STANDIN_REPO}:{key}"
    if podman("image", "exists", name, check=False).returncode == 0:
        return name
    tarball = CACHE_DIR / f"base-{key}.tar"
    if not tarball.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        partial = tarball.with_name(f"{tarball.name}.{os.getpid()}.partial")
        run(
            [
                "mmdebstrap",
                "--quiet",
                "--variant=minbase",
                "--format=tar",
                f"--include={','.join(STANDIN_PACKAGES)}",
                STANDIN_SUITE,
                str(partial),
            ],
            timeout=900,
        )
        partial.replace(tarball)  # atomic: a concurrent run sees a whole tarball or none
        _prune_cache(keep=tarball)
    podman("import", str(tarball), name, timeout=300)
    listed = podman("images", "--format", "{{.Repository}}:{{.Tag}}", STANDIN_REPO, check=False).stdout
    for stale in set(listed.split()) - {name}:
        remove_image(stale)
    return name


def build(base: str, tag: str) -> None:
    """``buildah bud`` the project's Dockerfile on ``base`` as ``tag``."""
    run(
        [
            "buildah",
            "bud",
            "--pull=never",
            "--network=host",
            "--isolation=chroot",
            "--volume",
            f"{CA_BUNDLE}:{CA_BUNDLE}:ro",
            "--build-arg",
            f"BASE_IMAGE={base}",
            "--tag",
            tag,
            "--file",
            str(DOCKERFILE),
            str(ROOT),
        ],
        timeout=900,
    )


def inspect(image: str) -> dict[str, Any]:
    """``podman image inspect`` of one image."""
    data: list[dict[str, Any]] = json.loads(podman("image", "inspect", image).stdout)
    return data[0]


def history(image: str) -> list[dict[str, Any]]:
    """``podman history`` of an image, newest entry first."""
    data: list[dict[str, Any]] = json.loads(podman("history", "--format", "json", image).stdout)
    return data


def added_bytes(image: str, base: str) -> int:
    """Bytes of the layers ``image`` adds on top of ``base`` (its history past the base's)."""
    base_layers = inspect(base)["RootFS"]["Layers"]
    layers = inspect(image)["RootFS"]["Layers"]
    assert layers[: len(base_layers)] == base_layers, "the image is not built on top of its base"
    entries = history(image)
    own = entries[: len(entries) - len(history(base))]
    return sum(int(entry.get("size", 0)) for entry in own)


def run_image(image: str, *args: str, name: str, port: int) -> None:
    """Start ``image`` detached the way the README runs it: read-only root, /tmp as tmpfs."""
    podman(
        "run",
        "--detach",
        "--name",
        name,
        *RUN_LIMITS,
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--publish",
        f"127.0.0.1:{port}:{CONTAINER_PORT}",
        image,
        *args,
    )


def run_once(
    image: str, entrypoint: str, *args: str, options: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``entrypoint`` in a throwaway read-only container of ``image``; never raises on its exit."""
    return podman(
        "run",
        "--rm",
        *RUN_LIMITS,
        "--read-only",
        *options,
        "--entrypoint",
        entrypoint,
        image,
        *args,
        check=False,
    )


def remove(*names: str) -> None:
    """Remove containers if they exist; never fails."""
    for name in names:
        podman("rm", "--force", "--time", "0", name, check=False)


def remove_image(tag: str) -> None:
    """Remove an image tag if it exists; never fails."""
    podman("rmi", "--force", tag, check=False)
