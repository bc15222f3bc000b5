"""POST /api/webhooks/{source}: verified by HMAC (mvd_core.api.webhooks), then enqueued.

Auth level anonymous: senders authenticate with the per-source HMAC signature, not a
Functions key (most webhook senders cannot add one)."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from blueprints._runtime import serve
from mvd_core.api import handlers

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.function_name("webhook")
@bp.route(route="api/webhooks/{source}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def webhook(req: func.HttpRequest, client) -> func.HttpResponse:
    return await serve(handlers.post_webhook, req, client, authenticated=False)  # the HMAC is checked inside
