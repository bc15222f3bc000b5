"""`mvd serve`: the HTTP API, the dashboard and the local did:web documents, over the local host.

Routes: ``/api/...`` (the shared handlers; POSTs need the bearer token, webhooks their HMAC
signature instead, the participant list and a join (``POST /api/participants``) nothing), ``/dids/<participant>/.../did.json``, ``/`` (the dashboard),
``/participants/<participant>`` (its connector page), ``/healthz``;
the dataspace issuer's ``/dids/issuer/did.json``, ``POST /issuer/dcp/credentials`` (public:
holders authenticate with their DCP token) and its status list ``GET /issuer/status/membership``.
"""

from __future__ import annotations

import socket
import threading
import time
from importlib import resources
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mvd_core.api.guard import RequestGuard, http_error
from mvd_core.api.handlers import ApiRequest, dispatch, error, routes_for
from mvd_core.errors import MvdError
from mvd_core.host import security
from mvd_core.host import token as api_token
from mvd_core.host.local import LocalHost
from mvd_core.identity.document import to_bytes
from mvd_core.identity.issuer import MAX_BODY as ISSUER_MAX_BODY
from mvd_core.identity.issuer import STATUS_PATH, Issuer
from mvd_core.logs import get_logger
from mvd_core.platforms.didhosts.local import dids_root
from mvd_core.workflow import offboard

log = get_logger(__name__)

STATIC = Path(str(resources.files("mvd_core.api").joinpath("static")))
MAX_BODY = 1024 * 1024 + 1


def create_app(host: LocalHost, token: str) -> Starlette:
    root = dids_root(host.settings).resolve()
    reads_need_token = security.reads_need_token(host.settings)

    async def api(request: Request) -> Response:
        path = request.url.path
        authenticated = api_token.matches(token, request.headers.get("authorization"))
        routes = routes_for(path)
        access = next((r.access for r in routes if r.method == request.method.upper()), None)
        # Webhooks carry their HMAC signature instead of the token; a public path needs nothing
        # (another method on it is a 405, not a 401); a private route (it names local files)
        # needs the token even where reads are open.
        # A dataset's route checks the participant's data-source key itself (its data plane has no token).
        # A method's own access decides (POST /api/participants is public, GET on it a read); a
        # method the path does not take goes on to its 405.
        public = access in ("public", "data-key") or (
            access is None and any(r.access in ("public", "data-key") for r in routes)
        )
        open_read = request.method == "GET" and not reads_need_token and access != "private"
        if not authenticated and not path.startswith("/api/webhooks/") and not public and not open_read:
            why = (
                ""
                if request.method != "GET"
                else "; this one always needs it"
                if access == "private"
                else "; on this server reading needs it too (MVD_ANONYMOUS_READS)"
            )
            resp = error(401, f"missing or wrong API token (send 'Authorization: Bearer <token>'){why}")
            return JSONResponse(resp.body, resp.status, headers={"WWW-Authenticate": "Bearer"})
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                resp = error(413, "request body is larger than 1 MiB")
                return JSONResponse(resp.body, resp.status)
        result = await dispatch(
            ApiRequest(
                method=request.method,
                path=path,
                query=dict(request.query_params),
                headers=dict(request.headers),
                body=body,
                authenticated=authenticated,
                source_address=request.client.host if request.client else "",
            ),
            host.backend,
        )
        if isinstance(result.body, bytes):  # relayed data (a transfer's), with its own headers
            return Response(result.body, result.status, headers=result.headers)
        return JSONResponse(result.body, result.status, headers=result.headers)

    async def did_document(request: Request) -> Response:
        rel = request.path_params["path"]
        target = _did_file(root, rel)
        if target is None:
            return JSONResponse(
                error(404, f"no DID document at /dids/{rel[:200]}").body,
                404,
                headers={"Access-Control-Allow-Origin": "*"},
            )
        return FileResponse(
            target,
            media_type="application/did+json",
            headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"},
        )

    issuers: list[Issuer] = []  # made on first use: its key is generated then, not at every start
    issuer_lock = threading.Lock()

    def issuer() -> Issuer:
        with issuer_lock:
            if not issuers:
                # members: the seed participants and whoever onboarded (asked per request)
                issuers.append(offboard.issuer(host.dataspace, host.settings))
            return issuers[0]

    async def issuer_did(_: Request) -> Response:
        document = await run_in_threadpool(lambda: issuer().did_document())
        return Response(
            to_bytes(document),
            media_type="application/did+json",
            headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"},
        )

    async def issuer_credentials(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > ISSUER_MAX_BODY:
                break  # the issuer answers 413
        answer = await run_in_threadpool(lambda: issuer().handle_credential_request(dict(request.headers), body))
        # the holder accepts the credential only once it has our 201: deliver after answering
        return Response(
            answer.body,
            answer.status,
            headers=answer.headers,
            background=BackgroundTask(answer.job.run) if answer.job else None,
        )

    async def issuer_status(request: Request) -> Response:
        answer = await run_in_threadpool(lambda: issuer().handle_status_request(request.headers.get("accept")))
        return Response(answer.body, answer.status, headers={**answer.headers, "Access-Control-Allow-Origin": "*"})

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True, "dataspace": host.dataspace.name, "targets": host.settings.targets})

    async def index(_: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def connector_page(_: Request) -> Response:
        # One page for every participant: its script reads the id from the path and asks the API.
        return FileResponse(STATIC / "connector.html", headers={"Cache-Control": "no-cache"})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/participants/{participant}", connector_page),
            Route("/healthz", healthz),
            Route("/dids/issuer/did.json", issuer_did, methods=["GET", "HEAD"]),
            Route("/dids/{path:path}", did_document, methods=["GET", "HEAD"]),
            Route("/issuer/dcp/credentials", issuer_credentials, methods=["POST"]),
            Route(STATUS_PATH, issuer_status, methods=["GET", "HEAD"]),
            # Every method: dispatch answers one the path does not take with 405 and the right Allow.
            Route(
                "/api/{rest:path}", api, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
            ),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[
            Middleware(
                security.Exposure, allowed=security.allowed_hosts(host.settings)
            ),  # outermost: a wrong Host gets nothing else
            Middleware(RequestGuard),
        ],
        exception_handlers={HTTPException: http_error},
    )


def _did_file(root: Path, rel: str) -> Path | None:
    """The DID document file at ``rel`` under ``root``; None for anything else, including a
    name the filesystem refuses (too long, a NUL byte)."""
    if not rel.endswith("did.json"):
        return None
    try:
        target = (root / rel).resolve()
        return target if target.is_relative_to(root) and target.is_file() else None
    except (OSError, ValueError):
        return None


class Server:
    """uvicorn in a background thread, so `mvd up` can drive a run while it serves."""

    def __init__(self, host: LocalHost, token: str) -> None:
        self._settings = host.settings
        config = uvicorn.Config(
            create_app(host, token),
            host=host.settings.host,
            port=host.settings.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def _bind(self) -> socket.socket:
        """The listening socket, bound here so that a port in use is one clear error (uvicorn
        would log its own and exit the process)."""
        host, port = self._server.config.host, self._server.config.port
        try:
            family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(family, kind, proto)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError:
                sock.close()
                raise
        except OSError as exc:
            raise MvdError(
                f"could not listen on {host}:{port}: {exc.strerror or exc} (another server on that port? set MVD_PORT)"
            ) from None
        return sock

    def start(self, timeout: float = 10.0) -> None:
        sock = self._bind()
        if not security.is_loopback(self._settings.host):
            reads = (
                "every API call, reads included, needs the API token"
                if security.reads_need_token(self._settings)
                else "API reads are open to anyone who reaches it (MVD_ANONYMOUS_READS=true)"
            )
            log.warning(
                "mvd serve listens on %s:%s, which other machines can reach: %s; it answers only to %s "
                "and loopback names (MVD_PUBLIC_URL)",
                self._settings.host,
                self._settings.port,
                reads,
                self._settings.base_url,
            )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="mvd-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)  # uvicorn exposes only a flag for "listening"
        if not self._server.started:
            raise MvdError(f"the HTTP server did not start on {self._server.config.host}:{self._server.config.port}")

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
