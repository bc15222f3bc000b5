"""The one backend both hosts answer through (the HTTP handlers, the CLI, the timers): commands
through the run registry and a command queue, runs with their live progress, the dataspace
view and the plan.

What differs between the hosts is the orchestration port (``mvd_core.commands.Orchestrations``)
and the queue: on Azure the Durable Functions client and the ``mvd-commands`` storage queue, on
`mvd serve` the local engine, which the queue hands commands to directly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from mvd_core.api import endpoints as addresses
from mvd_core.api import participants as joining
from mvd_core.api import views
from mvd_core.api.models import DataspaceView, EndpointsView, ParticipantList
from mvd_core.commands import CommandQueue, CommandRequest, Orchestrations, release_if_ended, submit
from mvd_core.dataspace import Dataspace
from mvd_core.errors import MvdError
from mvd_core.runs import DELIVERY_TTL, Action, ParticipantProgress, RunAccepted, RunRegistry, RunSummary, Source
from mvd_core.settings import get_settings
from mvd_core.workflow import seed


class Backend:
    """``queue`` None: a backend that only reads (`mvd runs`, `mvd status` from disk), so it
    neither submits nor releases a run whose orchestration ended without recording it."""

    def __init__(
        self,
        dataspace: Dataspace,
        registry: RunRegistry,
        orchestrations: Orchestrations,
        reset_schedule: Callable[[], str],
        queue: CommandQueue | None = None,
        next_reset: Callable[[], datetime | None] | None = None,
    ) -> None:
        self.dataspace = dataspace
        self.registry = registry
        self.orchestrations = orchestrations
        self.reset_schedule = reset_schedule  # the host's nightly reset, described as GET /api/dataspace shows it
        self.queue = queue
        self.next_reset = next_reset or (lambda: None)  # when the nightly reset next runs (None: unknown)

    async def submit(
        self, action: Action, source: Source, rotate_keys: list[str], delivery_id: str | None = None
    ) -> RunAccepted:
        """Start (or join) the dataspace's run; RunInProgress (409) for a different command
        while a run is going."""
        if self.queue is None:
            raise MvdError("this control plane only reads its state; start `mvd serve` to run commands")
        for pid in rotate_keys:
            self.dataspace.participant(pid)  # NotFound names it and the known ids
        current = await asyncio.to_thread(self.registry.current, self.dataspace.name)
        if current is not None:
            await release_if_ended(self.registry, current.id, self.orchestrations)
        request = CommandRequest(
            action=action,
            dataspace=self.dataspace.name,
            source=source,
            rotate_keys=list(dict.fromkeys(rotate_keys)),
            delivery_id=delivery_id,
        )
        return await asyncio.to_thread(submit, request, self.registry, self.queue)

    async def get_run(self, run_id: str) -> RunSummary | None:
        """A run as the API shows it: its record, with live progress while it runs."""
        record = await asyncio.to_thread(self.registry.get, run_id)
        if record is None:
            return None
        if record.finished:
            return record.to_summary()
        if self.queue is not None and await release_if_ended(self.registry, run_id, self.orchestrations):
            record = await asyncio.to_thread(self.registry.get, run_id)
            return record.to_summary() if record else None
        return await self._live(record.to_summary())

    async def _live(self, summary: RunSummary) -> RunSummary:
        """A running run's per-participant progress: each participant sub-orchestrator publishes
        its own steps as custom status; the parent lists the children's instance ids."""
        parent = await self.orchestrations.custom_status(summary.id)
        if not isinstance(parent, dict):
            return summary
        children = parent.get("children") or {}
        progress: dict[str, ParticipantProgress] = {}
        for pid, raw in (parent.get("participants") or {}).items():
            status = raw
            if pid in children:
                status = await self.orchestrations.custom_status(children[pid]) or raw
            try:
                progress[pid] = ParticipantProgress.model_validate(status)
            except ValidationError:
                progress[pid] = ParticipantProgress(participant=pid)
        return summary.model_copy(update={"participants": progress, "status": "running"})

    async def list_runs(self, limit: int) -> list[RunSummary]:
        """Newest first."""
        records = await asyncio.to_thread(self.registry.recent, limit, self.dataspace.name)
        return [r.to_summary() for r in records]

    async def dataspace_view(self) -> DataspaceView:
        view = await views.dataspace_view(self.dataspace, self.registry, self.reset_schedule())
        if view.current_run is not None:
            view = view.model_copy(update={"current_run": await self.get_run(view.current_run.id)})
        return view

    async def plan(self) -> dict[str, Any]:
        return await views.plan(self.dataspace)

    async def participant_list(self) -> ParticipantList:
        return await asyncio.to_thread(addresses.participant_list, self.dataspace, get_settings())

    async def endpoints(self) -> EndpointsView:
        return await asyncio.to_thread(addresses.endpoints, self.dataspace, get_settings())

    async def dataset(self, participant_id: str, dataset_id: str, key: str | None) -> seed.DatasetAnswer:
        """A seeded offer's bytes for the caller presenting the participant's data-source key."""
        return await asyncio.to_thread(
            seed.serve_dataset, self.dataspace, participant_id, dataset_id, key, get_settings()
        )

    async def participants(self) -> joining.ParticipantsView:
        """Seed and onboarded participants, with when each joined and when the next reset removes it."""
        return await asyncio.to_thread(
            joining.participants, self.dataspace, get_settings(), await asyncio.to_thread(self.next_reset)
        )

    async def join(self, body: bytes, source_address: str) -> tuple[int, joining.JoinAnswer]:
        """A newcomer's join: its checks, and the participant when every one passed."""
        return await asyncio.to_thread(
            joining.join, self.dataspace, get_settings(), body, source_address, self.next_reset
        )

    async def leave(self, who: str) -> joining.LeaveAnswer:
        return await asyncio.to_thread(joining.leave, self.dataspace, get_settings(), who)

    async def invite(self, body: bytes) -> joining.InviteAnswer:
        return await asyncio.to_thread(joining.invite, get_settings(), body)

    async def remember_delivery(self, source: str, delivery_id: str, ttl: timedelta = DELIVERY_TTL) -> bool:
        """True the first time a webhook delivery id is seen for a source."""
        return await asyncio.to_thread(self.registry.remember_delivery, source, delivery_id, ttl)

    async def forget_delivery(self, source: str, delivery_id: str) -> None:
        """Forget a delivery that was refused after it was remembered, so it can come again."""
        await asyncio.to_thread(self.registry.forget_delivery, source, delivery_id)
