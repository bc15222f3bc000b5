"""The HTTP API, framework-neutral: both hosts turn their request into an ``ApiRequest``,
call ``dispatch`` (or one handler), and send back the ``ApiResponse``.

Every error is JSON ``ErrorBody`` whose message names the problem; an unexpected exception
becomes a 500 with a generic message, logged with its traceback, never shown."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args
from urllib.parse import quote

from pydantic import BaseModel, SecretStr, ValidationError

from mvd_core.api import connector, inputs, participants, webhooks
from mvd_core.api.backend import Backend
from mvd_core.api.models import CommandBody, DataspaceView, EndpointsView, ErrorBody, ParticipantList, PlanView, RunList
from mvd_core.errors import Conflict, MvdError, NotFound, Unauthorized
from mvd_core.logs import get_logger
from mvd_core.runs import RUN_ID_PATTERN, Action, RunAccepted, RunSummary, check_run_id
from mvd_core.settings import get_settings
from mvd_core.workflow import seed

log = get_logger(__name__)

ACTIONS: tuple[str, ...] = get_args(Action)
MAX_COMMAND_BODY = 64 * 1024
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
_PARTICIPANT = re.compile(connector.PARTICIPANT_PATTERN)  # fullmatch


@dataclass
class ApiRequest:
    method: str
    path: str
    route_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Whether the host checked the caller's credentials (the API token locally, a function key
    # on Azure). An unauthenticated caller sees no filesystem paths (see redact_paths).
    authenticated: bool = False
    # The caller's address as the host saw it (the join rate limit counts per address).
    source_address: str = ""


@dataclass
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def json_bytes(self) -> bytes:
        return json.dumps(self.body).encode("utf-8")


class MethodNotAllowed(MvdError):
    status = 405


def error(status: int, message: str, problems: list[str] | None = None) -> ApiResponse:
    return ApiResponse(status, ErrorBody(error=message, problems=problems or []).wire())


Handler = Callable[[ApiRequest, Backend], Awaitable[ApiResponse]]


# An absolute path: a "/" that starts a word (so not the slashes of a URL, "deployment/x" or "1/3"),
# other than this API's own URL paths (a statusUrl "/api/runs/...").
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/$%@+-])/(?!(?:api|dids|static)/)[^\s'\"`,;()<>\[\]{}]+")


def _hide_path(match: re.Match[str]) -> str:
    path = match.group(0)
    return "<path>" + path[len(path.rstrip(".:")) :]  # a sentence's full stop or colon is not the path's


def redact_paths(value: Any, home: Path) -> Any:
    """``value`` (a JSON body) with the state directory written ``$MVD_HOME`` and every other
    absolute filesystem path ``<path>``: run details, errors and reasons name vault, cluster
    and DID files, which are nobody's business without credentials."""
    roots = sorted({r for r in (str(home.absolute()), str(home.resolve())) if len(r) > 1}, key=len, reverse=True)

    def redact(item: Any) -> Any:
        if isinstance(item, str):
            for root in roots:
                item = item.replace(root, "$MVD_HOME")
            return _ABSOLUTE_PATH.sub(_hide_path, item)
        if isinstance(item, list):
            return [redact(v) for v in item]
        if isinstance(item, dict):
            return {k: redact(v) for k, v in item.items()}
        return item

    return redact(value)


def guarded(fn: Handler) -> Handler:
    """MvdError -> its status and message; anything else -> 500, logged, nothing leaked. An
    unauthenticated caller's answer has its filesystem paths redacted."""

    async def answer(request: ApiRequest, backend: Backend) -> ApiResponse:
        try:
            return await fn(request, backend)
        except MvdError as exc:
            status = exc.status if 400 <= exc.status < 600 else 400
            return error(status, exc.message, [str(p) for p in getattr(exc, "problems", [])])
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.path)
            return error(500, "internal error; see the control plane's log")

    async def run(request: ApiRequest, backend: Backend) -> ApiResponse:
        response = await answer(request, backend)
        if not request.authenticated:
            response.body = redact_paths(response.body, get_settings().home)
        return response

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def _command_body(request: ApiRequest) -> CommandBody:
    if len(request.body) > MAX_COMMAND_BODY:
        raise MvdError(f"request body is {len(request.body)} bytes; the limit is {MAX_COMMAND_BODY}", status=413)
    data = inputs.json_object(request.body)
    # Found here rather than by pydantic, which fails on a key holding a lone surrogate.
    allowed = {field.alias or name for name, field in CommandBody.model_fields.items()}
    unknown = sorted(key for key in data if key not in allowed)
    if unknown:
        # Quoted and cut short: a client's key may be 60 KiB long or hold a lone surrogate.
        shown = ", ".join(repr(name[:40]) for name in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise MvdError(f"unknown field(s) in request body: {shown} (allowed: {', '.join(sorted(allowed))})")
    try:
        return CommandBody.model_validate(data)
    except ValidationError:
        raise MvdError("rotateKeys must be a list of participant ids") from None


def _known_participants(backend: Backend, ids: list[str]) -> list[str]:
    """``ids`` if each names a participant of the dataspace, else NotFound naming the first that does not."""
    for pid in ids:
        if not _PARTICIPANT.fullmatch(pid):
            raise NotFound(f"unknown participant {pid[:64]!r}")
        backend.dataspace.participant(pid)  # NotFound naming it and the known ids
    return ids


def _action(request: ApiRequest) -> str:
    action = request.route_params.get("action", "")
    if action not in ACTIONS:
        raise NotFound(f"unknown action {action[:40]!r} (expected one of: {', '.join(ACTIONS)})")
    return action


@guarded
async def post_command(request: ApiRequest, backend: Backend) -> ApiResponse:
    """POST /api/dataspace/{action}: 202 with the run (a new one, or the one already going)."""
    action = _action(request)
    rotate = _known_participants(backend, _command_body(request).rotate_keys)
    # The dashboard marks its clicks and the CLI its commands; any other caller is "api".
    claimed = (webhooks.header(request.headers, "X-MVD-Source") or "").lower()
    source = claimed if claimed in ("button", "cli") else "api"
    accepted = await backend.submit(action, source, rotate)  # type: ignore[arg-type]
    return ApiResponse(202, accepted.wire(), {"Location": accepted.status_url})


@guarded
async def get_dataspace(request: ApiRequest, backend: Backend) -> ApiResponse:
    """GET /api/dataspace."""
    return ApiResponse(200, (await backend.dataspace_view()).wire())


@guarded
async def get_plan(request: ApiRequest, backend: Backend) -> ApiResponse:
    """GET /api/dataspace/plan."""
    return ApiResponse(200, PlanView.model_validate(await backend.plan()).wire())


@guarded
async def get_participant_list(request: ApiRequest, backend: Backend) -> ApiResponse:
    """GET /api/dataspace/participants.json: public, what every catalog crawler reads."""
    return ApiResponse(200, (await backend.participant_list()).model_dump(mode="json", by_alias=True))


@guarded
async def get_endpoints(request: ApiRequest, backend: Backend) -> ApiResponse:
    """GET /api/dataspace/endpoints: always needs the caller's credentials (it names key files)."""
    if not request.authenticated:
        raise Unauthorized("missing or wrong API token (send 'Authorization: Bearer <token>')")
    return ApiResponse(200, (await backend.endpoints()).wire())


@guarded
async def get_dataset(request: ApiRequest, backend: Backend) -> ApiResponse:
    """GET /api/dataspace/data/{participant}/{dataset}: a seeded offer's bytes, for the
    provider's data plane (it sends the participant's data-source key from its vault)."""
    pid, dataset = request.route_params.get("participant", ""), request.route_params.get("dataset", "")
    if not _PARTICIPANT.fullmatch(pid):
        raise NotFound(f"unknown participant {pid[:64]!r}")
    if not _PARTICIPANT.fullmatch(dataset):
        raise NotFound(f"no dataset {dataset[:64]!r}")
    answer = await backend.dataset(pid, dataset, webhooks.header(request.headers, seed.DATA_SOURCE_HEADER))
    # bytes: sent as they are, with the Content-Type the offer declares
    return ApiResponse(200, answer.data, {"Content-Type": answer.media_type, "Cache-Control": "no-store"})


@guarded
async def list_runs(request: ApiRequest, backend: Backend) -> ApiResponse:
    """GET /api/runs?limit=N (1..200, default 20), newest first."""
    raw = request.query.get("limit")
    limit = DEFAULT_LIMIT
    if raw is not None:
        given = inputs.whole_number(raw, 1, MAX_LIMIT)
        if given is None:
            raise MvdError(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {raw[:20]!r}")
        limit = given
    return ApiResponse(200, RunList(runs=await backend.list_runs(limit)).wire())


@guarded
async def get_run(request: ApiRequest, backend: Backend) -> ApiResponse:
    """GET /api/runs/{id}."""
    run_id = check_run_id(request.route_params.get("id", ""))
    summary = await backend.get_run(run_id)
    if summary is None:
        raise NotFound(f"no run {run_id!r}")
    return ApiResponse(200, summary.wire())


def webhook_handler(secrets: Mapping[str, SecretStr] | None = None, tolerance_seconds: int | None = None) -> Handler:
    """POST /api/webhooks/{source}, with secrets and tolerance from settings unless given."""

    @guarded
    async def post_webhook(request: ApiRequest, backend: Backend) -> ApiResponse:
        settings = get_settings()
        if secrets is None:
            settings.require_resolved("webhook_secrets")
        tolerance = settings.webhook_tolerance_seconds if tolerance_seconds is None else tolerance_seconds
        verified = webhooks.verify(
            request.route_params.get("source", ""),
            request.headers,
            request.body,
            settings.webhook_secrets if secrets is None else secrets,
            tolerance,
        )
        payload = verified.payload
        # Every check before the delivery id is remembered: a refused delivery changes nothing.
        _known_participants(backend, payload.rotate_keys)
        first = await backend.remember_delivery(verified.source, verified.delivery_id, webhooks.delivery_ttl(tolerance))
        webhooks.check_first_delivery(first, verified)
        try:
            accepted = await backend.submit(payload.action, "webhook", payload.rotate_keys, verified.delivery_id)
        except Conflict:
            # Refused (another command's run is going): the sender may deliver it again later.
            await backend.forget_delivery(verified.source, verified.delivery_id)
            raise
        return ApiResponse(202, accepted.wire(), {"Location": accepted.status_url})

    return post_webhook


post_webhook = webhook_handler()


# ------------------------------------------------------------------ joining and leaving (mvd_core.api.participants)


@guarded
async def get_participants(request: ApiRequest, backend: Backend) -> ApiResponse:
    """GET /api/participants: seed and onboarded participants, the latest removals."""
    return ApiResponse(200, (await backend.participants()).wire())


@guarded
async def post_participant(request: ApiRequest, backend: Backend) -> ApiResponse:
    """POST /api/participants: a newcomer joins; 201 or a 4xx, each with the checks run."""
    status, answer = await backend.join(request.body, request.source_address)
    headers = {"Location": f"/api/participants/{quote(answer.participant.did, safe='')}"} if answer.participant else {}
    if status == 429:
        wait = re.search(r"try again in (\d+) s", answer.error or "")
        headers["Retry-After"] = wait.group(1) if wait else "60"
    return ApiResponse(status, answer.wire(), headers)


@guarded
async def delete_participant(request: ApiRequest, backend: Backend) -> ApiResponse:
    """DELETE /api/participants/{did}: an onboarded participant leaves, its credentials revoked."""
    return ApiResponse(200, (await backend.leave(request.route_params.get("did", ""))).wire())


@guarded
async def post_invite(request: ApiRequest, backend: Backend) -> ApiResponse:
    """POST /api/participants/invites: a single-use invite token (shown once)."""
    return ApiResponse(201, (await backend.invite(request.body)).wire())


# ------------------------------------------------------------------ a participant's connector (mvd_core.api.connector)

T = TypeVar("T")


def _participant(request: ApiRequest, backend: Backend) -> str:
    """The path's participant, known to the dataspace (404 otherwise)."""
    pid = connector.check_participant_id(request.route_params.get("participant", ""))
    backend.dataspace.participant(pid)
    return pid


async def _on_connector(pid: str, backend: Backend, work: Callable[[connector.Connector], T]) -> T:
    """``work`` against the participant's management API, off the event loop (its client blocks)."""

    def run() -> T:
        opened = connector.open_connector(backend.dataspace, pid, get_settings())
        try:
            return work(opened)
        finally:
            opened.close()

    return await asyncio.to_thread(run)


def _edc_id(request: ApiRequest, what: str) -> str:
    return connector.check_edc_id(request.route_params.get("id", ""), what)


Work = Callable[[connector.Connector], Any]


def _connector_handler(
    name: str, doc: str, prepare: Callable[[ApiRequest], Work], created: str | None = None
) -> Handler:
    """A handler of the connector proxy: the participant is checked (404), then ``prepare``
    checks the request's ids or body (400) and returns the work done against the participant's
    connector; its answer is a wire model, or a transfer's data. ``created``: a POST's answer is
    201 with Location ``<path>/<id>``."""

    async def handler(request: ApiRequest, backend: Backend) -> ApiResponse:
        pid = _participant(request, backend)
        answer = await _on_connector(pid, backend, prepare(request))
        if isinstance(answer, connector.Data):
            return ApiResponse(200, answer.content, connector.download_headers(answer))
        if created is not None:
            location = f"/api/participants/{pid}/connector/{created}/{answer.id}"
            return ApiResponse(201, answer.wire(), {"Location": location})
        return ApiResponse(200, answer.wire())

    handler.__name__ = handler.__qualname__ = name
    handler.__doc__ = doc
    return guarded(handler)


get_connector_assets = _connector_handler(
    "get_connector_assets", "GET .../connector/assets", lambda request: connector.assets
)
get_connector_catalog = _connector_handler(
    "get_connector_catalog", "GET .../connector/catalog", lambda request: connector.catalog
)
list_connector_negotiations = _connector_handler(
    "list_connector_negotiations", "GET .../connector/negotiations", lambda request: connector.negotiations
)
get_connector_negotiation = _connector_handler(
    "get_connector_negotiation",
    "GET .../connector/negotiations/{id}",
    lambda request: partial(connector.negotiation, negotiation_id=_edc_id(request, "negotiation id")),
)
post_connector_negotiation = _connector_handler(
    "post_connector_negotiation",
    "POST .../connector/negotiations: 201, the negotiation as it started",
    lambda request: partial(connector.negotiate, request=connector.negotiation_request(request.body)),
    created="negotiations",
)
list_connector_transfers = _connector_handler(
    "list_connector_transfers", "GET .../connector/transfers", lambda request: connector.transfers
)
get_connector_transfer = _connector_handler(
    "get_connector_transfer",
    "GET .../connector/transfers/{id}",
    lambda request: partial(connector.transfer, transfer_id=_edc_id(request, "transfer id")),
)
post_connector_transfer = _connector_handler(
    "post_connector_transfer",
    "POST .../connector/transfers: 201, the pull transfer as it started",
    lambda request: partial(connector.start_transfer, request=connector.transfer_request(request.body)),
    created="transfers",
)
get_connector_transfer_data = _connector_handler(
    "get_connector_transfer_data",
    "GET .../connector/transfers/{id}/data: the bytes, as a download",
    lambda request: partial(connector.data, transfer_id=_edc_id(request, "transfer id")),
)


async def get_openapi(request: ApiRequest, backend: Backend) -> ApiResponse:
    """GET /api/openapi.json: this API as an OpenAPI 3.1 document. Not ``guarded``: it reads
    no state, and the path redaction for anonymous callers would take its "$ref"s for paths."""
    from mvd_core.api import openapi

    return ApiResponse(200, openapi.document())


Access = Literal["read", "write", "private", "signature", "public", "data-key"]


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter, with its JSON Schema."""

    name: str
    location: Literal["path", "query", "header"]
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Route:
    """One operation. ``dispatch`` matches method and template (``{name}`` is one path
    segment); ``mvd_core.api.openapi`` builds the OpenAPI document from all the fields.
    ``access``: write needs the API token (a function key on Azure), read needs it only where
    reads are closed, private always needs it (a read that names local files), signature is
    the webhook HMAC, data-key the participant's data-source key (checked by the handler),
    public needs nothing. ``function``: the
    Azure Functions app's function that answers it (``blueprints/http.py`` registers one per
    route); None for what only `mvd serve` answers."""

    method: str
    template: str
    handler: Handler | None  # None: answered by the host itself (mvd serve's /healthz, /dids)
    access: Access
    summary: str
    answer: tuple[int, type[BaseModel] | None]  # success status and body model (None: any JSON object)
    errors: tuple[int, ...]  # the 4xx (and 5xx) statuses the handler itself answers
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None
    media_type: str = "application/json"
    function: str | None = None

    @property
    def operation_id(self) -> str:
        if self.handler is not None:
            return self.handler.__name__
        words = re.findall(r"[a-z]+", self.template.replace(".json", ""))
        return "_".join([self.method.lower(), *words])


def json_schema_pattern(pattern: str) -> str:
    """A pattern the server applies as a full match, as JSON Schema's (which searches) needs it."""
    return f"^(?:{pattern.removeprefix('^').removesuffix('$')})$"


def _string(pattern: str) -> dict[str, Any]:
    return {"type": "string", "pattern": json_schema_pattern(pattern)}


def _connector_route(
    method: str,
    path: str,
    handler: Handler,
    access: Access,
    summary: str,
    answer: tuple[int, type[BaseModel] | None],
    *,
    function: str,
    id_of: str | None = None,
    body: type[BaseModel] | None = None,
    media_type: str = "application/json",
) -> Route:
    """A route of ``/api/participants/{participant}/connector/...``: every one may find no
    participant (404), one with no connector here (409), a connector that fails (502), does
    not answer (503) or not in time (504); one with an id or a body may refuse it (400)."""
    params = [Param("participant", "path", _string(connector.PARTICIPANT_PATTERN), "The participant.")]
    if id_of is not None:
        params.append(Param("id", "path", _string(connector.EDC_ID_PATTERN), f"The {id_of} id EDC gave it."))
    errors = {404, 409, 502, 503, 504} | ({400} if id_of or body else set()) | ({413} if body else set())
    return Route(
        method,
        "/api/participants/{participant}/connector/" + path,
        handler,
        access,
        summary,
        answer,
        tuple(sorted(errors)),
        params=tuple(params),
        body=body,
        media_type=media_type,
        function=function,
    )


ROUTES: list[Route] = [
    Route(
        "GET",
        "/api/dataspace",
        get_dataspace,
        "read",
        "The dataspace: participants, runtimes, DIDs and whether they resolve, current and last run",
        (200, DataspaceView),
        (503,),
        function="dataspace_view",
    ),
    Route(
        "GET",
        "/api/dataspace/plan",
        get_plan,
        "read",
        "What an apply would change on each participant's cluster (mvd plan --json)",
        (200, PlanView),
        (502, 503),
        function="dataspace_plan",
    ),
    Route(
        "GET",
        "/api/dataspace/participants.json",
        get_participant_list,
        "public",
        "The dataspace's participant list, which every catalog crawler reads: id, DID and DSP address "
        "of each participant whose EDC runtimes run on this machine",
        (200, ParticipantList),
        (503,),
        function="participant_list",
    ),
    Route(
        "GET",
        "/api/dataspace/endpoints",
        get_endpoints,
        "private",
        "Each participant's management API base, DSP address and the file of its management API key "
        "(mvd endpoints --json)",
        (200, EndpointsView),
        (401, 503),
        function="dataspace_endpoints",
    ),
    Route(
        "GET",
        "/api/dataspace/data/{participant}/{dataset}",
        get_dataset,
        "data-key",
        "A dataset a participant offers (its generated bytes), for that participant's data plane: "
        "the data source of the asset the seed step created; text/csv or application/json as the offer declares",
        (200, None),
        (401, 404, 502, 503),
        params=(
            Param("participant", "path", _string(_PARTICIPANT.pattern), "The participant offering the dataset."),
            Param("dataset", "path", _string(_PARTICIPANT.pattern), "The offer's id in the blueprint (its asset id)."),
            Param(
                seed.DATA_SOURCE_HEADER,
                "header",
                {"type": "string"},
                "The participant's data-source key (vault alias data-source-key).",
                True,
            ),
        ),
        media_type="text/csv",
        function="dataset_data",
    ),
    Route(
        "POST",
        "/api/dataspace/{action}",
        post_command,
        "write",
        "Start a run of the command, or join the one already going",
        (202, RunAccepted),
        (400, 404, 409, 413, 503),
        params=(
            Param("action", "path", {"type": "string", "enum": list(ACTIONS)}, "The command."),
            Param(
                "X-MVD-Source",
                "header",
                {"type": "string"},
                "Who asks: button (the dashboard) or cli; anything else is recorded as api.",
            ),
        ),
        body=CommandBody,
        function="dataspace_command",
    ),
    Route(
        "GET",
        "/api/runs",
        list_runs,
        "read",
        "Runs, newest first",
        (200, RunList),
        (400, 503),
        params=(
            Param(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                "How many runs.",
            ),
        ),
        function="runs_list",
    ),
    Route(
        "GET",
        "/api/runs/{id}",
        get_run,
        "read",
        "One run, with per-participant, per-step progress (live while it runs)",
        (200, RunSummary),
        (400, 404, 503),
        params=(
            Param(
                "id", "path", _string(RUN_ID_PATTERN.pattern), "The run id: mvd-<dataspace>-<yyyymmddThhmmss>-<6 hex>."
            ),
        ),
        function="run_status",
    ),
    Route(
        "POST",
        "/api/webhooks/{source}",
        post_webhook,
        "signature",
        "A command from another system, signed with the source's secret",
        (202, RunAccepted),
        (400, 401, 404, 409, 413, 503),
        params=(
            Param("source", "path", _string(webhooks._SOURCE.pattern), "A source of MVD_WEBHOOK_SECRETS."),
            Param(
                webhooks.TIMESTAMP_HEADER,
                "header",
                _string(webhooks._TIMESTAMP.pattern),
                "Unix seconds; within MVD_WEBHOOK_TOLERANCE_SECONDS of the server's clock.",
                True,
            ),
            Param(
                webhooks.DELIVERY_HEADER,
                "header",
                _string(webhooks._DELIVERY.pattern),
                "The sender's unique id of this delivery.",
                True,
            ),
            Param(
                webhooks.SIGNATURE_HEADER,
                "header",
                _string(webhooks._SIGNATURE.pattern),
                f"sha256=<hex HMAC-SHA256 of {webhooks.SIGNED_STRING} with the source's secret>",
                True,
            ),
        ),
        body=webhooks.WebhookPayload,
        function="webhook",
    ),
    Route(
        "GET",
        "/api/participants",
        get_participants,
        "read",
        "Seed and onboarded participants: when each joined and when the next reset removes it; the latest removals",
        (200, participants.ParticipantsView),
        (503,),
        function="participants_list",
    ),
    Route(
        "POST",
        "/api/participants",
        post_participant,
        "public",
        "Join the dataspace with a did:web DID (and an invite token when MVD_ONBOARDING=invite): every check, "
        "in order, with what it found; a refusal names the check that failed and changes nothing",
        (201, participants.JoinAnswer),
        (400, 403, 409, 413, 422, 429, 503),
        body=participants.JoinRequest,
        function="participants_join",
    ),
    Route(
        "POST",
        "/api/participants/invites",
        post_invite,
        "write",
        "A single-use invite token for MVD_ONBOARDING=invite (shown once, stored hashed)",
        (201, participants.InviteAnswer),
        (400, 409, 413, 503),
        body=participants.InviteBody,
        function="participants_invite",
    ),
    Route(
        "DELETE",
        "/api/participants/{did}",
        delete_participant,
        "write",
        "Remove an onboarded participant (by DID or participant id): off the participant list, its "
        "MembershipCredentials revoked; seed participants are refused",
        (200, participants.LeaveAnswer),
        (403, 404, 503),
        params=(Param("did", "path", {"type": "string"}, "The onboarded participant's DID (or participant id)."),),
        function="participants_leave",
    ),
    _connector_route(
        "GET",
        "assets",
        get_connector_assets,
        "read",
        "The participant's own assets, from its connector's management API",
        (200, connector.AssetList),
        function="connector_assets",
    ),
    _connector_route(
        "GET",
        "catalog",
        get_connector_catalog,
        "read",
        "What every other participant offers this one: a DSP catalog request from its connector to each",
        (200, connector.ConnectorCatalog),
        function="connector_catalog",
    ),
    _connector_route(
        "GET",
        "negotiations",
        list_connector_negotiations,
        "read",
        "The participant's contract negotiations, newest first",
        (200, connector.NegotiationList),
        function="connector_negotiations",
    ),
    _connector_route(
        "POST",
        "negotiations",
        post_connector_negotiation,
        "write",
        "Negotiate a dataset's offer from another participant (poll the negotiation until FINALIZED)",
        (201, connector.NegotiationView),
        body=connector.NegotiationRequest,
        function="connector_negotiate",
    ),
    _connector_route(
        "GET",
        "negotiations/{id}",
        get_connector_negotiation,
        "read",
        "One contract negotiation: its state and, once FINALIZED, its agreement",
        (200, connector.NegotiationView),
        id_of="negotiation",
        function="connector_negotiation",
    ),
    _connector_route(
        "GET",
        "transfers",
        list_connector_transfers,
        "read",
        "The participant's transfer processes, newest first",
        (200, connector.TransferList),
        function="connector_transfers",
    ),
    _connector_route(
        "POST",
        "transfers",
        post_connector_transfer,
        "write",
        "Start an HttpData-PULL transfer under an agreement (poll it until STARTED, then get its data)",
        (201, connector.TransferView),
        body=connector.TransferRequest,
        function="connector_transfer_start",
    ),
    _connector_route(
        "GET",
        "transfers/{id}",
        get_connector_transfer,
        "read",
        "One transfer process and, once a pull is STARTED, where its data is",
        (200, connector.TransferView),
        id_of="transfer",
        function="connector_transfer",
    ),
    _connector_route(
        "GET",
        "transfers/{id}/data",
        get_connector_transfer_data,
        "read",
        f"A started pull transfer's data from the provider's data plane (at most {connector.MAX_DATA_BYTES} bytes), "
        "as a download",
        (200, None),
        id_of="transfer",
        media_type="*/*",
        function="connector_transfer_data",
    ),
    Route(
        "GET",
        "/api/openapi.json",
        get_openapi,
        "read",
        "This document",
        (200, None),
        (503,),
        function="openapi_document",
    ),
]


def _match(template: str, path: str) -> dict[str, str] | None:
    t_parts, p_parts = template.strip("/").split("/"), path.rstrip("/").strip("/").split("/")
    if len(t_parts) != len(p_parts):
        return None
    params: dict[str, str] = {}
    for t, p in zip(t_parts, p_parts, strict=True):
        if t.startswith("{") and t.endswith("}"):
            if not p:
                return None
            params[t[1:-1]] = p
        elif t != p:
            return None
    return params


def _matches(path: str) -> list[tuple[Route, dict[str, str]]]:
    """The routes whose template matches ``path``: only the literal ones when there are any."""
    matches = [
        (route, params)
        for route in ROUTES
        if route.handler is not None and (params := _match(route.template, path)) is not None
    ]
    if any("{" not in route.template for route, _ in matches):
        matches = [(route, params) for route, params in matches if "{" not in route.template]
    return matches


def routes_for(path: str) -> list[Route]:
    """The routes ``dispatch`` picks from for ``path`` (one per method; none: a 404), for a
    host that checks credentials by the routes' ``access`` before dispatching."""
    return [route for route, _ in _matches(path)]


async def dispatch(request: ApiRequest, backend: Backend) -> ApiResponse:
    """Route by method and path. A path a literal template names is that resource only:
    POST /api/dataspace/plan is 405, not the action "plan"."""
    matches = _matches(request.path)
    allowed: list[str] = []
    for route, params in matches:
        assert route.handler is not None
        if route.method != request.method.upper():
            allowed.append(route.method)
            continue
        request.route_params = {**params, **request.route_params}
        return await route.handler(request, backend)
    if allowed:
        return ApiResponse(
            405,
            ErrorBody(error=f"{request.method} not allowed on {request.path[:200]}; use {', '.join(allowed)}").wire(),
            {"Allow": ", ".join(sorted(set(allowed)))},
        )
    return error(404, f"no API route {request.path[:200]!r}")
