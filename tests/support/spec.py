"""The published OpenAPI documents of Soda's APIs, loaded for openapi-core."""

from __future__ import annotations

from typing import Any

import yaml
from openapi_core import OpenAPI

from tests.support.paths import DATA

SPEC_DIR = DATA / "soda-api"


def _drop_type_next_to_ref(node: Any) -> None:
    if isinstance(node, dict):
        if "$ref" in node and node.get("type") == "object":
            del node["type"]
        for value in node.values():
            _drop_type_next_to_ref(value)
    elif isinstance(node, list):
        for value in node:
            _drop_type_next_to_ref(value)


def cloud_spec(server_url: str) -> OpenAPI:
    """The Cloud API document, served at ``server_url``."""
    spec = yaml.safe_load((SPEC_DIR / "cloud-api-v1.openapi.yaml").read_text())
    spec["servers"] = [{"url": server_url}]
    # The generator wrote ``type: object`` beside every ``$ref``. OpenAPI 3.1 applies both, which makes
    # the string enums (severity, status) unsatisfiable; the referenced schema is what is meant.
    _drop_type_next_to_ref(spec)
    return OpenAPI.from_dict(spec)
