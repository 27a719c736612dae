"""The Helm chart rendered by Helm's own engine: lint, strict schema validation, hardening, secrets."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml

import exporter
from tests.support.helm import (
    CHART,
    KUBE_VERSIONS,
    NAMESPACE,
    RELEASE,
    VALUES_FILES,
    container,
    helm,
    kinds,
    lint,
    load_values,
    notes,
    only,
    pod_spec,
    render,
    render_raw,
    validate_manifest,
)

CREDENTIALS = {"credentials": {"apiKeyId": "id-plain-7a1f", "apiKeySecret": "secret-plain-93be"}}


def test_chart_metadata_follows_the_package_version() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert meta["apiVersion"] == "v2"
    assert meta["name"] == "soda-incidents-exporter"
    assert str(meta["appVersion"]) == exporter.__version__, "appVersion must equal exporter.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", str(meta["version"]))


def test_every_values_file_is_in_the_matrix() -> None:
    assert {"defaults", "all-enabled", "existing-secret", "custom-labels", "webhook"} <= set(VALUES_FILES)


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_helm_lint_has_no_findings(values_file: str) -> None:
    report = lint(load_values(values_file))
    assert report["errors"] == [], report
    assert report["messages"] == [], report


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_rendered_manifests_validate_strictly(values_file: str) -> None:
    docs = render(load_values(values_file))
    assert "Deployment" in kinds(docs) and "Service" in kinds(docs)
    for doc in docs:
        for version in KUBE_VERSIONS:
            validate_manifest(doc, version)
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE


def test_strict_validation_catches_unknown_fields() -> None:
    docs = render()
    deployment = copy.deepcopy(only(docs, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    with pytest.raises(Exception, match="readOnlyRootFileSystem"):
        validate_manifest(deployment, "1.33")
    monitor = render({"serviceMonitor": {"enabled": True}})
    bad = copy.deepcopy(only(monitor, "ServiceMonitor"))
    bad["spec"]["endpoints"][0]["intervall"] = "1m"
    with pytest.raises(Exception, match="intervall"):
        validate_manifest(bad, "1.33")


def test_optional_resources_follow_their_toggles() -> None:
    assert kinds(render()) == ["Deployment", "Service", "ServiceAccount"]
    everything = kinds(render(load_values("all-enabled")))
    for kind in ("ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Secret"):
        assert kind in everything
    assert kinds(render(load_values("demo"))) == ["Deployment", "Service", "ServiceAccount"]


BAD_VALUES: list[tuple[str, dict[str, Any]]] = [
    ("unknown region", {"soda": {"region": "ap"}}),
    ("negative interval", {"poll": {"interval": "-5m"}}),
    ("interval without unit", {"poll": {"interval": "five minutes"}}),
    ("wrong type", {"poll": {"pageSize": "1000"}}),
    ("page size above the API limit", {"poll": {"pageSize": 5000}}),
    ("negative number", {"incidentInfo": {"limit": -1}}),
    ("zero concurrency", {"poll": {"concurrency": 0}}),
    ("unknown top-level key", {"replicaCount": 2}),
    ("unknown nested key", {"serviceMonitor": {"enable": True}}),
    ("bad log level", {"log": {"level": "loud"}}),
    ("bad scrape interval", {"serviceMonitor": {"interval": "often"}}),
    ("negative threshold", {"prometheusRule": {"thresholds": {"unattended_seconds": -60}}}),
    ("unknown threshold", {"prometheusRule": {"thresholds": {"nope": 1}}}),
    ("bool as string", {"demo": "yes"}),
    ("plain-text key in env", {"extraEnv": [{"name": "SODA_API_KEY_SECRET", "value": "s3cr3t"}]}),
    ("telemetry path clash", {"web": {"telemetryPath": "/healthz"}}),
    ("unknown action field", {"webhook": {"actions": {"ack": {"owner": "me"}}}}),
    ("bad action name", {"webhook": {"actions": {"Ack!": {"status": "investigating"}}}}),
]


@pytest.mark.parametrize(("case", "values"), BAD_VALUES, ids=[c for c, _ in BAD_VALUES])
def test_values_schema_rejects_bad_values(case: str, values: dict[str, Any]) -> None:
    engine = helm()
    with engine.Chart.load(CHART) as chart, pytest.raises(engine.HelmValuesError):
        chart.validate_schema(values)
    with pytest.raises(engine.HelmValuesError):
        render(values)


def test_values_schema_accepts_the_defaults_and_secret_refs_in_env() -> None:
    with helm().Chart.load(CHART) as chart:
        chart.validate_schema({})
        chart.validate_schema(
            {
                "extraEnv": [
                    {"name": "SODA_API_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
                ]
            }
        )


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_pod_is_hardened(values_file: str) -> None:
    docs = render(load_values(values_file))
    pod = pod_spec(docs)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        assert isinstance(pod["securityContext"][key], int) and pod["securityContext"][key] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    ctx = container(docs)["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"]["drop"] == ["ALL"]
    assert ctx.get("privileged", False) is False
    assert {"name": "tmp", "mountPath": "/tmp"} in container(docs)["volumeMounts"]
    assert any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"])
    if "ServiceAccount" in kinds(docs):
        assert only(docs, "ServiceAccount")["automountServiceAccountToken"] is False


def test_probes_and_ports() -> None:
    main = container(render())
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["ports"] == [{"name": "http", "containerPort": 9877, "protocol": "TCP"}]
    assert "--web.listen-address=:9877" in main["args"]
    assert main["resources"]["limits"]["memory"]


def test_image_defaults_to_app_version_and_digest_wins() -> None:
    published = f"ghcr.io/soda-incidents-exporter/soda-incidents-exporter:{exporter.__version__}"
    assert container(render())["image"] == published, "the default is the released image"
    image = container(render(load_values("all-enabled")))["image"]
    assert image.startswith("registry.example.com/observability/soda-incidents-exporter@sha256:")


def test_no_plain_text_secrets_in_the_pod_spec() -> None:
    docs = render(CREDENTIALS)
    deployment_text = yaml.safe_dump(only(docs, "Deployment"))
    for secret in CREDENTIALS["credentials"].values():
        assert secret not in deployment_text
    main = container(docs)
    assert not any(e["name"].startswith("SODA_API_KEY") for e in main.get("env", []))
    file_args = [a for a in main["args"] if a.startswith("--soda.api-key")]
    assert file_args == [
        "--soda.api-key-id-file=/etc/soda-incidents-exporter/credentials/api-key-id",
        "--soda.api-key-secret-file=/etc/soda-incidents-exporter/credentials/api-key-secret",
    ]
    mount = next(m for m in main["volumeMounts"] if m["name"] == "credentials")
    assert mount["readOnly"] is True
    volume = next(v for v in pod_spec(docs)["volumes"] if v["name"] == "credentials")
    assert volume["secret"]["secretName"] == f"{RELEASE}-soda-incidents-exporter"
    assert volume["secret"]["defaultMode"] == 0o440
    created = only(docs, "Secret")
    assert set(created["data"]) == {"api-key-id", "api-key-secret"}
    assert "stringData" not in created


def test_existing_secret_is_mounted_and_no_secret_is_created() -> None:
    docs = render(load_values("existing-secret"))
    assert "Secret" not in kinds(docs)
    volume = next(v for v in pod_spec(docs)["volumes"] if v["name"] == "credentials")
    assert volume["secret"]["secretName"] == "soda-api-key"
    assert [i["key"] for i in volume["secret"]["items"]] == ["id", "secret"]
    args = container(docs)["args"]
    assert "--soda.api-key-id-file=/etc/soda-incidents-exporter/credentials/id" in args
    assert pod_spec(docs)["serviceAccountName"] == "monitoring-readonly"


def test_half_set_inline_credentials_fail_to_render() -> None:
    with pytest.raises(helm().HelmRenderError, match="must be set together"):
        render({"credentials": {"apiKeyId": "only-the-id"}})


def test_without_credentials_nothing_is_mounted_and_notes_warn() -> None:
    docs = render()
    assert not any(a.startswith("--soda.api-key") for a in container(docs)["args"])
    assert "WARNING: no Soda API credentials" in notes()
    demo = container(render(load_values("demo")))["args"]
    assert "--demo" in demo and not any(a.startswith("--soda.") for a in demo)


def _checksum(values: dict[str, Any]) -> str:
    """The pod template's secret checksum annotation."""
    annotations = only(render(values), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    return str(annotations["checksum/secret"])


def test_checksum_rolls_pods_when_the_secret_changes() -> None:
    first = _checksum(CREDENTIALS)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert _checksum(copy.deepcopy(CREDENTIALS)) == first
    rotated = {"credentials": {**CREDENTIALS["credentials"], "apiKeySecret": "rotated-secret"}}
    assert _checksum(rotated) != first


def test_custom_labels_and_annotations_reach_every_resource() -> None:
    docs = render(load_values("custom-labels"))
    for doc in docs:
        assert doc["metadata"]["labels"]["example.com/cost-center"] == "4711", doc["kind"]
    deployment = only(docs, "Deployment")
    assert deployment["metadata"]["name"] == "soda-exporter"
    assert deployment["metadata"]["namespace"] == "observability"
    template = deployment["spec"]["template"]["metadata"]
    assert template["labels"]["example.com/tier"] == "monitoring"
    assert template["annotations"]["example.com/scrape-note"] == "via ServiceMonitor"
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector == {
        "app.kubernetes.io/name": "soda-incidents-exporter",
        "app.kubernetes.io/instance": RELEASE,
    }
    assert only(docs, "Service")["metadata"]["annotations"] == {"example.com/owner": "data"}
    monitor = only(docs, "ServiceMonitor")
    assert monitor["metadata"]["namespace"] == "prometheus"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["observability"]}
    assert only(docs, "PrometheusRule")["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_service_monitor_scrapes_the_service() -> None:
    docs = render(load_values("all-enabled"))
    service, monitor = only(docs, "Service"), only(docs, "ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("30s", "20s")
    assert monitor["metadata"]["namespace"] == NAMESPACE


def test_network_policy_allows_scrapes_dns_and_https() -> None:
    policy = only(render(load_values("all-enabled")), "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert "namespaceSelector" in policy["spec"]["ingress"][0]["from"][0]
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
    assert {53, 443, 3128} <= egress_ports


def test_templates_render_without_leftover_markers() -> None:
    rendered = render_raw(load_values("all-enabled"))
    assert rendered, "nothing rendered"
    for text in rendered.values():
        assert "<no value>" not in text
        assert "HELMTHRESHOLD" not in text


def test_webhook_token_is_mounted_from_its_secret_and_required() -> None:
    docs = render(load_values("webhook"))
    args = container(docs)["args"]
    assert "--webhook.enable" in args and "--webhook.dry-run" in args
    assert "--webhook.token-file=/etc/soda-incidents-exporter/webhook/token" in args
    volume = next(v for v in pod_spec(docs)["volumes"] if v["name"] == "webhook-token")
    assert volume["secret"]["secretName"] == "soda-webhook-token"
    assert not any(a.startswith("--webhook.") for a in container(render())["args"])
    with pytest.raises(helm().HelmRenderError, match=r"webhook\.tokenSecret"):
        render({"webhook": {"enabled": True}})
