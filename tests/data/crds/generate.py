"""Regenerate the Prometheus Operator CRD schemas used by the Helm chart tests.

The schemas come from cloudcoil-models-prometheus-operator, whose models are generated from the
upstream ``monitoring.coreos.com/v1`` CRDs of the operator release in its version number. This is a
maintainer's tool, not run by the tests (``pip install cloudcoil-models-prometheus-operator``).
Two things are added to the upstream shape, both to catch chart mistakes the API server would hide:

- ``additionalProperties: false`` on every object with known properties, because the API server
  silently prunes unknown fields of a structural schema, so a misspelt key would vanish unseen;
- a rule holds exactly one of ``alert`` and ``record`` (upstream says so in prose; the operator's
  admission webhook enforces it).

Go's inline ``(?i)`` flag is spelt out as character classes, which Python's ``re`` can compile.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def caseless(pattern: str) -> str:
    """Spell Go's ``(?i)`` prefix out as character classes: Python's re rejects it mid-pattern."""
    head, flag, body = pattern.partition("(?i)")
    if not flag:
        return pattern
    return head + "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in body)


def close_objects(node: Any) -> None:
    """Forbid unknown keys in every object schema that lists its properties; make patterns portable."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        if isinstance(node.get("pattern"), str):
            node["pattern"] = caseless(node["pattern"])
        for value in node.values():
            close_objects(value)
    elif isinstance(node, list):
        for value in node:
            close_objects(value)


def schema_of(model: Any, api_version: str, kind: str) -> dict[str, Any]:
    """The JSON Schema of one custom resource, pinned to its apiVersion and kind."""
    schema: dict[str, Any] = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata", "spec"})
    close_objects(schema)
    return schema


def main() -> None:
    """Write servicemonitor-v1.schema.json and prometheusrule-v1.schema.json next to this file."""
    from cloudcoil.models.prometheus_operator import v1

    monitor = schema_of(v1.ServiceMonitor, "monitoring.coreos.com/v1", "ServiceMonitor")
    rule = schema_of(v1.PrometheusRule, "monitoring.coreos.com/v1", "PrometheusRule")
    rule_def = next(d for name, d in rule["$defs"].items() if name == "Rule")
    rule_def["oneOf"] = [{"required": ["alert"]}, {"required": ["record"]}]
    for name, schema in (("servicemonitor-v1", monitor), ("prometheusrule-v1", rule)):
        text = json.dumps(schema, indent=1, sort_keys=True) + "\n"
        (HERE / f"{name}.schema.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
