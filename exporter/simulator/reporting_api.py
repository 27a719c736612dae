"""The Reporting API (``/v1``): ping, ETL freshness, incidents and datasets, with its auth and pagination."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exporter.simulator.auth import KeyStore, reporting_credentials
from exporter.simulator.organisation import Organisation
from exporter.simulator.replies import Page, Reply, Request, reporting_error
from exporter.simulator.rows import iso_timestamp
from exporter.simulator.validation import RequestInvalid, datasets_query, incidents_query, parse_json

PREFIX = "/v1"
# The spec's default text, including its reference to an endpoint that does not exist.
NO_CONTENT_DETAIL = (
    "No results for the requested data. Since the data is pre-processed in batches it might be that the "
    "data you are looking for has not yet been processed. You can check when the last refresh took place "
    "by using the /last_etl_refresh_info endpoint. If you think this is a bug and you should be getting "
    "results, get in touch with us."
)
PAGINATED_PATHS = frozenset({"/v1/impact/incidents", "/v1/coverage/datasets"})
_KNOWN_STATUSES = frozenset({"resolved", "unresolved"})


def no_content(resource: str) -> Reply:
    """HTTP 202 with a ``NoContentError`` body: the page or window holds no rows."""
    return Reply(202, {"resource": resource, "data": [], "detail": NO_CONTENT_DETAIL})


class ReportingApi:
    """Handles every request whose path starts with ``/v1``."""

    def __init__(self, organisation: Organisation, keys: KeyStore, *, max_page_size: int = 1000) -> None:
        self.organisation = organisation
        self.keys = keys
        # The spec caps size at 1000 (larger is a 422); a server may serve fewer rows per page than asked
        # and say so in the response's size field, which is what a lower cap simulates.
        self.max_page_size = max_page_size
        self._routes: dict[str, tuple[str, Callable[[Request], Reply], bool]] = {
            "/v1/ping": ("GET", self._ping, False),
            "/v1/last_etl_refresh": ("GET", self._last_etl_refresh, True),
            "/v1/impact/incidents": ("POST", self._incidents, True),
            "/v1/coverage/datasets": ("POST", self._datasets, True),
        }

    def handle(self, request: Request) -> Reply:
        """Route, authenticate, validate and answer, in the order FastAPI does."""
        route = self._routes.get(request.path)
        if route is None:
            return reporting_error(404, "Not Found")
        method, handler, needs_auth = route
        if request.method != method:
            reply = reporting_error(405, "Method Not Allowed")
            reply.headers["Allow"] = method
            return reply
        if needs_auth:
            denied = self._authorise(request)
            if denied is not None:
                return denied
        try:
            return handler(request)
        except RequestInvalid as invalid:
            return Reply(422, {"detail": invalid.errors})

    def _authorise(self, request: Request) -> Reply | None:
        credentials = reporting_credentials(request.headers)
        if credentials is None:
            reply = reporting_error(401, "Not authenticated")
        elif not self.keys.authenticates(credentials):
            reply = reporting_error(401, "Invalid API key or secret")
        elif self.keys.is_forbidden(credentials):
            return reporting_error(403, "This API key is not allowed to read reporting data")
        else:
            return None
        reply.headers["WWW-Authenticate"] = "Basic"
        return reply

    def _ping(self, request: Request) -> Reply:
        return Reply(200, "pssshhht")

    def _last_etl_refresh(self, request: Request) -> Reply:
        refreshed = iso_timestamp(self.organisation.etl_refresh_at)
        return Reply(200, {"resource": "last_etl_refresh", "data": {"last_etl_refresh_at": refreshed}})

    def _incidents(self, request: Request) -> Reply:
        org = self.organisation
        query = incidents_query(parse_json(request.body), org.now)
        # The schema leaves status a free string; values other than the two documented ones match no
        # rows, so the client gets "no content" rather than silently receiving the other status.
        status = query.status.strip().lower()
        if status not in _KNOWN_STATUSES:
            return no_content("incidents")

        def fetch(offset: int, limit: int) -> list[dict[str, Any]]:
            return org.incident_page(
                status, query.from_datetime, query.to_datetime, query.dataset_ids, offset, limit
            )[1]

        total, _ = org.incident_page(status, query.from_datetime, query.to_datetime, query.dataset_ids, 0, 0)
        return self._page("incidents", Page(total, query.page, self._size(query.size), fetch))

    def _datasets(self, request: Request) -> Reply:
        query = datasets_query(parse_json(request.body))
        rows = self.organisation.dataset_rows(query.dataset_ids)

        def fetch(offset: int, limit: int) -> list[dict[str, Any]]:
            return rows[max(offset, 0) : max(offset, 0) + max(limit, 0)]

        return self._page("datasets", Page(len(rows), query.page, self._size(query.size), fetch))

    def _size(self, asked: int) -> int:
        return max(1, min(asked, self.max_page_size))

    @staticmethod
    def _page(resource: str, page: Page) -> Reply:
        if page.offset >= page.total:
            return no_content(resource)
        page.data = page.fetch(page.offset, page.size)
        return Reply(200, page=page)
