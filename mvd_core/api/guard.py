"""`mvd serve`'s answers to requests it cannot serve: every one is the API's JSON error body
with a 4xx status, and none leaves a traceback in the log.

``RequestGuard`` (ASGI middleware) refuses, before any route or file lookup, paths holding a
control character (400) and paths too long or too deep to name anything served (414). It also
turns an unexpected exception into the API's generic 500, logged once. ``http_error`` gives
Starlette's own refusals (no route, wrong method, no static file) the same body."""

from __future__ import annotations

import unicodedata

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mvd_core.api.handlers import ApiResponse, error
from mvd_core.logs import get_logger

log = get_logger(__name__)

# Longer than any path the server serves (the longest is a did:web document URL) by far.
MAX_PATH_CHARS = 1024
MAX_PATH_SEGMENTS = 32


def path_refusal(path: str) -> ApiResponse | None:
    """Why a (percent-decoded) request path cannot name anything served, or None."""
    if len(path) > MAX_PATH_CHARS:
        return error(414, f"request path is {len(path)} characters long; the limit is {MAX_PATH_CHARS}")
    segments = path.count("/")
    if segments > MAX_PATH_SEGMENTS:
        return error(414, f"request path has {segments} segments; the limit is {MAX_PATH_SEGMENTS}")
    for char in path:
        if unicodedata.category(char) == "Cc":
            return error(400, f"request path contains a control character (U+{ord(char):04X})")
    return None


def json_response(resp: ApiResponse) -> Response:
    return JSONResponse(resp.body, resp.status, headers=resp.headers)


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = path_refusal(scope["path"])
        if refusal is not None:
            await json_response(refusal)(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"][:200])
            if not started:
                await json_response(error(500, "internal error; see the control plane's log"))(scope, receive, send)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's HTTPException (no route, method not allowed, no static file) as the API's
    error body, keeping its headers (``Allow`` on a 405)."""
    assert isinstance(exc, HTTPException)
    path = request.url.path[:200]
    if exc.status_code == 404:
        message = f"nothing is served at {path!r}"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow") or "GET, HEAD"
        message = f"{request.method} not allowed on {path!r}; use {allowed}"
        exc.headers = {**(exc.headers or {}), "Allow": allowed}
    else:
        message = exc.detail
    return json_response(ApiResponse(exc.status_code, error(exc.status_code, message).body, dict(exc.headers or {})))
