"""The chart's ``organizations:`` list: a rendered --config.file, one existing Secret per organisation,
a values schema that refuses bad entries, and an exporter process that accepts the rendered file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from exporter.simulator import SimulatorServer
from tests.support.helm import CHART, container, helm, load_values, only, pod_spec, render
from tests.support.http import free_port, series
from tests.support.monitoring_stack import Processes, exporter_command
from tests.support.waiting import wait_for

ORG_DIR = "/etc/soda-incidents-exporter/organizations"
CONFIG_FILE = "/etc/soda-incidents-exporter/config/organizations.yaml"


def rendered_file(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The --config.file document of the organisations ConfigMap."""
    maps = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-organizations")]
    assert len(maps) == 1
    document: dict[str, Any] = yaml.safe_load(maps[0]["data"]["organizations.yaml"])
    return document


def test_organizations_render_the_config_file_and_mount_each_secret() -> None:
    docs = render(load_values("organizations"))
    assert rendered_file(docs) == {
        "organizations": [
            {
                "name": "acme-eu",
                "region": "eu",
                "api_key_id_file": f"{ORG_DIR}/acme-eu/api-key-id",
                "api_key_secret_file": f"{ORG_DIR}/acme-eu/api-key-secret",
            },
            {
                "name": "acme_us.2",
                "region": "us",
                "poll_interval": "10m",
                "api_key_id_file": f"{ORG_DIR}/acme_us.2/api-key-id",
                "api_key_secret_file": f"{ORG_DIR}/acme_us.2/api-key-secret",
            },
        ]
    }
    args = container(docs)["args"]
    assert f"--config.file={CONFIG_FILE}" in args
    assert not any(a.startswith("--soda.") for a in args)
    assert "Secret" not in {d["kind"] for d in docs}  # the keys stay in the user's own Secrets
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    assert "credentials" not in volumes
    assert volumes["organization-0"]["secret"]["secretName"] == "soda-acme-eu"
    items = volumes["organization-1"]["secret"]["items"]
    assert items == [{"key": "id", "path": "api-key-id"}, {"key": "secret", "path": "api-key-secret"}]
    mounts = {m["name"]: m["mountPath"] for m in container(docs)["volumeMounts"]}
    assert mounts["organization-1"] == f"{ORG_DIR}/acme_us.2"
    assert mounts["organizations"] == os.path.dirname(CONFIG_FILE)
    assert volumes["organizations"]["configMap"]["name"] == "soda-soda-incidents-exporter-organizations"


def test_changing_the_organizations_rolls_the_pods() -> None:
    values = load_values("organizations")
    before = only(render(values), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    values["organizations"][0]["pollInterval"] = "1m"
    after = only(render(values), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert before["checksum/organizations"] != after["checksum/organizations"]
    plain = only(render(), "Deployment")["spec"]["template"]["metadata"].get("annotations") or {}
    assert "checksum/organizations" not in plain


OK = {"name": "acme", "existingSecret": "soda-acme"}
BAD_ORGS: list[tuple[str, Any]] = [
    ("not a list", {"name": "acme"}),
    ("no name", [{"existingSecret": "soda-acme"}]),
    ("no secret", [{"name": "acme"}]),
    ("bad name", [{**OK, "name": "acme corp"}]),
    ("unknown key", [{**OK, "api_key_id_env": "X"}]),
    ("bad region", [{**OK, "region": "ap"}]),
    ("bad url", [{**OK, "reportingUrl": "reporting.example.com"}]),
    ("zero poll interval", [{**OK, "pollInterval": "0s"}]),
    ("bad secret name", [{**OK, "existingSecret": "Soda_Acme"}]),
    ("inline key", [{**OK, "apiKeySecret": "s3cr3t"}]),
]


@pytest.mark.parametrize(("case", "orgs"), BAD_ORGS, ids=[c for c, _ in BAD_ORGS])
def test_values_schema_refuses_bad_entries(case: str, orgs: Any) -> None:
    engine = helm()
    with engine.Chart.load(CHART) as chart, pytest.raises(engine.HelmValuesError):
        chart.validate_schema({"organizations": orgs})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"organizations": [OK, {**OK, "existingSecret": "other"}]}, "used twice"),
        ({"organizations": [OK], "credentials": {"existingSecret": "soda"}}, "exclude each other"),
        ({"organizations": [OK], "demo": True}, "demo"),
        ({"organizations": [OK], "soda": {"organization": "x"}}, "soda.organization"),
    ],
)
def test_inconsistent_organizations_fail_to_render(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm().HelmRenderError, match=message):
        render(values)


def test_the_exporter_accepts_the_rendered_config_file(
    start_simulator: Callable[..., SimulatorServer], tmp_path: Path
) -> None:
    sims = {
        name: start_simulator(api_key_id=f"{name}-id", api_key_secret=f"{name}-secret")
        for name in ("acme", "globex")
    }
    orgs = [
        {
            "name": name,
            "existingSecret": f"soda-{name}",
            "reportingUrl": sim.reporting_url,
            "cloudUrl": sim.cloud_url,
        }
        for name, sim in sims.items()
    ]
    text = yaml.safe_dump(rendered_file(render({"organizations": orgs})))
    # The Secrets as Kubernetes would mount them, under a temporary directory instead of /etc.
    for name in sims:
        (tmp_path / "orgs" / name).mkdir(parents=True)
        (tmp_path / "orgs" / name / "api-key-id").write_text(f"{name}-id\n")
        (tmp_path / "orgs" / name / "api-key-secret").write_text(f"{name}-secret\n")
    assert text.count(ORG_DIR) == 4
    config = tmp_path / "organizations.yaml"
    config.write_text(text.replace(ORG_DIR, str(tmp_path / "orgs")))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODA_")}
    procs = Processes(tmp_path)
    try:
        argv = [*exporter_command(), f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"]
        procs.start("exporter", argv, env)

        def up() -> dict[Any, float]:
            found: dict[Any, float] = series(
                requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text, "soda_up"
            )
            return found if len(found) == 2 and set(found.values()) == {1.0} else {}

        found = wait_for("both organisations polled", up, 30, procs.logs)
    finally:
        procs.stop()
    assert found == {(("organization", "acme"),): 1.0, (("organization", "globex"),): 1.0}
