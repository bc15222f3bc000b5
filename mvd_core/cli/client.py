"""How the CLI reaches the control plane: a running `mvd serve` over HTTP, or an in-process
local host (engine + the HTTP server for local DID documents) for one command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from mvd_core.api.models import DataspaceView, EndpointsView
from mvd_core.api.participants import ParticipantsView
from mvd_core.errors import ExternalError, MvdError
from mvd_core.runs import Action, RunAccepted, RunSummary
from mvd_core.settings import Settings

if TYPE_CHECKING:  # imported when an in-process control plane starts
    from mvd_core.host.local import LocalHost
    from mvd_core.host.recovery import Recovery
    from mvd_core.server import Server


class Reader(Protocol):
    """What the read commands (`mvd runs`, `mvd status`) need."""

    description: str

    def run(self, run_id: str) -> RunSummary | None: ...
    def runs(self, limit: int) -> list[RunSummary]: ...
    def dataspace(self) -> DataspaceView: ...
    def endpoints(self) -> EndpointsView: ...
    def participants(self) -> ParticipantsView: ...
    def close(self) -> None: ...


class ControlPlane(Protocol):
    description: str

    def submit(self, action: Action, rotate_keys: list[str]) -> RunAccepted: ...
    def run(self, run_id: str) -> RunSummary | None: ...
    def wait_change(self, run_id: str, timeout: float) -> RunSummary | None: ...
    def runs(self, limit: int) -> list[RunSummary]: ...
    def dataspace(self) -> DataspaceView: ...
    def close(self) -> None: ...


def _why(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "--api must be an http:// or https:// URL"
    if isinstance(exc, httpx.ConnectError):
        return "nothing answers there (is `mvd serve` running, on that port?)"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer within 30 s"
    return type(exc).__name__


class RemoteControlPlane:
    """A `mvd serve` (or the Functions app) over its HTTP API."""

    def __init__(self, base_url: str, token: str | None) -> None:
        headers = {"X-MVD-Source": "cli", **({"Authorization": f"Bearer {token}"} if token else {})}
        self.description = base_url
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=30.0)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ExternalError(f"cannot reach the control plane at {self.description}: {_why(exc)}") from None
        if resp.status_code >= 400:
            try:
                message = resp.json().get("error") or resp.text
            except ValueError:
                message = resp.text[:200]
            raise MvdError(f"{self.description}: {resp.status_code} {message}", status=resp.status_code)
        return resp.json()

    def submit(self, action: Action, rotate_keys: list[str]) -> RunAccepted:
        body = {"rotateKeys": rotate_keys} if rotate_keys else {}
        return RunAccepted.model_validate(self._call("POST", f"/api/dataspace/{action}", json=body))

    def run(self, run_id: str) -> RunSummary | None:
        return RunSummary.model_validate(self._call("GET", f"/api/runs/{run_id}"))

    def wait_change(self, run_id: str, timeout: float) -> RunSummary | None:
        import time

        time.sleep(min(timeout, 0.5))  # the HTTP API has no long-poll; a short refresh interval
        return self.run(run_id)

    def runs(self, limit: int) -> list[RunSummary]:
        data = self._call("GET", "/api/runs", params={"limit": limit})
        items = data["runs"] if isinstance(data, dict) else data
        return [RunSummary.model_validate(r) for r in items]

    def dataspace(self) -> DataspaceView:
        return DataspaceView.model_validate(self._call("GET", "/api/dataspace"))

    def endpoints(self) -> EndpointsView:
        return EndpointsView.model_validate(self._call("GET", "/api/dataspace/endpoints"))

    def participants(self) -> ParticipantsView:
        return ParticipantsView.model_validate(self._call("GET", "/api/participants"))

    def close(self) -> None:
        self._http.close()


class InProcessControlPlane:
    """A local host run by this process, with the HTTP server up so local DIDs resolve."""

    def __init__(
        self, host: LocalHost, server: Server, token: str, token_created: bool, recovery: Recovery | None = None
    ) -> None:
        self.host, self.server = host, server
        self.token, self.token_created = token, token_created
        self.description = f"in-process ({host.settings.home})"
        self.recovery = recovery  # what a start with recover=True found of the runtimes

    @classmethod
    def start(cls, settings: Settings, *, recover: bool = False) -> InProcessControlPlane:
        """``recover``: for `mvd serve`/`mvd up`, adopt or restart the recorded runtimes before
        the engine resumes an interrupted run (``mvd_core.host.recovery``)."""
        from mvd_core.host import recovery
        from mvd_core.host import token as api_token
        from mvd_core.host.local import LocalHost
        from mvd_core.server import Server

        host = LocalHost(settings)
        token, created = api_token.load_or_create(settings)
        server = Server(host, token)
        server.start()
        found = recovery.restart_runtimes(host) if recover else None
        host.start()
        return cls(host, server, token, created, found)

    def submit(self, action: Action, rotate_keys: list[str]) -> RunAccepted:
        return self.host.submit(action, "cli", rotate_keys)

    def run(self, run_id: str) -> RunSummary | None:
        return self.host.run(run_id)

    def wait_change(self, run_id: str, timeout: float) -> RunSummary | None:
        before = self.host.engine.get_status(run_id)
        stamp = before.last_updated_at if before else None
        self.host.engine.wait_until(run_id, lambda s: s.last_updated_at != stamp, timeout) if before else None
        return self.host.run(run_id)

    def runs(self, limit: int) -> list[RunSummary]:
        return [r.to_summary() for r in self.host.registry.recent(limit, self.host.dataspace.name)]

    def dataspace(self) -> DataspaceView:
        import asyncio

        return asyncio.run(self.host.backend.dataspace_view())

    def close(self) -> None:
        self.host.stop()
        self.server.stop()


def server_running(settings: Settings, base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def connect(settings: Settings, api: str | None) -> ControlPlane:
    """``--api URL`` when given; else the local server if one is running; else in-process."""
    from mvd_core.host import token as api_token

    if api:
        return RemoteControlPlane(api, api_token.read(settings))
    local = settings.base_url
    if server_running(settings, local):
        return RemoteControlPlane(local, api_token.read(settings))
    return InProcessControlPlane.start(settings)


@contextmanager
def reader(settings: Settings, api: str | None) -> Iterator[Reader]:
    """``with reader(settings, api) as source``: ``--api URL`` when given; else the local
    server if one is running; else the state under ``MVD_HOME`` read from disk, with no engine
    (so beside a server on another port too). Closed when the block ends, however it ends."""
    from mvd_core.host import token as api_token
    from mvd_core.host.reader import LocalReader

    source: Reader
    if api:
        source = RemoteControlPlane(api, api_token.read(settings))
    elif server_running(settings, settings.base_url):
        source = RemoteControlPlane(settings.base_url, api_token.read(settings))
    else:
        source = LocalReader(settings)
    try:
        yield source
    finally:
        source.close()
