"""The typed spec of one EDC runtime process: settings, API ports, secrets by vault alias, memory, start order."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mvd_core.runtimes.kinds import RuntimeKind


class ApiEndpoint(BaseModel):
    """One EDC web context (``web.http.<name>.port`` / ``.path``; ``default`` is ``web.http.port``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    port: int = Field(ge=1, le=65535)
    path: str


class RuntimeSpec(BaseModel):
    """What one runtime process is: its EDC settings (never a secret value), APIs, secrets and order.

    ``name`` is unique within the participant (``connector``, ``identityhub``, ``catalog``,
    ``dataplane-0``...); ``secrets`` maps a vault alias to a description of what it holds;
    ``start_after`` names the runtimes of the same participant that must be ready first.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    participant: str
    name: str
    kind: RuntimeKind
    settings: dict[str, str]
    apis: dict[str, ApiEndpoint]
    secrets: dict[str, str] = Field(default_factory=dict)
    readiness_path: str = "/api/check/readiness"
    heap_mb: int = Field(320, ge=32)
    start_after: list[str] = Field(default_factory=list)

    def url(self, api: str) -> str:
        """The base URL of one of this runtime's APIs, e.g. ``url("management")``."""
        endpoint = self.apis[api]
        return f"http://localhost:{endpoint.port}{endpoint.path}"

    @property
    def readiness_url(self) -> str:
        """Where the runtime answers 200 once every component is ready (on the default context)."""
        return f"http://localhost:{self.apis['default'].port}{self.readiness_path}"
