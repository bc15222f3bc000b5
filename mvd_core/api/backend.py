"""What the HTTP handlers need from a host, and the Azure Functions implementation.

The local host (``mvd serve``) implements ``Backend`` over its engine; ``FunctionsBackend``
implements it over the run registry, the command queue and a Durable client."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

from mvd_core.api.models import (
    Action,
    DataspaceView,
    RunAccepted,
    RunSummary,
    Source,
)
from mvd_core.commands import CommandQueue, CommandRequest, RunRegistry, release_if_ended, submit
from mvd_core.commands.handler import Starter
from mvd_core.commands.registry import DELIVERY_TTL
from mvd_core.logs import get_logger

log = get_logger(__name__)


@runtime_checkable
class Backend(Protocol):
    dataspace: Any  # mvd_core.dataspace.Dataspace: the blueprint the host serves

    async def submit(
        self, action: Action, source: Source, rotate_keys: list[str], delivery_id: str | None = None
    ) -> RunAccepted:
        """Start (or join) the dataspace's run. The handlers have checked ``rotate_keys``
        against ``dataspace`` (``handlers._known_participants``) before they call this."""

    async def get_run(self, run_id: str) -> RunSummary | None: ...

    async def list_runs(self, limit: int) -> list[RunSummary]:
        """Newest first."""

    async def dataspace_view(self) -> DataspaceView: ...

    async def plan(self) -> dict[str, Any]: ...

    async def remember_delivery(self, source: str, delivery_id: str, ttl: timedelta = DELIVERY_TTL) -> bool:
        """True the first time a webhook delivery id is seen for a source."""

    async def forget_delivery(self, source: str, delivery_id: str) -> None:
        """Forget a delivery that was refused after it was remembered, so it can come again."""


class FunctionsBackend:
    """Backend for the Functions app. Blocking storage calls run in worker threads."""

    def __init__(self, client: Starter, registry: RunRegistry, queue: CommandQueue, dataspace: Any) -> None:
        self.client = client
        self.registry = registry
        self.queue = queue
        self.dataspace = dataspace  # mvd_core.dataspace.Dataspace

    async def submit(
        self, action: Action, source: Source, rotate_keys: list[str], delivery_id: str | None = None
    ) -> RunAccepted:
        current = await asyncio.to_thread(self.registry.current, self.dataspace.name)
        if current is not None:
            await release_if_ended(self.registry, current.id, self.client)
        request = CommandRequest(
            action=action, dataspace=self.dataspace.name, source=source,
            rotate_keys=list(dict.fromkeys(rotate_keys)), delivery_id=delivery_id,
        )
        return await asyncio.to_thread(submit, request, self.registry, self.queue)

    async def get_run(self, run_id: str) -> RunSummary | None:
        record = await asyncio.to_thread(self.registry.get, run_id)
        if record is None:
            return None
        summary = record.to_summary()
        if record.finished:
            return summary
        if await release_if_ended(self.registry, run_id, self.client):
            record = await asyncio.to_thread(self.registry.get, run_id)
            return record.to_summary() if record else None
        # Live progress: the orchestrator's custom status, and its children's.
        from mvd_core import service

        status = await self.client.get_status(run_id)
        return await service.live_progress(summary, getattr(status, "custom_status", None), self._custom_status)

    async def _custom_status(self, instance_id: str) -> Any:
        return getattr(await self.client.get_status(instance_id), "custom_status", None)

    async def list_runs(self, limit: int) -> list[RunSummary]:
        records = await asyncio.to_thread(self.registry.list, limit, self.dataspace.name)
        return [r.to_summary() for r in records]

    async def dataspace_view(self) -> DataspaceView:
        from mvd_core import service  # the lead's service layer; imported late on purpose

        view = await service.dataspace_view(self.dataspace, self.registry)
        if view.current_run is not None:
            live = await self.get_run(view.current_run.id)
            view = view.model_copy(update={"current_run": live})
        return view

    async def plan(self) -> dict[str, Any]:
        from mvd_core import service

        return await service.plan(self.dataspace)

    async def remember_delivery(self, source: str, delivery_id: str, ttl: timedelta = DELIVERY_TTL) -> bool:
        return await asyncio.to_thread(self.registry.remember_delivery, source, delivery_id, ttl)

    async def forget_delivery(self, source: str, delivery_id: str) -> None:
        await asyncio.to_thread(self.registry.forget_delivery, source, delivery_id)
