"""The chart's webConfig: a Secret mounted read-only, --web.config.file, HTTPS ServiceMonitor, probes."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
import yaml

from exporter.config import arguments as exporter_arguments
from exporter.web.webconfig import parse_web_config
from tests.support.helm import container, load_values, only, pod_spec, render
from tests.support.paths import ROOT

WEB_DIR = "/etc/soda-incidents-exporter/web"


def web_values(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(load_values("web-config"))
    for dotted, value in changes.items():
        node = values
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return values


def probes(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    c = container(docs)
    return c["livenessProbe"], c["readinessProbe"]


def test_the_web_config_secret_is_what_the_exporter_accepts() -> None:
    values = web_values()
    docs = render(values)
    secret = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"].endswith("-web-config"))
    text = base64.b64decode(secret["data"]["web-config.yml"]).decode()
    assert yaml.safe_load(text) == values["webConfig"]["config"]
    parsed = parse_web_config(text, f"{WEB_DIR}/web-config.yml")  # the exporter's own validation
    assert parsed.tls is not None and parsed.tls.cert_file == f"{WEB_DIR}/tls.crt"
    assert set(parsed.users) == {"prometheus"}


def test_the_secret_and_the_tls_secret_are_projected_read_only_and_the_flag_is_passed() -> None:
    docs = render(web_values())
    args = container(docs)["args"]
    assert f"--web.config.file={WEB_DIR}/web-config.yml" in args
    namespace = exporter_arguments.build_parser().parse_args(args)
    assert exporter_arguments.resolve_flags(namespace, {})["web_config_file"] == f"{WEB_DIR}/web-config.yml"
    mount = next(m for m in container(docs)["volumeMounts"] if m["name"] == "web-config")
    assert mount == {
        "name": "web-config",
        "mountPath": WEB_DIR,
        "readOnly": True,
    }  # no subPath: rotations apply
    volume = next(v for v in pod_spec(docs)["volumes"] if v["name"] == "web-config")
    names = [source["secret"]["name"] for source in volume["projected"]["sources"]]
    assert names == ["soda-soda-incidents-exporter-web-config", "soda-exporter-tls"]
    assert volume["projected"]["defaultMode"] == 0o440


def test_an_existing_secret_replaces_the_chart_made_one() -> None:
    docs = render(web_values(**{"webConfig.existingSecret": "my-web-config", "webConfig.tlsSecret": ""}))
    assert not any(d["kind"] == "Secret" and "web-config" in d["metadata"]["name"] for d in docs)
    volume = next(v for v in pod_spec(docs)["volumes"] if v["name"] == "web-config")
    assert [s["secret"]["name"] for s in volume["projected"]["sources"]] == ["my-web-config"]


def test_the_service_monitor_scrapes_https_with_tls_config_and_basic_auth() -> None:
    values = web_values()
    endpoint = only(render(values), "ServiceMonitor")["spec"]["endpoints"][0]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == values["serviceMonitor"]["tlsConfig"]
    assert endpoint["basicAuth"] == values["serviceMonitor"]["basicAuth"]
    plain = only(render({"serviceMonitor": values["serviceMonitor"]}), "ServiceMonitor")["spec"]["endpoints"][
        0
    ]
    assert plain["scheme"] == "http" and "tlsConfig" not in plain and "basicAuth" not in plain


def test_probes_use_https_when_nothing_locks_kubelet_out() -> None:
    values = web_values()
    del values["webConfig"]["config"]["basic_auth_users"]
    liveness, readiness = probes(render(values))
    assert liveness["httpGet"] == {"path": "/healthz", "port": "http", "scheme": "HTTPS"}
    assert readiness["httpGet"]["scheme"] == "HTTPS" and readiness["httpGet"]["path"] == "/readyz"
    assert "scheme" not in probes(render())[0]["httpGet"]  # Kubernetes' default, HTTP


@pytest.mark.parametrize(
    "changes",
    [
        {},  # basic_auth_users in the chart-made config
        {
            "webConfig.config.basic_auth_users": None,
            "webConfig.config.tls_server_config.client_auth_type": "RequireAndVerifyClientCert",
            "webConfig.config.tls_server_config.client_ca_file": "ca.crt",
        },
        {"webConfig.existingSecret": "my-web-config", "webConfig.basicAuth": True},
        {"webConfig.existingSecret": "my-web-config", "webConfig.clientCertificates": True},
    ],
)
def test_probes_connect_over_tcp_when_kubelet_cannot_authenticate(changes: dict[str, Any]) -> None:
    values = web_values(**changes)
    if values["webConfig"]["config"].get("basic_auth_users", 1) is None:
        del values["webConfig"]["config"]["basic_auth_users"]
    liveness, readiness = probes(render(values))
    assert liveness["tcpSocket"] == {"port": "http"} and "httpGet" not in liveness
    assert readiness["tcpSocket"] == {"port": "http"}


def test_probes_can_be_forced() -> None:
    assert "httpGet" in probes(render(web_values(**{"webConfig.probes": "httpGet"})))[0]
    values = web_values(**{"webConfig.probes": "tcpSocket"})
    del values["webConfig"]["config"]["basic_auth_users"]
    assert "tcpSocket" in probes(render(values))[1]


def test_the_web_config_does_not_roll_the_pod() -> None:
    values = web_values()
    before = only(render(values), "Deployment")["spec"]["template"]["metadata"].get("annotations") or {}
    values["webConfig"]["config"]["http_server_config"]["headers"]["X-Frame-Options"] = "deny"
    after = only(render(values), "Deployment")["spec"]["template"]["metadata"].get("annotations") or {}
    assert before == after  # the exporter reloads the file in place


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"webConfig.config": {}}, "webConfig.enabled needs webConfig.config"),
        (
            {
                "webConfig.config": {
                    "basic_auth_users": {"a": "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"}
                }
            },
            "no tls_server_config",
        ),
    ],
)
def test_inconsistent_values_fail_to_render(changes: dict[str, Any], needle: str) -> None:
    with pytest.raises(Exception, match=needle):
        render(web_values(**changes))


@pytest.mark.parametrize(
    "changes",
    [
        {"webConfig.probes": "exec"},
        {"webConfig.config": {"rate_limit": {}}},
        {"webConfig.config": {"basic_auth_users": {"a": "plain"}}},
        {"webConfig.extra": 1},
        {"webConfig.config.tls_server_config.certfile": "tls.crt"},
        {"webConfig.config.http_server_config.gzip": True},
    ],
)
def test_the_schema_refuses_bad_web_config_values(changes: dict[str, Any]) -> None:
    with pytest.raises(Exception, match="schema"):
        render(web_values(**changes))


def test_the_values_file_is_documented_in_the_chart_readme() -> None:
    readme = (ROOT / "deploy/helm/soda-incidents-exporter/README.md").read_text()
    assert "webConfig" in readme and "tcpSocket" in readme


def test_the_schema_lists_the_keys_the_exporter_reads() -> None:
    import json

    from exporter.web.webconfig import HTTP_KEYS, TLS_KEYS, TOP_KEYS

    schema = json.loads((ROOT / "deploy/helm/soda-incidents-exporter/values.schema.json").read_text())
    config = schema["properties"]["webConfig"]["properties"]["config"]
    assert set(config["propertyNames"]["enum"]) == set(TOP_KEYS) - {"rate_limit"}  # refused by the exporter
    assert config["properties"]["tls_server_config"]["propertyNames"]["enum"] == list(TLS_KEYS)
    assert config["properties"]["http_server_config"]["propertyNames"]["enum"] == list(HTTP_KEYS)
