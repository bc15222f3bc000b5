"""Glue between Azure Functions types and mvd_core: request/response conversion and the
per-process dataspace, registry and queue (built on first use, from settings)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import azure.functions as func
from pydantic import ValidationError

from mvd_core.api.backend import FunctionsBackend
from mvd_core.api.dashboard import SECURITY_HEADERS
from mvd_core.api.handlers import ApiRequest, ApiResponse, Handler, error
from mvd_core.dataspace import Dataspace, load_targeted
from mvd_core.commands import CommandQueue, RunRegistry, open_queue, open_registry
from mvd_core.errors import MvdError
from mvd_core.logs import get_logger
from mvd_core.host.schedule import functions_timer
from mvd_core.settings import Settings, describe_invalid, get_settings

log = get_logger(__name__)


def settings() -> Settings:
    """The app's settings; invalid ones (a short webhook secret, say) stop the app at indexing
    with one line naming the variable and the rule, never its value."""
    try:
        return get_settings()
    except ValidationError as exc:
        raise MvdError(describe_invalid(exc)) from None


@lru_cache(maxsize=1)
def dataspace() -> Dataspace:
    return load_targeted(settings())


@lru_cache(maxsize=1)
def registry() -> RunRegistry:
    return open_registry()


@lru_cache(maxsize=1)
def queue() -> CommandQueue:
    return open_queue()


def reset_schedule() -> str:
    """The timer's NCRONTAB, as the local host reads it (``mvd_core.host.schedule``)."""
    return functions_timer(dataspace(), settings())


def reset_caches() -> None:
    """Forget the cached dataspace, registry and queue (tests change settings between cases)."""
    for fn in (dataspace, registry, queue):
        fn.cache_clear()


def backend(client: Any) -> FunctionsBackend:
    return FunctionsBackend(client, registry(), queue(), dataspace())


def to_api_request(req: func.HttpRequest, authenticated: bool) -> ApiRequest:
    from urllib.parse import urlsplit

    return ApiRequest(
        method=req.method,
        path=urlsplit(req.url).path,
        route_params=dict(req.route_params),
        query=dict(req.params),
        headers=dict(req.headers),
        body=req.get_body() or b"",
        authenticated=authenticated,
    )


def to_http_response(resp: ApiResponse) -> func.HttpResponse:
    return func.HttpResponse(
        body=resp.json_bytes(), status_code=resp.status, headers={**SECURITY_HEADERS, **resp.headers},
        mimetype="application/json",
    )


async def serve(handler: Handler, req: func.HttpRequest, client: Any, *, authenticated: bool = True) -> func.HttpResponse:
    """Run one API handler; configuration problems (bad blueprint, no storage) become a JSON
    error naming them instead of a host 500 with a traceback. ``authenticated``: the route's
    auth level is ``function``, so the host let the request in only with a key."""
    try:
        be = backend(client)
    except MvdError as exc:
        return to_http_response(error(503 if exc.status < 500 else exc.status, exc.message))
    except Exception:
        log.exception("cannot set up the API backend")
        return to_http_response(error(500, "internal error; see the control plane's log"))
    return to_http_response(await handler(to_api_request(req, authenticated), be))
