"""What a request head alone decides: 401 (for every path), 413, 404 or 405."""

from __future__ import annotations

from http import HTTPStatus

from exporter.web.messages import Response, text
from exporter.web.shared import Shared
from exporter.web.wire import Head


def screen(event: Head, shared: Shared) -> Response | None:
    """The answer the head alone decides: 401, 413, 404 or 405; None when the request may go on."""
    door = shared.door
    authorization = next((v.decode("latin-1") for k, v in event.headers if k == b"authorization"), None)
    if not door.authorized(authorization):
        challenge = door.challenge()
        headers = (("WWW-Authenticate", challenge),) if challenge else ()
        return text(HTTPStatus.UNAUTHORIZED, "unauthorized\n", headers)
    for name, value in event.headers:
        if name == b"content-length" and int(value) > shared.limits.max_body_bytes:
            return text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large\n", close=True)
    path = event.target.decode("latin-1").split("?", 1)[0]
    route = shared.routes.get(path)
    if route is None:
        return text(HTTPStatus.NOT_FOUND, "not found\n")
    method = event.method.decode("latin-1")
    if method not in route.methods:
        allow = (("Allow", ", ".join(sorted(route.methods))),)
        return text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n", allow)
    return None
