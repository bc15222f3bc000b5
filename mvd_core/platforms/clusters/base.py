"""The one interface every cluster source implements.

Ensuring a cluster can take many minutes (AKS). ``begin_ensure`` starts the work and returns
at once; the caller (an orchestrator with durable timers) sleeps ``poll_after_seconds`` and
calls ``poll(token)`` until ``done``. No call holds a worker while the cloud works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from mvd_core.errors import NotFound

if TYPE_CHECKING:
    from kubernetes import client as k8s


class ClusterMissing(NotFound):
    """The cluster does not exist (yet): a plan shows everything as to be created."""


class ClusterOperation(BaseModel):
    done: bool
    poll_after_seconds: float = 0.0
    token: str | None = None
    kind: str
    simulated: bool = False
    description: str


class VaultIdentity(BaseModel):
    """The managed identity a participant's runtimes read its Key Vault with (workload identity)."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    tenant_id: str
    principal_id: str


@runtime_checkable
class ClusterSource(Protocol):
    kind: str
    simulated: bool

    def describe(self) -> str:
        """One line for people: what the cluster is, and whether it is simulated."""
        ...

    def begin_ensure(self) -> ClusterOperation:
        """Create or find the cluster (idempotent); ``done`` or a token to ``poll``."""
        ...

    def poll(self, token: str) -> ClusterOperation:
        """One non-blocking look at an operation ``begin_ensure`` or ``delete`` started."""
        ...

    def api_client(self) -> k8s.ApiClient:
        """A kubernetes client for the cluster (credentials kept in memory)."""
        ...

    def delete(self) -> ClusterOperation:
        """Remove the cluster where the control plane owns it; a no-op otherwise."""
        ...
