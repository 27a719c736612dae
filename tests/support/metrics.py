"""The exporter's own metrics read through prometheus_client's public registry API, never its internals."""

from __future__ import annotations

from exporter.app import Exporter


def counter(exp: Exporter, name: str, **labels: str) -> float:
    """The ``name`` sample (``…_total``) of a self-metrics counter; 0 while that series was never counted."""
    value = exp.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def gauge(exp: Exporter, name: str, **labels: str) -> float:
    """The ``name`` sample of a self-metrics gauge, which must exist."""
    value = exp.metrics.registry.get_sample_value(name, labels)
    assert value is not None, f"no sample {name}{labels}"
    return value
