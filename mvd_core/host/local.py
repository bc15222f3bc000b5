"""The local host: the orchestrators on the local engine, commands through the run registry,
and the ``Backend`` the HTTP API and the CLI use. ``mvd serve`` and ``mvd up`` run one."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from mvd_core.api.models import Action, DataspaceView, RunAccepted, RunSummary, Source
from mvd_core.dataspace import Dataspace, load_targeted
from mvd_core.dataspace.models import Schedule
from mvd_core.commands import (
    CallbackCommandQueue,
    Command,
    CommandRequest,
    SqliteRunRegistry,
    submit,
)
from mvd_core.commands.registry import DELIVERY_TTL
from mvd_core.engine import Engine
from mvd_core.logs import get_logger, log_context
from mvd_core.host.schedule import reset_schedule
from mvd_core.settings import Settings
from mvd_core.state import private_dir
from mvd_core.workflow.catalog import ACTIVITIES, ORCHESTRATORS
from mvd_core.workflow.functions import DATASPACE_ORCHESTRATOR

log = get_logger(__name__)


class LocalHost:
    """Engine + registry + command path for one dataspace. ``start()`` resumes any run a
    crash interrupted; ``stop()`` lets running activities finish."""

    def __init__(self, settings: Settings, *, workers: int = 4) -> None:
        self.settings = settings
        private_dir(settings.home)
        self.dataspace: Dataspace = load_targeted(settings)
        self.engine = Engine(settings.home / "engine.db", ORCHESTRATORS, ACTIVITIES, workers=workers)
        self.registry = SqliteRunRegistry.in_home(settings.home)
        self.queue = CallbackCommandQueue(self._start_run)
        self.backend = LocalBackend(self)

    def reset_schedule(self) -> Schedule:
        """When the nightly reset runs: what the Functions timer reads too (``mvd_core.host.schedule``)."""
        return reset_schedule(self.dataspace, self.settings)

    def start(self) -> None:
        self.engine.start()
        self.reconcile(starting=True)

    def stop(self) -> None:
        self.engine.stop()

    def _start_run(self, command: Command) -> None:
        self.engine.start_singleton(DATASPACE_ORCHESTRATOR, command.run_id, command.wire())
        self.registry.mark_running(command.run_id)

    def reconcile(self, *, starting: bool = False) -> None:
        """Make the registry agree with the engine: a claimed run whose orchestration ended
        without recording itself is closed. Only at start-up (``starting``), when no submit
        can be between its claim and its start, is a claimed run with no orchestration closed
        too: the process stopped before starting it."""
        current = self.registry.current(self.dataspace.name)
        if current is None or current.finished:
            return
        status = self.engine.get_status(current.id)
        with log_context(run_id=current.id):
            if status is None and starting:
                log.warning("run was claimed but never started; marking it failed")
                self.registry.fail(current.id, "the control plane stopped before the run started")
            elif status is not None and status.is_terminal:
                log.warning("run ended as %s without a record; closing it", status.runtime_status.value)
                self.registry.fail(current.id, status.error or f"orchestration {status.runtime_status.value.lower()}")

    def submit(self, action: Action, source: Source, rotate_keys: list[str] | None = None,
               delivery_id: str | None = None) -> RunAccepted:
        for pid in rotate_keys or []:
            self.dataspace.participant(pid)  # NotFound names it and the known ids
        self.reconcile()
        request = CommandRequest(action=action, dataspace=self.dataspace.name, source=source,
                                 rotate_keys=list(dict.fromkeys(rotate_keys or [])), delivery_id=delivery_id)
        return submit(request, self.registry, self.queue)

    def run(self, run_id: str) -> RunSummary | None:
        """A run as the API shows it: its record, with live progress while it runs."""
        from mvd_core import service

        return service.local_run(self.registry, run_id, self.engine.get_status)

    def wait(self, run_id: str, timeout: float) -> RunSummary | None:
        self.engine.wait_for_completion(run_id, timeout)
        return self.run(run_id)


class LocalBackend:
    """``mvd_core.api.backend.Backend`` over a ``LocalHost``."""

    def __init__(self, host: LocalHost) -> None:
        self.host = host

    @property
    def dataspace(self) -> Dataspace:
        return self.host.dataspace

    async def submit(self, action: Action, source: Source, rotate_keys: list[str],
                     delivery_id: str | None = None) -> RunAccepted:
        return await asyncio.to_thread(self.host.submit, action, source, rotate_keys, delivery_id)

    async def get_run(self, run_id: str) -> RunSummary | None:
        return await asyncio.to_thread(self.host.run, run_id)

    async def list_runs(self, limit: int) -> list[RunSummary]:
        records = await asyncio.to_thread(self.host.registry.list, limit, self.host.dataspace.name)
        return [r.to_summary() for r in records]

    async def dataspace_view(self) -> DataspaceView:
        from mvd_core import service

        view = await service.dataspace_view(self.host.dataspace, self.host.registry)
        if view.current_run is not None:
            live = await self.get_run(view.current_run.id)
            view = view.model_copy(update={"current_run": live})
        return view

    async def plan(self) -> dict[str, Any]:
        from mvd_core import service

        return await service.plan(self.host.dataspace)

    async def remember_delivery(self, source: str, delivery_id: str, ttl: timedelta = DELIVERY_TTL) -> bool:
        return await asyncio.to_thread(self.host.registry.remember_delivery, source, delivery_id, ttl)

    async def forget_delivery(self, source: str, delivery_id: str) -> None:
        await asyncio.to_thread(self.host.registry.forget_delivery, source, delivery_id)
