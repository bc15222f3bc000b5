"""The local host's state read without its engine: what `mvd runs`, `mvd status` and
`mvd endpoints` show when no `mvd serve` answers at ``MVD_PUBLIC_URL``/``MVD_PORT``.

The one ``Backend`` over read-only SQLite connections to ``registry.db`` (runs, the current
run, poison commands) and ``engine.db`` (a running run's live steps): nothing is created,
locked or started, so it works beside a `mvd serve` of the same ``MVD_HOME`` on another port,
or with none running.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mvd_core.api.backend import Backend
from mvd_core.api.models import DataspaceView, EndpointsView
from mvd_core.api.participants import ParticipantsView
from mvd_core.dataspace import Dataspace, load_targeted
from mvd_core.engine import InstanceStatus, read_status
from mvd_core.errors import MvdError
from mvd_core.host.local import EngineOrchestrations
from mvd_core.host.schedule import describe, next_fire, reset_schedule
from mvd_core.runs import RunSummary, SqliteRunRegistry
from mvd_core.settings import Settings


class EngineFile(EngineOrchestrations):
    """The orchestration port over ``engine.db`` with no engine: statuses only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, instance_id: str) -> InstanceStatus | None:
        return read_status(self.path, instance_id)

    async def start(self, name: str, instance_id: str, input: dict[str, Any]) -> None:
        raise MvdError(f"{self.path} is read without an engine: nothing can be started")


class LocalReader:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.blueprint: Dataspace = load_targeted(settings)
        self.backend = Backend(
            self.blueprint,
            SqliteRunRegistry.in_home(settings.home, readonly=True),
            EngineFile(settings.home / "engine.db"),
            lambda: describe(reset_schedule(self.blueprint, settings), settings),
            next_reset=self.next_reset,
        )
        self.description = f"{settings.home} (read from disk: no server answers at {settings.base_url})"

    def next_reset(self) -> datetime:
        schedule = reset_schedule(self.blueprint, self.settings)
        return next_fire(schedule.reset, schedule.timezone, datetime.now(UTC))

    def participants(self) -> ParticipantsView:
        return asyncio.run(self.backend.participants())

    def runs(self, limit: int) -> list[RunSummary]:
        return asyncio.run(self.backend.list_runs(limit))

    def run(self, run_id: str) -> RunSummary | None:
        """A run as the API shows it, with its live steps while it runs."""
        return asyncio.run(self.backend.get_run(run_id))

    def dataspace(self) -> DataspaceView:
        return asyncio.run(self.backend.dataspace_view())

    def endpoints(self) -> EndpointsView:
        return asyncio.run(self.backend.endpoints())

    def close(self) -> None:
        """Nothing to release: every read opened and closed its own connection."""
