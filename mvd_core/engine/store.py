"""SQLite persistence for the engine: instances, history, inbox, work items and timers.

WAL mode, one connection per thread, short transactions; every write that claims or moves
work runs under ``BEGIN IMMEDIATE`` so two writers (threads or processes) serialise on the
database's write lock instead of racing between a read and a write.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvd_core import sqlite
from mvd_core.engine.history import Event

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    parent_instance_id TEXT,
    parent_event_id INTEGER,
    parent_generation INTEGER,
    generation INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS instances_parent ON instances(parent_instance_id);
CREATE INDEX IF NOT EXISTS instances_name ON instances(name, created_at);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_instance ON inbox(instance_id, id);
CREATE TABLE IF NOT EXISTS work_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT,
    claimed INTEGER NOT NULL DEFAULT 0,
    dispatch_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS work_items_instance ON work_items(instance_id);
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    fire_at REAL NOT NULL,
    fire_at_iso TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timers_due ON timers(fire_at);
CREATE INDEX IF NOT EXISTS timers_instance ON timers(instance_id);
"""


DAMAGED_CONSEQUENCE = (
    "the engine starts with no orchestration history, so a run that was going is lost "
    "(finished runs stay listed in registry.db)"
)


@dataclass(frozen=True)
class InstanceRow:
    instance_id: str
    name: str
    status: str
    input: str | None
    output: str | None
    custom_status: str | None
    error: str | None
    created_at: str
    updated_at: str
    parent_instance_id: str | None
    parent_event_id: int | None
    parent_generation: int | None
    generation: int


@dataclass(frozen=True)
class WorkItem:
    id: int
    instance_id: str
    generation: int
    event_id: int
    name: str
    input: str | None
    dispatch_count: int


@dataclass(frozen=True)
class InboxRow:
    id: int
    generation: int
    event: Event


class Store:
    """Thread-safe access to one engine database; each thread gets its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        # Writers in this process queue on a lock instead of on SQLite's busy handler, which
        # sleeps in growing steps; other processes still serialise through BEGIN IMMEDIATE.
        self._write_lock = threading.Lock()
        self.conn().executescript(_SCHEMA)

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite.connect(self.path, timeout=60.0, consequence=DAMAGED_CONSEQUENCE)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database write lock from its first statement."""
        with self._write_lock, sqlite.immediate(self.conn()) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several reads."""
        conn = self.conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    # -- instances -------------------------------------------------------------------------

    @staticmethod
    def get_instance(conn: sqlite3.Connection, instance_id: str) -> InstanceRow | None:
        row = conn.execute("SELECT * FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        return InstanceRow(**dict(row)) if row else None

    @staticmethod
    def list_instances(conn: sqlite3.Connection, name: str | None, limit: int) -> list[InstanceRow]:
        if name is None:
            rows = conn.execute("SELECT * FROM instances ORDER BY created_at DESC LIMIT ?", (limit,))
        else:
            rows = conn.execute(
                "SELECT * FROM instances WHERE name = ? ORDER BY created_at DESC LIMIT ?",
                (name, limit),
            )
        return [InstanceRow(**dict(r)) for r in rows]

    @staticmethod
    def history(conn: sqlite3.Connection, instance_id: str, from_seq: int = 0) -> list[Event]:
        rows = conn.execute(
            "SELECT event FROM history WHERE instance_id = ? AND seq >= ? ORDER BY seq",
            (instance_id, from_seq),
        )
        return [json.loads(r[0]) for r in rows]

    @staticmethod
    def append_history(conn: sqlite3.Connection, instance_id: str, start_seq: int, events: list[Event]) -> None:
        conn.executemany(
            "INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)",
            [(instance_id, start_seq + i, json.dumps(e)) for i, e in enumerate(events)],
        )

    @staticmethod
    def history_length(conn: sqlite3.Connection, instance_id: str) -> int:
        row = conn.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM history WHERE instance_id = ?", (instance_id,))
        return int(row.fetchone()[0])

    @staticmethod
    def create_instance(
        conn: sqlite3.Connection,
        *,
        instance_id: str,
        name: str,
        input_json: str | None,
        now: str,
        start_event: Event,
        parent: tuple[str, int, int] | None = None,
    ) -> int:
        """Create (or recreate, wiping the old run) an instance in Pending; returns its generation."""
        old = conn.execute("SELECT generation FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        generation = 0 if old is None else int(old[0]) + 1
        Store.purge_run(conn, instance_id)
        parent_id, parent_event, parent_gen = parent if parent else (None, None, None)
        conn.execute(
            "INSERT OR REPLACE INTO instances (instance_id, name, status, input, output, custom_status, error,"
            " created_at, updated_at, parent_instance_id, parent_event_id, parent_generation, generation)"
            " VALUES (?, ?, 'Pending', ?, NULL, NULL, NULL, ?, ?, ?, ?, ?, ?)",
            (
                instance_id,
                name,
                input_json,
                now,
                now,
                parent_id,
                parent_event,
                parent_gen,
                generation,
            ),
        )
        Store.push_inbox(conn, instance_id, generation, start_event)
        return generation

    @staticmethod
    def purge_run(conn: sqlite3.Connection, instance_id: str) -> None:
        for table in ("history", "inbox", "work_items", "timers"):
            conn.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))

    @staticmethod
    def drop_pending_work(conn: sqlite3.Connection, instance_id: str) -> None:
        for table in ("inbox", "work_items", "timers"):
            conn.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))

    @staticmethod
    def update_instance(conn: sqlite3.Connection, instance_id: str, now: str, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        conn.execute(
            f"UPDATE instances SET {cols}, updated_at = ? WHERE instance_id = ?",
            (*fields.values(), now, instance_id),
        )

    @staticmethod
    def children(conn: sqlite3.Connection, instance_id: str, generation: int) -> list[InstanceRow]:
        rows = conn.execute(
            "SELECT * FROM instances WHERE parent_instance_id = ? AND parent_generation = ?",
            (instance_id, generation),
        )
        return [InstanceRow(**dict(r)) for r in rows]

    # -- inbox -----------------------------------------------------------------------------

    @staticmethod
    def push_inbox(conn: sqlite3.Connection, instance_id: str, generation: int, event: Event) -> None:
        conn.execute(
            "INSERT INTO inbox (instance_id, generation, event) VALUES (?, ?, ?)",
            (instance_id, generation, json.dumps(event)),
        )

    @staticmethod
    def instances_with_inbox(conn: sqlite3.Connection) -> list[str]:
        rows = conn.execute("SELECT instance_id, MIN(id) AS first FROM inbox GROUP BY instance_id ORDER BY first")
        return [r[0] for r in rows]

    @staticmethod
    def inbox(conn: sqlite3.Connection, instance_id: str) -> list[InboxRow]:
        rows = conn.execute(
            "SELECT id, generation, event FROM inbox WHERE instance_id = ? ORDER BY id",
            (instance_id,),
        )
        return [InboxRow(r[0], r[1], json.loads(r[2])) for r in rows]

    @staticmethod
    def delete_inbox(conn: sqlite3.Connection, ids: list[int]) -> None:
        conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])

    # -- work items ------------------------------------------------------------------------

    @staticmethod
    def add_work_item(
        conn: sqlite3.Connection,
        instance_id: str,
        generation: int,
        event_id: int,
        name: str,
        input_json: str | None,
    ) -> int:
        cur = conn.execute(
            "INSERT INTO work_items (instance_id, generation, event_id, name, input) VALUES (?, ?, ?, ?, ?)",
            (instance_id, generation, event_id, name, input_json),
        )
        return int(cur.lastrowid or 0)

    def claim_work_item(self, item_id: int) -> WorkItem | None:
        with self.tx() as conn:
            row = conn.execute(
                "UPDATE work_items SET claimed = 1, dispatch_count = dispatch_count + 1"
                " WHERE id = ? AND claimed = 0"
                " RETURNING id, instance_id, generation, event_id, name, input, dispatch_count",
                (item_id,),
            ).fetchall()
        return WorkItem(**dict(row[0])) if row else None

    def complete_work_item(self, item: WorkItem, event: Event) -> bool:
        """Remove the item and hand its result to the instance, atomically; False if it was cancelled."""
        with self.tx() as conn:
            gone = conn.execute("DELETE FROM work_items WHERE id = ?", (item.id,)).rowcount
            if gone:
                self.push_inbox(conn, item.instance_id, item.generation, event)
        return bool(gone)

    def release_claims(self) -> list[int]:
        """After a crash nothing is running: every claimed item goes back to the queue."""
        with self.tx() as conn:
            conn.execute("UPDATE work_items SET claimed = 0 WHERE claimed = 1")
            return [r[0] for r in conn.execute("SELECT id FROM work_items ORDER BY id")]

    # -- timers ----------------------------------------------------------------------------

    @staticmethod
    def add_timer(
        conn: sqlite3.Connection,
        instance_id: str,
        generation: int,
        event_id: int,
        fire_at: float,
        fire_at_iso: str,
    ) -> None:
        conn.execute(
            "INSERT INTO timers (instance_id, generation, event_id, fire_at, fire_at_iso) VALUES (?, ?, ?, ?, ?)",
            (instance_id, generation, event_id, fire_at, fire_at_iso),
        )

    def next_timer_at(self) -> float | None:
        row = self.conn().execute("SELECT MIN(fire_at) FROM timers").fetchone()
        return None if row[0] is None else float(row[0])

    def fire_due_timers(self, now: float, make_event: Callable[[int, str], dict[str, Any]]) -> int:
        with self.tx() as conn:
            rows = conn.execute(
                "DELETE FROM timers WHERE fire_at <= ? RETURNING instance_id, generation, event_id, fire_at_iso",
                (now,),
            ).fetchall()
            for r in rows:
                self.push_inbox(conn, r[0], r[1], make_event(r[2], r[3]))
        return len(rows)

    # -- idleness --------------------------------------------------------------------------

    def pending_counts(self) -> tuple[int, int, int]:
        with self.read() as conn:
            inbox = conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]
            work = conn.execute("SELECT COUNT(*) FROM work_items").fetchone()[0]
            timers = conn.execute("SELECT COUNT(*) FROM timers").fetchone()[0]
        return int(inbox), int(work), int(timers)

    def data_version(self) -> int:
        return int(self.conn().execute("PRAGMA data_version").fetchone()[0])
