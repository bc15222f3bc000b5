"""SQLite as every local store here uses it (engine, run registry, simulated clusters):
WAL, autocommit with explicit ``BEGIN IMMEDIATE`` write transactions, and a busy timeout so
other processes queue instead of failing. Database files are private (``mvd_core.state``),
and a damaged one is named with what to do, never replaced."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from mvd_core.errors import MvdError
from mvd_core.state import DamagedState, private_sqlite

_DAMAGED = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def remedy(path: Path, consequence: str) -> str:
    """What to do about a damaged database: move it aside (kept for inspection), and what
    starting without it means."""
    return f"stop mvd, move it aside (mv {path.name} {path.name}.damaged) and start again: {consequence}"


def damaged(exc: sqlite3.Error) -> bool:
    """Whether an error says the file is not (or no longer) a readable database."""
    return isinstance(exc, sqlite3.DatabaseError) and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _DAMAGED


def _checked(
    conn: sqlite3.Connection, path: Path, consequence: str, *, write: bool, timeout: float
) -> sqlite3.Connection:
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        if write:
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL survives a killed process; only an OS crash can lose the last commits.
            conn.execute("PRAGMA synchronous=NORMAL")
        else:
            conn.execute("PRAGMA query_only=1")
        # Reads the header and the schema: a file of garbage or a torn schema fails here,
        # at open, with the file named, rather than as a bare DatabaseError later.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        if damaged(exc):
            raise DamagedState(path, f"is not a readable SQLite database ({exc})", remedy(path, consequence)) from None
        raise
    return conn


def connect(
    path: Path, *, timeout: float = 30.0, consequence: str = "it is created again, empty"
) -> sqlite3.Connection:
    """A connection usable from any thread (callers keep one per thread or serialise use).
    ``consequence`` says what starting without this database loses (for the damaged case)."""
    path = Path(path)
    private_sqlite(path)
    conn = sqlite3.connect(path, isolation_level=None, timeout=timeout, check_same_thread=False)
    return _checked(conn, path, consequence, write=True, timeout=timeout)


def connect_readonly(
    path: Path, *, timeout: float = 30.0, consequence: str = "it is created again, empty"
) -> sqlite3.Connection:
    """A read-only connection to an existing database: creates nothing, takes no write lock,
    and works while another process (a running ``mvd serve``) writes to it."""
    path = Path(path)
    uri = f"file:{quote(str(path.absolute()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout, check_same_thread=False)
    except sqlite3.OperationalError as exc:
        raise MvdError(f"cannot read {path}: {exc}") from None
    return _checked(conn, path, consequence, write=False, timeout=timeout)


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
