"""The HTTP API on Azure Functions: one function per route of ``mvd_core.api.handlers.ROUTES``,
the table `mvd serve` dispatches on too, each a thin wrapper over its handler.

Auth level function (a function key) for every route but the webhook's, the datasets',
the public participant list and a join (``POST /api/participants``), which are anonymous: webhook senders authenticate with the
per-source HMAC signature the handler checks (most webhook senders cannot add a key), data
planes with their participant's data-source key. host.json sets an empty
route prefix (so the dashboard can live at ``/``); every API route therefore spells out its
``api/``."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from blueprints._runtime import serve
from mvd_core.api.handlers import ROUTES, Handler, Route

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


def _register(route: Route, handler: Handler, name: str) -> None:
    # a webhook's HMAC and a dataset's data-source key are checked inside
    anonymous = route.access in ("signature", "public", "data-key")

    async def answer(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        return await serve(handler, req, client, authenticated=not anonymous)

    answer.__name__ = answer.__qualname__ = name
    level = func.AuthLevel.ANONYMOUS if anonymous else func.AuthLevel.FUNCTION
    bound = bp.durable_client_input(client_name="client")(answer)
    bp.function_name(name)(bp.route(route=route.template.lstrip("/"), methods=[route.method], auth_level=level)(bound))


for _route in ROUTES:
    if _route.handler is None or _route.function is None:
        raise RuntimeError(f"{_route.method} {_route.template}: a shared route needs a handler and a function name")
    _register(_route, _route.handler, _route.function)
