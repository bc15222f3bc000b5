"""The local host: the orchestrators on the local engine, commands through the run registry,
and the one ``Backend`` (``mvd_core.api.backend``) over the engine, which the HTTP API and the
CLI use. ``mvd serve`` and ``mvd up`` run one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from mvd_core.api.backend import Backend
from mvd_core.commands import CallbackCommandQueue, Command, Status, release_if_ended, start_run
from mvd_core.dataspace import Dataspace, load_targeted
from mvd_core.dataspace.models import Schedule
from mvd_core.engine import Engine, InstanceStatus
from mvd_core.host.schedule import describe, next_fire, reset_schedule
from mvd_core.logs import get_logger, log_context
from mvd_core.runs import Action, RunAccepted, RunSummary, Source, SqliteRunRegistry, notify
from mvd_core.settings import Settings
from mvd_core.state import private_dir
from mvd_core.workflow.catalog import ACTIVITIES, ORCHESTRATORS

log = get_logger(__name__)


class EngineOrchestrations:
    """The orchestration port (``mvd_core.commands.Orchestrations``) over the local engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def read(self, instance_id: str) -> InstanceStatus | None:
        return self.engine.get_status(instance_id)

    async def start(self, name: str, instance_id: str, input: dict[str, Any]) -> None:
        await asyncio.to_thread(self.engine.start_singleton, name, instance_id, input)

    async def status(self, instance_id: str) -> Status | None:
        found = await asyncio.to_thread(self.read, instance_id)
        return None if found is None else Status(runtime_status=found.runtime_status.value, error=found.error)

    async def custom_status(self, instance_id: str) -> Any:
        found = await asyncio.to_thread(self.read, instance_id)
        return None if found is None else found.custom_status


class LocalHost:
    """Engine + registry + command path for one dataspace. ``start()`` resumes any run a
    crash interrupted; ``stop()`` lets running activities finish."""

    def __init__(self, settings: Settings, *, workers: int = 4) -> None:
        self.settings = settings
        private_dir(settings.home)
        self.dataspace: Dataspace = load_targeted(settings)
        self.engine = Engine(settings.home / "engine.db", ORCHESTRATORS, ACTIVITIES, workers=workers)
        self.registry = SqliteRunRegistry.in_home(settings.home)
        self.orchestrations = EngineOrchestrations(self.engine)
        self.queue = CallbackCommandQueue(self._start_run)
        self.backend = Backend(
            self.dataspace,
            self.registry,
            self.orchestrations,
            self.described_schedule,
            queue=self.queue,
            next_reset=self.next_reset,
        )

    def reset_schedule(self) -> Schedule:
        """When the nightly reset runs: what the Functions timer reads too (``mvd_core.host.schedule``)."""
        return reset_schedule(self.dataspace, self.settings)

    def next_reset(self) -> datetime:
        """When the nightly reset next runs (it removes every onboarded participant)."""
        schedule = self.reset_schedule()
        return next_fire(schedule.reset, schedule.timezone, datetime.now(UTC))

    def described_schedule(self) -> str:
        return describe(self.reset_schedule(), self.settings)

    def start(self) -> None:
        """Start the engine, and close the current run if it cannot go on: claimed but never
        started (the process stopped between the two), or its orchestration ended without
        recording it."""
        self.engine.start()
        current = self.registry.current(self.dataspace.name)
        if current is None:
            return
        with log_context(run_id=current.id):
            if self.engine.get_status(current.id) is None:
                log.warning("run was claimed but never started; marking it failed")
                notify.fail_run(self.registry, current.id, "the control plane stopped before the run started")
            else:
                asyncio.run(release_if_ended(self.registry, current.id, self.orchestrations))

    def stop(self) -> None:
        self.engine.stop()

    def _start_run(self, command: Command) -> None:
        """The local queue: start the run's orchestration on the engine right away."""
        asyncio.run(start_run(command, self.orchestrations, self.registry))

    def submit(
        self, action: Action, source: Source, rotate_keys: list[str] | None = None, delivery_id: str | None = None
    ) -> RunAccepted:
        """``Backend.submit`` for a caller without an event loop (the CLI, the scheduler)."""
        return asyncio.run(self.backend.submit(action, source, rotate_keys or [], delivery_id))

    def run(self, run_id: str) -> RunSummary | None:
        """A run as the API shows it: its record, with live progress while it runs."""
        return asyncio.run(self.backend.get_run(run_id))

    def wait(self, run_id: str, timeout: float) -> RunSummary | None:
        self.engine.wait_for_completion(run_id, timeout)
        return self.run(run_id)
