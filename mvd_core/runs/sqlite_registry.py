"""The run registry in one SQLite file (``$MVD_HOME/registry.db``): the local host's."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from mvd_core import sqlite
from mvd_core.errors import MvdError
from mvd_core.runs.models import FINISHED, Action, PoisonCommand, RunRecord, RunSummary, Source, utcnow
from mvd_core.runs.registry import DELIVERY_TTL, stored_record

_LOST = "the run history starts empty"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    dataspace TEXT NOT NULL,
    action TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    coalesced INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    summary TEXT,
    rotate_keys TEXT
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at);
CREATE TABLE IF NOT EXISTS current_run (
    dataspace TEXT PRIMARY KEY,
    run_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS poison (
    id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    source TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (source, delivery_id)
);
"""


class SqliteRunRegistry:
    """Local registry in one SQLite file; ``BEGIN IMMEDIATE`` serialises writers across
    threads and processes."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            return  # reads only what is there: no schema, no file created
        db = self._connect()
        try:
            db.executescript(_SCHEMA)
            with sqlite.immediate(db):  # one process adds the column a registry from before it lacks
                if "rotate_keys" not in {r["name"] for r in db.execute("PRAGMA table_info(runs)")}:
                    db.execute("ALTER TABLE runs ADD COLUMN rotate_keys TEXT")
        finally:
            db.close()

    @classmethod
    def in_home(cls, home: Path, *, readonly: bool = False) -> SqliteRunRegistry:
        return cls(Path(home) / "registry.db", readonly=readonly)

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.readonly:
                return sqlite.connect_readonly(self.path, consequence=_LOST)
            return sqlite.connect(self.path, consequence=_LOST)
        except sqlite3.Error as exc:
            raise MvdError(f"{self.path}: cannot open the run registry ({exc})") from None

    def _rows(self, sql: str, params: tuple[object, ...]) -> list[sqlite3.Row]:
        """A query's rows; a read-only registry with no database yet has none."""
        if self.readonly and not self.path.exists():
            return []
        db = self._connect()
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise MvdError(f"{self.path}: the run registry was opened read-only")
        db = self._connect()
        try:
            with sqlite.immediate(db):
                yield db
        finally:
            db.close()

    def claim(
        self, dataspace: str, run_id: str, action: Action, source: Source, rotate_keys: list[str] | None = None
    ) -> tuple[str, bool]:
        with self._tx() as db:
            row = db.execute(
                "SELECT r.id, r.status FROM current_run c JOIN runs r ON r.id = c.run_id WHERE c.dataspace = ?",
                (dataspace,),
            ).fetchone()
            if row is not None and row["status"] not in FINISHED:
                return row["id"], False
            db.execute(
                "INSERT INTO runs (id, dataspace, action, source, status, created_at, rotate_keys) "
                "VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                (run_id, dataspace, action, source, utcnow().isoformat(), json.dumps(sorted(rotate_keys or []))),
            )
            db.execute(
                "INSERT INTO current_run (dataspace, run_id) VALUES (?, ?) "
                "ON CONFLICT (dataspace) DO UPDATE SET run_id = excluded.run_id",
                (dataspace, run_id),
            )
            return run_id, True

    def add_coalesced(self, run_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET coalesced = coalesced + 1 WHERE id = ?", (run_id,))

    def mark_running(self, run_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET status = 'running' WHERE id = ? AND status = 'pending'", (run_id,))

    def _finish(self, run_id: str, status: str, error: str | None, summary: RunSummary | None) -> None:
        finished_at = (summary.finished_at if summary and summary.finished_at else utcnow()).isoformat()
        body = json.dumps(summary.wire()) if summary is not None else None
        with self._tx() as db:
            if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise MvdError(f"run {run_id!r} is not in the registry")
            db.execute(
                "UPDATE runs SET status = ?, finished_at = COALESCE(finished_at, ?), error = COALESCE(?, error), "
                "summary = COALESCE(?, summary) WHERE id = ?",
                (status, finished_at, error, body, run_id),
            )

    def finish(self, run_id: str, summary: RunSummary) -> None:
        status = summary.status if summary.status in FINISHED else "completed"
        self._finish(run_id, status, None, summary)

    def fail(self, run_id: str, reason: str) -> None:
        self._finish(run_id, "failed", reason, None)

    def get(self, run_id: str) -> RunRecord | None:
        rows = self._rows("SELECT * FROM runs WHERE id = ?", (run_id,))
        return stored_record(dict(rows[0])) if rows else None

    def recent(self, limit: int = 20, dataspace: str | None = None) -> list[RunRecord]:
        if dataspace is None:
            rows = self._rows("SELECT * FROM runs ORDER BY created_at DESC, id DESC LIMIT ?", (limit,))
        else:
            rows = self._rows(
                "SELECT * FROM runs WHERE dataspace = ? ORDER BY created_at DESC, id DESC LIMIT ?", (dataspace, limit)
            )
        return [stored_record(dict(r)) for r in rows]

    def current(self, dataspace: str) -> RunRecord | None:
        rows = self._rows(
            "SELECT r.* FROM current_run c JOIN runs r ON r.id = c.run_id WHERE c.dataspace = ?", (dataspace,)
        )
        if not rows or rows[0]["status"] in FINISHED:
            return None
        return stored_record(dict(rows[0]))

    def record_poison(self, poison: PoisonCommand) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO poison (id, received_at, reason) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (poison.id, poison.received_at.isoformat(), poison.reason),
            )

    def list_poison(self, limit: int = 20) -> list[PoisonCommand]:
        rows = self._rows("SELECT * FROM poison ORDER BY received_at DESC LIMIT ?", (limit,))
        return [
            PoisonCommand(id=r["id"], received_at=datetime.fromisoformat(r["received_at"]), reason=r["reason"])
            for r in rows
        ]

    def remember_delivery(self, source: str, delivery_id: str, ttl: timedelta = DELIVERY_TTL) -> bool:
        now = utcnow()
        with self._tx() as db:
            db.execute("DELETE FROM deliveries WHERE expires_at < ?", (now.isoformat(),))
            cursor = db.execute(
                "INSERT INTO deliveries (source, delivery_id, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (source, delivery_id) DO NOTHING",
                (source, delivery_id, (now + ttl).isoformat()),
            )
            return cursor.rowcount == 1

    def forget_delivery(self, source: str, delivery_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM deliveries WHERE source = ? AND delivery_id = ?", (source, delivery_id))
