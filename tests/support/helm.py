"""Render the Helm chart with the real Helm engine and validate what comes out."""

from __future__ import annotations

import functools
import json
from types import ModuleType
from typing import Any, NoReturn

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from tests.binaries import REQUIRE_E2E_VAR, e2e_required
from tests.support.paths import DATA, ROOT

CHART = ROOT / "deploy" / "helm" / "soda-incidents-exporter"
VALUES_DIR = DATA / "helm"
CRDS_DIR = DATA / "crds"
VALUES_FILES = sorted(p.stem for p in VALUES_DIR.glob("*.yaml"))
RELEASE = "soda"
NAMESPACE = "monitoring"
# The oldest Kubernetes minor release still widely run, and the newest kubernetes-validate knows.
KUBE_VERSIONS = ("1.33", "latest")
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-v1.schema.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-v1.schema.json",
}

Manifest = dict[str, Any]


def _unavailable(what: str, exc: BaseException) -> NoReturn:
    """Skip, or fail when end-to-end tools are required, because ``what`` cannot load."""
    reason = f"{what} is not usable here ({type(exc).__name__}: {exc}); pip install -e '.[test]'"
    if e2e_required():
        pytest.fail(f"{reason}; {REQUIRE_E2E_VAR}=1 forbids skipping", pytrace=False)
    pytest.skip(reason)


def helm() -> ModuleType:
    """The helm-python-sdk module (Helm's Go SDK in a shared library)."""
    try:
        import helm_python

        helm_python.helm_sdk_version()
    except Exception as exc:  # ImportError, or HelmLibraryError when the .so cannot load
        _unavailable("the Helm engine (helm-python-sdk)", exc)
    return helm_python


def kube_validate() -> ModuleType:
    """The kubernetes-validate module."""
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError as exc:
        _unavailable("kubernetes-validate", exc)
    module: ModuleType = kubernetes_validate
    return module


def load_values(name: str) -> dict[str, Any]:
    """A values file of the test matrix, as a dict."""
    data = yaml.safe_load((VALUES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    return dict(data or {})


def chart_defaults() -> dict[str, Any]:
    """The chart's values.yaml."""
    return dict(yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8")))


def render_raw(values: dict[str, Any] | None = None, name: str = RELEASE) -> dict[str, str]:
    """Template path -> rendered text, like ``helm template``."""
    with helm().Chart.load(CHART) as chart:
        rendered: dict[str, str] = chart.render(values=values or {}, name=name, namespace=NAMESPACE)
    return rendered


def render(values: dict[str, Any] | None = None, name: str = RELEASE) -> list[Manifest]:
    """Every rendered Kubernetes object (NOTES.txt excluded)."""
    docs: list[Manifest] = []
    for path, text in sorted(render_raw(values, name).items()):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def notes(values: dict[str, Any] | None = None) -> str:
    """The rendered NOTES.txt."""
    return next(t for p, t in render_raw(values).items() if p.endswith("NOTES.txt"))


def only(docs: list[Manifest], kind: str) -> Manifest:
    """The single object of ``kind``."""
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def kinds(docs: list[Manifest]) -> list[str]:
    """The kinds of the rendered objects, sorted."""
    return sorted(d["kind"] for d in docs)


def pod_spec(docs: list[Manifest]) -> dict[str, Any]:
    """The Deployment's pod spec."""
    spec: dict[str, Any] = only(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(docs: list[Manifest]) -> dict[str, Any]:
    """The exporter container."""
    containers = pod_spec(docs)["containers"]
    assert len(containers) == 1
    return dict(containers[0])


@functools.cache
def crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    """A validator for a Prometheus Operator custom resource from tests/data/crds/."""
    schema = json.loads((CRDS_DIR / CRD_SCHEMAS[(api_version, kind)]).read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def validate_manifest(doc: Manifest, kube_version: str) -> None:
    """Strictly validate one object against Kubernetes' or the Prometheus Operator's schema."""
    key = (doc["apiVersion"], doc["kind"])
    if key in CRD_SCHEMAS:
        crd_validator(*key).validate(doc)
        return
    validator = kube_validate()
    version = validator.utils.latest_version() if kube_version == "latest" else kube_version
    validator.validate(doc, version, strict=True)


def lint(values: dict[str, Any], kube_version: str = "v1.33.0") -> dict[str, Any]:
    """``helm lint --strict`` of the chart with ``values``."""
    report: dict[str, Any] = helm().lint(CHART, values, strict=True, kube_version=kube_version)
    return report
