"""The local host's state read without its engine: what `mvd runs` and `mvd status` show when
no `mvd serve` answers at ``MVD_PUBLIC_URL``/``MVD_PORT``.

Read-only SQLite connections to ``registry.db`` (runs, the current run, poison commands) and
``engine.db`` (a running run's live steps): nothing is created, locked or started, so it
works beside a `mvd serve` of the same ``MVD_HOME`` on another port, or with none running.
"""

from __future__ import annotations

import asyncio

from mvd_core import service
from mvd_core.api.models import DataspaceView, RunSummary
from mvd_core.dataspace import Dataspace, load_targeted
from mvd_core.commands import SqliteRunRegistry
from mvd_core.engine import read_status
from mvd_core.settings import Settings


class LocalReader:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.blueprint: Dataspace = load_targeted(settings)
        self.registry = SqliteRunRegistry.in_home(settings.home, readonly=True)
        self.engine_db = settings.home / "engine.db"
        self.description = f"{settings.home} (read from disk: no server answers at {settings.base_url})"

    def runs(self, limit: int) -> list[RunSummary]:
        return [r.to_summary() for r in self.registry.list(limit, self.blueprint.name)]

    def run(self, run_id: str) -> RunSummary | None:
        """A run as the API shows it, with its live steps while it runs."""
        return service.local_run(self.registry, run_id, lambda instance_id: read_status(self.engine_db, instance_id))

    def dataspace(self) -> DataspaceView:
        view = asyncio.run(service.dataspace_view(self.blueprint, self.registry))
        if view.current_run is not None:
            view = view.model_copy(update={"current_run": self.run(view.current_run.id)})
        return view

    def close(self) -> None:
        """Nothing to release: every read opened and closed its own connection."""
