"""SQLite as every local store here uses it (engine, run registry, simulated clusters):
WAL, autocommit with explicit ``BEGIN IMMEDIATE`` write transactions, and a busy timeout so
other processes queue instead of failing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def connect(path: Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """A connection usable from any thread (callers keep one per thread or serialise use)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=timeout, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL survives a killed process; only an OS crash can lose the last commits.
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction holding the database's write lock from its first statement."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
