"""The exporter's own routes: /metrics, the landing page, /healthz and /readyz."""

from __future__ import annotations

from http import HTTPStatus

from exporter.exposition.state import ExporterState
from exporter.web.landing import LandingInfo, render
from exporter.web.messages import Request, Response, text
from exporter.web.negotiation import VARY, negotiate
from exporter.web.server import WebServer

GET = frozenset({"GET", "HEAD"})
_PLAIN_HEADERS = (("Vary", VARY),)
_GZIP_HEADERS = (("Vary", VARY), ("Content-Encoding", "gzip"))


class ExporterPages:
    """Answers the exporter's paths from the shared state."""

    def __init__(self, state: ExporterState, info: LandingInfo) -> None:
        self.state = state
        self.info = info

    def install(self, server: WebServer) -> None:
        """Add the four routes to ``server``."""
        server.add_route(self.info.telemetry_path, GET, self.metrics)
        server.add_route("/", GET, self.landing)
        server.add_route("/healthz", GET, self.health)
        server.add_route("/readyz", GET, self.ready)

    def metrics(self, request: Request) -> Response:
        """Live exporter metrics (at most a second old), then the pre-rendered snapshot bytes."""
        choice = negotiate(request.header("accept"), request.header("accept-encoding"))
        body = self.state.scrape_parts(openmetrics=choice.openmetrics, gzipped=choice.gzipped)
        headers = _GZIP_HEADERS if choice.gzipped else _PLAIN_HEADERS
        return Response(HTTPStatus.OK, body, choice.content_type, headers)

    def landing(self, request: Request) -> Response:
        """The HTML landing page."""
        return Response(HTTPStatus.OK, render(self.state, self.info), "text/html; charset=utf-8")

    def health(self, request: Request) -> Response:
        """200 while the process serves."""
        return text(HTTPStatus.OK, "ok\n")

    def ready(self, request: Request) -> Response:
        """200 once a poll cycle has succeeded, 503 before."""
        if self.state.ready:
            return text(HTTPStatus.OK, "ready\n")
        return text(HTTPStatus.SERVICE_UNAVAILABLE, "not ready: no successful poll yet\n")
