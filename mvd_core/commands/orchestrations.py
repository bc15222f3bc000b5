"""The orchestration port: all that commands and the backend need from Durable Functions.

Start an orchestration, read its runtime status, read its custom status. Two adapters: the
Durable Functions client on the Azure host (``blueprints/_runtime.py``) and the local engine
(``mvd_core.host.local``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

# Durable's runtime statuses of an instance that will not run again.
ENDED = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


@dataclass(frozen=True)
class Status:
    """An orchestration instance's state as Durable names it."""

    runtime_status: str  # "Pending", "Running", "Completed", "Failed", "Terminated", ...
    error: str | None = None  # why it failed, when the host says

    @property
    def ended(self) -> bool:
        return self.runtime_status in ENDED


@runtime_checkable
class Orchestrations(Protocol):
    async def start(self, name: str, instance_id: str, input: dict[str, Any]) -> None:
        """Start orchestration ``name`` as ``instance_id``; one that is there already stays as it is."""

    async def status(self, instance_id: str) -> Status | None:
        """The instance's state; None when there is no such instance."""

    async def custom_status(self, instance_id: str) -> Any:
        """What the instance last published with ``set_custom_status`` (None: nothing, or no instance)."""
