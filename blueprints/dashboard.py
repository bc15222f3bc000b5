"""GET / : the dashboard page (anonymous: the page holds no data; its API calls carry the
Functions key the user enters, as ``x-functions-key``)."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from mvd_core.api.handlers import error
from mvd_core.errors import MvdError

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)

# Only the site root: routePrefix is "" and an optional, empty-only parameter is how a
# Functions route matches "/" (a literal "" route never does).
ROOT_ROUTE = "{root:maxlength(0)?}"
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@bp.function_name("dashboard")
@bp.route(route=ROOT_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def dashboard(req: func.HttpRequest) -> func.HttpResponse:
    from mvd_core.api.dashboard import page_html

    try:
        page = page_html()
    except MvdError as exc:
        body = error(500, exc.message)
        return func.HttpResponse(body.json_bytes(), status_code=500, mimetype="application/json")
    return func.HttpResponse(page, status_code=200, mimetype="text/html", charset="utf-8", headers=HEADERS)
