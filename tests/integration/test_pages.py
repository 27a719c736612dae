"""The exporter's /metrics over real HTTP: the format negotiated with q-values, Vary, gzip."""

from __future__ import annotations

import gzip

import requests

from exporter.app import Exporter

OM = "application/openmetrics-text"


def test_metrics_answer_the_preferred_format_with_vary(ready_exporter: Exporter) -> None:
    exporter = ready_exporter
    url = f"http://127.0.0.1:{exporter.port}/metrics"
    text = requests.get(url, headers={"Accept": f"text/plain;version=0.0.4;q=1,{OM};q=0.1"}, timeout=10)
    assert text.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert text.headers["Vary"] == "Accept, Accept-Encoding"
    assert not text.text.endswith("# EOF\n")
    om = requests.get(url, headers={"Accept": f"text/plain;q=0.2,{OM};version=1.0.0;q=0.9"}, timeout=10)
    assert om.headers["Content-Type"].startswith(f"{OM}; version=1.0.0")
    assert om.text.endswith("# EOF\n")
    raw = requests.get(url, headers={"Accept-Encoding": "gzip;q=0, identity"}, stream=True, timeout=10)
    assert "Content-Encoding" not in raw.headers and raw.raw.read().startswith(b"# HELP")
    zipped = requests.get(url, headers={"Accept-Encoding": "gzip;q=0.8"}, stream=True, timeout=10)
    assert (
        zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept, Accept-Encoding"
    )
    assert gzip.decompress(zipped.raw.read()).startswith(b"# HELP")
