"""The metric catalogue follows Prometheus naming; the modules it feeds spell no metric name themselves."""

from __future__ import annotations

import io
import re
import tokenize

import pytest

from exporter.exposition.catalogue import BY_NAME, CATALOGUE, MetricSpec
from tests.support.paths import ROOT

# Everything that builds families, writes them or queries them: each takes names and HELP from the catalogue.
FED = [
    "exporter/exposition/collector.py",
    "exporter/exposition/writer.py",
    "exporter/exposition/metrics.py",
    "exporter/web/server.py",
    "exporter/actions/webhook.py",
    "exporter/backfill/counts.py",
    "exporter/cli/backfill.py",
    "exporter/config/flags.py",
    "deploy/prometheus/generate.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "grafana" / "soda_dashboards").glob("*.py")),
]
_NAMES = "|".join(re.escape(name) for name in sorted(BY_NAME, key=len, reverse=True))
# A catalogue name as a whole word, or followed by a histogram's series suffix.
NAME_IN_TEXT = re.compile(rf"(?<![A-Za-z0-9_:])({_NAMES})(_bucket|_count|_sum)?(?![A-Za-z0-9_])")


def literal_names(source: str) -> list[tuple[int, str]]:
    """(line, name) of every catalogue name written inside a string literal, docstrings left out."""
    hits = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and not token.string.lstrip("rbfuRBFU").startswith(('"""', "'''")):
            hits += [(token.start[0], m.group(1)) for m in NAME_IN_TEXT.finditer(token.string)]
    return hits


def test_names_are_unique_and_follow_prometheus_naming() -> None:
    assert len(BY_NAME) == len(CATALOGUE)
    for spec in CATALOGUE:
        assert re.fullmatch(r"soda_[a-z0-9_]+", spec.name), spec.name
        assert spec.type in {"gauge", "counter", "histogram", "gaugehistogram", "info"}, spec.name
        assert spec.name.endswith("_total") == (spec.type == "counter"), spec.name
        assert spec.name.endswith("_info") == (spec.type == "info"), spec.name
        assert spec.help.endswith(".") and spec.meaning, spec.name
        assert len(set(spec.labels)) == len(spec.labels) and "organization" not in spec.labels, spec.name


def test_the_prometheus_client_names_drop_the_suffixes_it_adds() -> None:
    counter = MetricSpec("soda_x_total", "counter", "X.")
    info = MetricSpec("soda_x_info", "info", "X.")
    assert (counter.base, info.base, BY_NAME["soda_up"].base) == ("soda_x", "soda_x", "soda_up")


def test_only_per_organization_families_take_the_constant_labels() -> None:
    assert BY_NAME["soda_incidents_open"].label_names(["organization"]) == [
        "organization",
        "dataset_id",
        "severity",
        "status",
    ]
    assert BY_NAME["soda_exporter_build_info"].label_names(["organization"]) == ["version", "python_version"]


def test_the_literal_finder_sees_a_name_in_plain_and_f_strings() -> None:
    source = 'a = "sum(soda_up)"\nb = f"{x} soda_incident_open_age_seconds_bucket"\nc = "soda_upx"\n'
    assert literal_names(source) == [(1, "soda_up"), (2, "soda_incident_open_age_seconds")]


@pytest.mark.parametrize("path", FED)
def test_fed_modules_write_no_metric_name_of_their_own(path: str) -> None:
    hits = literal_names((ROOT / path).read_text())
    assert not hits, f"{path}: use the catalogue instead of {hits}"
