"""Content negotiation for /metrics: prometheus_client's own choice, fed the client's preferences in order.

prometheus_client's ``choose_encoder`` and ``gzip_accepted`` ignore q-values, and ``choose_encoder``
passes over ``text/plain;version=0.0.4`` looking for something better, so
``text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.1`` would get OpenMetrics. Here the
entries are ordered by q-value (highest first, ties in the client's order), the ``q=0`` ones dropped,
and each is judged in turn, OpenMetrics versions by ``choose_encoder`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder, gzip_accepted
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as CONTENT_TYPE_OPENMETRICS

VARY = "Accept, Accept-Encoding"


@dataclass(frozen=True)
class Choice:
    """The exposition to send: OpenMetrics or text 0.0.4, gzipped or not, and its Content-Type."""

    openmetrics: bool
    gzipped: bool

    @property
    def content_type(self) -> str:
        """The Content-Type of the pre-rendered bytes chosen (OpenMetrics 1.0.0 or text 0.0.4)."""
        return CONTENT_TYPE_OPENMETRICS if self.openmetrics else CONTENT_TYPE_PLAIN_0_0_4


def _quality(entry: str) -> float:
    """The q parameter of one header entry (1 when absent, 0 when unreadable)."""
    for param in entry.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(1.0, max(0.0, float(value.strip())))
            except ValueError:
                return 0.0
    return 1.0


def by_preference(header: str | None) -> str:
    """The header's entries ordered by q-value, highest first, without those the client refuses (q=0)."""
    entries = [entry.strip() for entry in (header or "").split(",") if entry.strip()]
    ranked = sorted(
        ((quality, index, entry) for index, entry in enumerate(entries) if (quality := _quality(entry)) > 0),
        key=lambda item: (-item[0], item[1]),
    )
    return ",".join(entry for _, _, entry in ranked)


def _gzip_wanted(accept_encoding: str | None) -> bool:
    """gzip when the client names it (or ``*``) with a q-value above zero."""
    preferred = by_preference(accept_encoding)
    if gzip_accepted(preferred):
        return True
    named = {entry.split(";")[0].strip().lower() for entry in (accept_encoding or "").split(",")}
    return "gzip" not in named and "*" in {entry.split(";")[0].strip() for entry in preferred.split(",")}


def _wants_openmetrics(accept: str | None) -> bool:
    """Whether the most preferred entry the exporter can serve is OpenMetrics.

    Entries are tried best first; ``choose_encoder`` judges each OpenMetrics entry (its version), and
    the first text or wildcard entry settles on text. Entries of other types are passed over.
    """
    for entry in by_preference(accept).split(","):
        media = entry.split(";")[0].strip().lower()
        if media == "application/openmetrics-text":
            if choose_encoder(entry)[1].startswith("application/openmetrics-text"):
                return True
        elif media in ("text/plain", "text/*", "*/*"):
            return False
    return False


# Scrapers send the same two headers every time: the choice is pure, so it is made once per pair.
@lru_cache(maxsize=64)
def negotiate(accept: str | None, accept_encoding: str | None) -> Choice:
    """Pick the exposition format and encoding the client prefers among those the exporter has ready."""
    return Choice(_wants_openmetrics(accept), _gzip_wanted(accept_encoding))
