"""HTTP API routes (auth level function): thin wrappers over mvd_core.api.handlers.

host.json sets an empty route prefix (so the dashboard can live at ``/``); every API route
therefore spells out its ``api/``."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from blueprints._runtime import serve
from mvd_core.api import handlers

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.function_name("dataspace_command")
@bp.route(route="api/dataspace/{action}", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def dataspace_command(req: func.HttpRequest, client) -> func.HttpResponse:
    return await serve(handlers.post_command, req, client)


@bp.function_name("dataspace_view")
@bp.route(route="api/dataspace", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def dataspace_view(req: func.HttpRequest, client) -> func.HttpResponse:
    return await serve(handlers.get_dataspace, req, client)


@bp.function_name("dataspace_plan")
@bp.route(route="api/dataspace/plan", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def dataspace_plan(req: func.HttpRequest, client) -> func.HttpResponse:
    return await serve(handlers.get_plan, req, client)


@bp.function_name("runs_list")
@bp.route(route="api/runs", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def runs_list(req: func.HttpRequest, client) -> func.HttpResponse:
    return await serve(handlers.list_runs, req, client)


@bp.function_name("run_status")
@bp.route(route="api/runs/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def run_status(req: func.HttpRequest, client) -> func.HttpResponse:
    return await serve(handlers.get_run, req, client)


@bp.function_name("openapi_document")
@bp.route(route="api/openapi.json", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def openapi_document(req: func.HttpRequest, client) -> func.HttpResponse:
    return await serve(handlers.get_openapi, req, client)
