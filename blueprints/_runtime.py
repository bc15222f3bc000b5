"""Glue between Azure Functions types and mvd_core: request/response conversion, the
orchestration port over the Durable Functions client, and the per-process dataspace, registry
and queue (built on first use, from settings)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import ValidationError

from blueprints._telemetry import export_to_application_insights
from mvd_core.api.backend import Backend
from mvd_core.api.dashboard import SECURITY_HEADERS
from mvd_core.api.handlers import ApiRequest, ApiResponse, Handler, error
from mvd_core.commands import CommandQueue, Status, open_queue
from mvd_core.dataspace import Dataspace, load, load_targeted
from mvd_core.errors import MvdError
from mvd_core.host import schedule
from mvd_core.logs import configure_worker, get_logger
from mvd_core.runs import RunRegistry, open_registry
from mvd_core.settings import IndexingSettings, LogSettings, Settings, describe_invalid, get_settings

log = get_logger(__name__)


def configure_logging() -> None:
    """MVD_LOG_LEVEL and MVD_LOG_FORMAT on the Functions host (neither is a secret, so they are
    read while the app is indexed). A value that does not validate leaves INFO and console
    with one warning naming it, rather than an app that indexes nothing. Then the export to
    Application Insights (``_telemetry``), when the host has a connection string."""
    try:
        chosen = LogSettings()
        configure_worker(chosen.log_level, chosen.log_format)
    except ValidationError as exc:
        configure_worker()
        log.warning("logging at INFO: %s", describe_invalid(exc))
    except ValueError:
        configure_worker()
        log.warning("logging at INFO: invalid settings: MVD_LOG_LEVEL (not a level: DEBUG, INFO, WARNING, ERROR)")
    export_to_application_insights()


configure_logging()


def settings() -> Settings:
    """The app's settings, read on first use, never at indexing: invalid ones (a short webhook
    secret, say) are a 503 naming the variable and the rule, never its value. A secret whose
    Key Vault reference App Service could not resolve is left unset and named where it is used
    (``Settings.require_resolved``), so everything else keeps working."""
    try:
        return get_settings()
    except ValidationError as exc:
        raise MvdError(describe_invalid(exc), status=503) from None


def indexing_settings() -> IndexingSettings:
    """The settings read while the app is indexed (queue names, the timer): no secret among them."""
    try:
        return IndexingSettings()
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
    """The timer's NCRONTAB, as the local host reads it (``mvd_core.host.schedule``), fixed at
    indexing: from the blueprint and MVD_RESET_SCHEDULE only."""
    indexing = indexing_settings()
    return schedule.functions_timer(load(indexing.dataspace_file), indexing)


def reset_caches() -> None:
    """Forget the cached dataspace, registry and queue (tests change settings between cases)."""
    for fn in (dataspace, registry, queue):
        fn.cache_clear()


class DurableOrchestrations:
    """The orchestration port (``mvd_core.commands.Orchestrations``) over the Durable Functions
    client a function is given (``durable_client_input``)."""

    def __init__(self, client: df.DurableOrchestrationClient) -> None:
        self.client = client

    async def start(self, name: str, instance_id: str, input: dict[str, Any]) -> None:
        await self.client.start_new(name, instance_id, input)

    async def status(self, instance_id: str) -> Status | None:
        # A missing instance is answered with an empty status (404 from the extension), not an error.
        value = getattr(await self.client.get_status(instance_id), "runtime_status", None)
        if value is None:
            return None
        return Status(runtime_status=str(getattr(value, "value", value)))

    async def custom_status(self, instance_id: str) -> Any:
        return getattr(await self.client.get_status(instance_id), "custom_status", None)


def next_reset() -> datetime:
    """When the timer next fires (the nightly reset, which removes onboarded participants)."""
    chosen = schedule.reset_schedule(dataspace(), settings())
    return schedule.next_fire(chosen.reset, chosen.timezone, datetime.now(UTC))


def described_schedule() -> str:
    """The nightly reset as ``GET /api/dataspace`` shows it (the local host's words)."""
    return schedule.describe(schedule.reset_schedule(dataspace(), settings()), settings())


def backend(client: df.DurableOrchestrationClient) -> Backend:
    """The backend over this app's registry and queue, and the function's Durable client."""
    return Backend(
        dataspace(), registry(), DurableOrchestrations(client), described_schedule, queue=queue(), next_reset=next_reset
    )


def client_address(forwarded: str | None) -> str:
    """The caller's address from the first X-Forwarded-For entry, its port dropped."""
    first = (forwarded or "").split(",")[0].strip()
    if first.startswith("["):
        return first[1:].split("]")[0]
    return first.rsplit(":", 1)[0] if first.count(":") == 1 else first


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
        # the Functions front end puts the caller first in X-Forwarded-For (with its port)
        source_address=client_address(req.headers.get("x-forwarded-for")),
    )


def to_http_response(resp: ApiResponse) -> func.HttpResponse:
    if isinstance(resp.body, bytes):  # relayed data (a transfer's), with its own headers
        return func.HttpResponse(
            body=resp.body,
            status_code=resp.status,
            headers={**SECURITY_HEADERS, **resp.headers},
            mimetype=resp.headers.get("Content-Type", "application/octet-stream"),
        )
    return func.HttpResponse(
        body=resp.json_bytes(),
        status_code=resp.status,
        headers={**SECURITY_HEADERS, **resp.headers},
        mimetype="application/json",
    )


async def serve(
    handler: Handler, req: func.HttpRequest, client: df.DurableOrchestrationClient, *, authenticated: bool = True
) -> func.HttpResponse:
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
