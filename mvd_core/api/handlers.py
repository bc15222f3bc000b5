"""The HTTP API, framework-neutral: both hosts turn their request into an ``ApiRequest``,
call ``dispatch`` (or one handler), and send back the ``ApiResponse``.

Every error is JSON ``ErrorBody`` whose message names the problem; an unexpected exception
becomes a 500 with a generic message, logged with its traceback, never shown."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import SecretStr

from mvd_core.api import webhooks
from mvd_core.api.backend import Backend
from mvd_core.api.models import Action, ErrorBody
from mvd_core.commands.models import RUN_ID_PATTERN
from mvd_core.errors import MvdError, NotFound
from mvd_core.logs import get_logger
from mvd_core.settings import get_settings

log = get_logger(__name__)

ACTIONS: tuple[str, ...] = get_args(Action)
MAX_COMMAND_BODY = 64 * 1024
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
_PARTICIPANT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # fullmatch


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
    return "<path>" + path[len(path.rstrip(".:")):]  # a sentence's full stop or colon is not the path's


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


def _json_body(request: ApiRequest, limit: int) -> dict[str, Any]:
    if len(request.body) > limit:
        raise MvdError(f"request body is {len(request.body)} bytes; the limit is {limit}", status=413)
    if not request.body.strip():
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise MvdError("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise MvdError("request body must be a JSON object")
    return data


def _known_participants(backend: Backend, ids: list[str]) -> list[str]:
    """``ids`` if each names a participant of the dataspace, else NotFound naming the first that does not."""
    for pid in ids:
        if not _PARTICIPANT.fullmatch(pid):
            raise NotFound(f"unknown participant {pid[:64]!r}")
        backend.dataspace.participant(pid)  # NotFound naming it and the known ids
    return ids


def _rotate_keys(data: dict[str, Any]) -> list[str]:
    unknown = sorted(set(data) - {"rotateKeys"})
    if unknown:
        raise MvdError(f"unknown field(s) in request body: {', '.join(unknown)} (allowed: rotateKeys)")
    value = data.get("rotateKeys", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MvdError("rotateKeys must be a list of participant ids")
    return value


def _action(request: ApiRequest) -> str:
    action = request.route_params.get("action", "")
    if action not in ACTIONS:
        raise NotFound(f"unknown action {action[:40]!r} (expected one of: {', '.join(ACTIONS)})")
    return action


@guarded
async def post_command(request: ApiRequest, backend: Backend) -> ApiResponse:
    """POST /api/dataspace/{action}: 202 with the run (a new one, or the one already going)."""
    action = _action(request)
    rotate = _known_participants(backend, _rotate_keys(_json_body(request, MAX_COMMAND_BODY)))
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
    return ApiResponse(200, await backend.plan())


@guarded
async def list_runs(request: ApiRequest, backend: Backend) -> ApiResponse:
    """GET /api/runs?limit=N (1..200, default 20), newest first."""
    raw = request.query.get("limit")
    limit = DEFAULT_LIMIT
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise MvdError(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {raw[:20]!r}")
        limit = int(raw)
    runs = await backend.list_runs(limit)
    return ApiResponse(200, {"runs": [r.wire() for r in runs]})


@guarded
async def get_run(request: ApiRequest, backend: Backend) -> ApiResponse:
    """GET /api/runs/{id}."""
    run_id = request.route_params.get("id", "")
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise MvdError(f"{run_id[:80]!r} is not a run id (expected mvd-<dataspace>-<yyyymmddThhmmss>-<6 hex>)")
    summary = await backend.get_run(run_id)
    if summary is None:
        raise NotFound(f"no run {run_id!r}")
    return ApiResponse(200, summary.wire())


def webhook_handler(
    secrets: Mapping[str, SecretStr] | None = None, tolerance_seconds: int | None = None
) -> Handler:
    """POST /api/webhooks/{source}, with secrets and tolerance from settings unless given."""

    @guarded
    async def post_webhook(request: ApiRequest, backend: Backend) -> ApiResponse:
        settings = get_settings()
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
        accepted = await backend.submit(payload.action, "webhook", payload.rotate_keys, verified.delivery_id)
        return ApiResponse(202, accepted.wire(), {"Location": accepted.status_url})

    return post_webhook


post_webhook = webhook_handler()

# (method, path template) -> handler; templates use {name} for one path segment.
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/api/dataspace", get_dataspace),
    ("GET", "/api/dataspace/plan", get_plan),
    ("POST", "/api/dataspace/{action}", post_command),
    ("GET", "/api/runs", list_runs),
    ("GET", "/api/runs/{id}", get_run),
    ("POST", "/api/webhooks/{source}", post_webhook),
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


async def dispatch(request: ApiRequest, backend: Backend) -> ApiResponse:
    """Route by method and path (literal routes before parameter ones)."""
    allowed: list[str] = []
    for method, template, handler in ROUTES:
        params = _match(template, request.path)
        if params is None:
            continue
        if method != request.method.upper():
            allowed.append(method)
            continue
        request.route_params = {**params, **request.route_params}
        return await handler(request, backend)
    if allowed:
        return ApiResponse(
            405, ErrorBody(error=f"{request.method} not allowed on {request.path[:200]}; use {', '.join(allowed)}").wire(),
            {"Allow": ", ".join(sorted(set(allowed)))},
        )
    return error(404, f"no API route {request.path[:200]!r}")
