"""The run registry: which run is current per dataspace (the singleton claim), the run index,
poison commands and webhook delivery ids. Two stores keep it: SQLite locally
(``sqlite_registry``), Table Storage on Azure (``table_registry``); ``open_registry`` picks one.

``claim`` is the only way a run comes into being; it is atomic, so any number of concurrent
callers for one dataspace get exactly one new run and all of them learn its id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from mvd_core.runs.models import Action, PoisonCommand, RunRecord, RunSummary, Source

DELIVERY_TTL = timedelta(hours=24)


@runtime_checkable
class RunRegistry(Protocol):
    def claim(
        self, dataspace: str, run_id: str, action: Action, source: Source, rotate_keys: list[str] | None = None
    ) -> tuple[str, bool]:
        """Make ``run_id`` the dataspace's current run unless an unfinished one exists.

        Returns ``(current_run_id, created)``; ``created`` is False when the answer is a run
        that was already going (``submit`` then compares the commands)."""

    def add_coalesced(self, run_id: str) -> None:
        """Count one more command answered with this run."""

    def mark_running(self, run_id: str) -> None:
        """The orchestration has started (pending -> running; finished runs stay finished)."""

    def finish(self, run_id: str, summary: RunSummary) -> None:
        """Record the outcome and release the dataspace's claim. Idempotent."""

    def fail(self, run_id: str, reason: str) -> None:
        """Mark a run failed without a summary (e.g. its command was poisoned). Idempotent."""

    def get(self, run_id: str) -> RunRecord | None: ...

    def recent(self, limit: int = 20, dataspace: str | None = None) -> list[RunRecord]:
        """The latest ``limit`` runs (of ``dataspace``, or of all), newest first."""

    def current(self, dataspace: str) -> RunRecord | None:
        """The dataspace's unfinished run, if any."""

    def record_poison(self, poison: PoisonCommand) -> None:
        """Keep a command that could not be processed (same id twice -> one entry)."""

    def list_poison(self, limit: int = 20) -> list[PoisonCommand]:
        """Newest first."""

    def remember_delivery(self, source: str, delivery_id: str, ttl: timedelta = DELIVERY_TTL) -> bool:
        """True the first time (source, delivery_id) is seen within ``ttl``; False for a replay."""

    def forget_delivery(self, source: str, delivery_id: str) -> None:
        """Undo ``remember_delivery`` for a delivery that was refused after it (its command
        conflicted with the running one), so the sender can deliver it again."""


def stored_record(row: Mapping[str, Any]) -> RunRecord:
    """A run as both stores keep it: dates as ISO text, the summary and the keys to rotate as JSON."""
    return RunRecord(
        id=row["id"],
        dataspace=row["dataspace"],
        action=row["action"],
        source=row["source"],
        status=row["status"],
        created_at=datetime.fromisoformat(row["created_at"]),
        finished_at=datetime.fromisoformat(row["finished_at"]) if row.get("finished_at") else None,
        coalesced=int(row.get("coalesced") or 0),
        error=row.get("error"),
        summary=json.loads(row["summary"]) if row.get("summary") else None,
        # a registry written before rotate_keys was recorded has no such column
        rotate_keys=json.loads(row["rotate_keys"]) if row.get("rotate_keys") else [],
    )


def account_url(account: str, service: str) -> str:
    """The endpoint of a storage account's ``service`` ("table", "queue")."""
    return f"https://{account}.{service}.core.windows.net"
