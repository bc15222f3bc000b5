"""The HTTP API as an OpenAPI 3.1 document (``GET /api/openapi.json``), generated from the
route table (``handlers.ROUTES``: paths, methods, parameters, access, statuses) and the pydantic
wire models (bodies), so the document cannot drift from what the handlers do.

``LOCAL_ROUTES`` adds what only `mvd serve` answers (``/healthz``, the local DID documents).
Statuses every route can answer on `mvd serve` (a control character or an over-long path, a
``Host`` it is not reached at) are added to each operation."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from mvd_core.api.handlers import ROUTES, Param, Route
from mvd_core.api.models import ErrorBody, Health
from mvd_core.runs import RunAccepted

OPENAPI_VERSION = "3.1.0"
PATH = "/api/openapi.json"
_REF = "#/components/schemas/{model}"

# Why each error status is answered; the JSON body's message names the problem itself.
STATUS_TEXT: dict[int, str] = {
    200: "OK",
    201: "Created: the negotiation or transfer started in the participant's connector (poll it at Location)",
    202: "Accepted: the run started, or the one already going for the same command",
    400: "The request is malformed (bad JSON, a field or parameter out of range, a control character in the path)",
    401: "Missing or wrong credentials (API token, function key or webhook signature)",
    404: "No such resource (action, run, participant, webhook source, DID document, negotiation, transfer)",
    405: "Method not allowed on this path (see Allow)",
    409: "Conflicts with the dataspace's current state (another run, a replayed delivery, a participant whose "
    "connector does not run here, a transfer not started)",
    413: "Request body too large",
    414: "Request path too long or too deep",
    421: "The Host header is not a name this server is reached at (mvd serve)",
    502: "A system the control plane relies on (cluster, DID host, EDC runtime) failed",
    503: "The control plane's own state or storage cannot be used, or a participant's connector does not answer "
    "(the message names the file, setting or runtime)",
    504: "A system the control plane relies on (an EDC runtime) did not answer in time",
}
# What `mvd serve` may answer to any request before it reaches a route.
ANY_ROUTE = (400, 414, 421)

SECURITY_SCHEMES: dict[str, Any] = {
    "apiToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "mvd serve: MVD_API_TOKEN, or the token generated into $MVD_HOME/api-token.",
    },
    "dataSourceKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Data-Source-Key",
        "description": "A participant's data-source key (vault alias data-source-key), which its data planes send.",
    },
    "functionKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-functions-key",
        "description": "Azure Functions: a function key of the app.",
    },
}
# access -> the security requirement: one of the alternatives must be met ({} = none needed).
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "write": [{"apiToken": []}, {"functionKey": []}],
    # Open on a loopback-only `mvd serve` (MVD_ANONYMOUS_READS), a function key on Azure.
    "read": [{}, {"apiToken": []}, {"functionKey": []}],
    "private": [{"apiToken": []}, {"functionKey": []}],
    "signature": [],  # the X-MVD-Signature header parameters, HMAC over timestamp, delivery id and body
    "public": [],
    "data-key": [{"dataSourceKey": []}],
}

LOCAL_ROUTES: list[Route] = [
    Route("GET", "/healthz", None, "public", "Liveness of `mvd serve`", (200, Health), ()),
    Route(
        "GET",
        "/dids/{participant}/did.json",
        None,
        "public",
        "A participant's did:web document (`mvd serve`, embedded targets)",
        (200, None),
        (404,),
        params=(Param("participant", "path", {"type": "string"}, "The participant id."),),
        media_type="application/did+json",
    ),
]


def _version() -> str:
    try:
        return version("mvd-control-plane")
    except PackageNotFoundError:
        return "0"


def _models(routes: list[Route]) -> tuple[list[type[BaseModel]], list[type[BaseModel]]]:
    requests = {r.body for r in routes if r.body is not None}
    responses = {r.answer[1] for r in routes if r.answer[1] is not None} | {ErrorBody}
    by_name = lambda models: sorted(models, key=lambda m: m.__name__)  # stable output
    return by_name(requests), by_name(responses)


def _schemas(routes: list[Route]) -> dict[str, Any]:
    requests, responses = _models(routes)
    pairs = [(m, "validation") for m in requests] + [(m, "serialization") for m in responses]
    keys, top = models_json_schema(pairs, by_alias=True, ref_template=_REF)  # type: ignore[arg-type]
    return {"keys": keys, "defs": top.get("$defs", {})}


def _ref(schemas: dict[str, Any], model: type[BaseModel], mode: str) -> dict[str, Any]:
    ref: dict[str, Any] = schemas["keys"][(model, mode)]
    return ref


def _parameter(param: Param) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": param.location,
        "required": param.location == "path" or param.required,
        "description": param.description,
        "schema": param.schema,
    }


def _error(schemas: dict[str, Any], status: int, route: Route) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": STATUS_TEXT.get(status, "Refused"),
        "content": {"application/json": {"schema": _ref(schemas, ErrorBody, "serialization")}},
    }
    if status == 401 and route.access in ("write", "read", "private"):
        answer["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer (mvd serve)"}}
    return answer


def _operation(schemas: dict[str, Any], route: Route) -> dict[str, Any]:
    status, model = route.answer
    if model is not None:
        body_schema = _ref(schemas, model, "serialization")
    else:  # any JSON object, or bytes of any type (a transfer's data)
        body_schema = (
            {"type": "object"} if route.media_type.endswith("json") else {"type": "string", "format": "binary"}
        )
    success: dict[str, Any] = {
        "description": STATUS_TEXT.get(status, "OK"),
        "content": {route.media_type: {"schema": body_schema}},
    }
    if model is RunAccepted:
        success["headers"] = {
            "Location": {
                "required": True,
                "schema": {"type": "string"},
                "description": "The run's status URL, as statusUrl.",
            }
        }
        success["links"] = {
            "GetRun": {
                "operationId": "get_run",
                "parameters": {"id": "$response.body#/runId"},
                "description": "The run this command started or joined.",
            }
        }
    errors = set(route.errors) | set(ANY_ROUTE)
    if route.access in ("write", "read", "private"):
        errors.add(401)
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "responses": {str(status): success} | {str(s): _error(schemas, s, route) for s in sorted(errors)},
        "security": SECURITY[route.access],
    }
    if route.params:
        operation["parameters"] = [_parameter(p) for p in route.params]
    if route.body is not None:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": _ref(schemas, route.body, "validation")}},
        }
    return operation


def build(routes: list[Route]) -> dict[str, Any]:
    """The OpenAPI document for ``routes``."""
    schemas = _schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.template, {})[route.method.lower()] = _operation(schemas, route)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "MVD control plane",
            "version": _version(),
            "description": (
                "Deploys, resets and tears down a Minimum Viable Dataspace. Every error is JSON "
                '{"error": "...", "problems": [...]} with a 4xx status naming the problem. '
                "The same handlers answer on `mvd serve` and on the Azure Functions app."
            ),
        },
        "paths": paths,
        "components": {"schemas": schemas["defs"], "securitySchemes": SECURITY_SCHEMES},
    }


def document() -> dict[str, Any]:
    """The document both hosts serve: the shared API routes and `mvd serve`'s own."""
    return build([*ROUTES, *LOCAL_ROUTES])
