"""GET / and GET /static/{name}: the dashboard page and its two files, the same as `mvd serve`
serves (anonymous: they hold no data; the page's API calls carry the Functions key the user
enters, as ``x-functions-key``). No inline script, so a strict Content-Security-Policy."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from mvd_core.api import dashboard as page
from mvd_core.api.handlers import error

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)

# Only the site root: routePrefix is "" and an optional, empty-only parameter is how a
# Functions route matches "/" (a literal "" route never does).
ROOT_ROUTE = "{root:maxlength(0)?}"
HEADERS = {"Cache-Control": "no-cache", **page.SECURITY_HEADERS}


@bp.function_name("dashboard")
@bp.route(route=ROOT_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def dashboard(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(page.page(), status_code=200, mimetype="text/html", charset="utf-8", headers=HEADERS)


@bp.function_name("dashboard_asset")
@bp.route(route="static/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def dashboard_asset(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("name", "")
    found = page.asset(name)
    if found is None:
        body = error(404, f"no dashboard file {name[:100]!r} (there are: {', '.join(sorted(page.ASSETS))})")
        return func.HttpResponse(
            body.json_bytes(), status_code=404, mimetype="application/json", headers=page.SECURITY_HEADERS
        )
    content, media_type = found
    return func.HttpResponse(content, status_code=200, mimetype=media_type, charset="utf-8", headers=HEADERS)
