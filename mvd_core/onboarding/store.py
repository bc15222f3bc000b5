"""Who joined the dataspace since the last reset: the onboarded participants, the invite
tokens, and the join attempts per source address (``$MVD_HOME/onboarding.db``).

A participant is added in one write transaction that re-checks what a concurrent join could
have changed (the DID and its participant id not taken, the cap, the invite unused) and uses
the invite, so two joins with one invite or past the cap cannot both succeed. Removal keeps
the row (``removedAt``, ``removedBy``: a run id or ``api``) so the history shows who left and
when; a removed participant's credentials are revoked after the row is marked
(``revokedAt``), and a removal whose revocation did not happen yet is found again
(``unrevoked``), so a crash between the two never leaves a credential valid. Invite tokens
are stored as their SHA-256 only."""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import Field

from mvd_core import sqlite
from mvd_core.errors import MvdError
from mvd_core.runs.models import Wire, utcnow
from mvd_core.settings import Settings
from mvd_core.state import private_dir

_LOST = "every onboarded participant and invite is forgotten (they join again)"
INVITE_PREFIX = "mvdi_"
INVITE_PATTERN = re.compile(r"mvdi_[A-Za-z0-9_-]{32}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS participants (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    did TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    protocol_url TEXT NOT NULL,
    credential_service TEXT NOT NULL,
    joined_at TEXT NOT NULL,
    source_address TEXT NOT NULL,
    invite_id TEXT,
    removed_at TEXT,
    removed_by TEXT,
    revoked_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS active_did ON participants (did) WHERE removed_at IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS active_id ON participants (participant_id) WHERE removed_at IS NULL;
CREATE TABLE IF NOT EXISTS invites (
    id TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    used_by TEXT
);
CREATE TABLE IF NOT EXISTS attempts (
    source_address TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_source ON attempts (source_address, at);
"""


class Onboarded(Wire):
    """An onboarded participant, as the store keeps it and the API shows it."""

    did: str
    participant_id: str = Field(description="Derived from the DID: what the participant list names it.")
    protocol_url: str = Field(description="Its DSP address (the ProtocolEndpoint of its DID document).")
    credential_service: str = Field(description="The CredentialService of its DID document.")
    joined_at: datetime
    source_address: str = Field(description="The address the join came from.")
    invite_id: str | None = Field(description="The id of the invite it used (never the token).")
    removed_at: datetime | None = None
    removed_by: str | None = Field(None, description="The run (a reset) or 'api' (DELETE) that removed it.")
    revoked_at: datetime | None = Field(None, description="When its MembershipCredentials were revoked.")


class Invite(Wire):
    id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by: str | None = None


class JoinRefused(MvdError):
    """The store refused a join (duplicate, cap, invite); ``check`` names the check that failed."""

    def __init__(self, check: str, message: str, *, status: int) -> None:
        super().__init__(message, status=status)
        self.check = check


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _row(row: sqlite3.Row) -> Onboarded:
    return Onboarded(
        did=row["did"],
        participant_id=row["participant_id"],
        protocol_url=row["protocol_url"],
        credential_service=row["credential_service"],
        joined_at=datetime.fromisoformat(row["joined_at"]),
        source_address=row["source_address"],
        invite_id=row["invite_id"],
        removed_at=_time(row["removed_at"]),
        removed_by=row["removed_by"],
        revoked_at=_time(row["revoked_at"]),
    )


def _invite(row: sqlite3.Row) -> Invite:
    return Invite(
        id=row["id"],
        created_at=datetime.fromisoformat(row["created_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
        used_at=_time(row["used_at"]),
        used_by=row["used_by"],
    )


class OnboardingStore:
    """The store in one SQLite file; one connection per thread, writes in ``BEGIN IMMEDIATE``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        private_dir(self.path.parent)
        self._local = threading.local()
        with self._db() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def in_home(cls, home: Path) -> OnboardingStore:
        return cls(Path(home) / "onboarding.db")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite.connect(self.path, consequence=_LOST)
            except sqlite3.Error as exc:
                raise MvdError(f"{self.path}: cannot open the onboarding store ({exc})") from None
            self._local.conn = conn
        yield conn

    # ---------------------------------------------------------------- participants

    def active(self) -> list[Onboarded]:
        """Everyone onboarded and not removed, oldest first."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM participants WHERE removed_at IS NULL ORDER BY seq").fetchall()
        return [_row(r) for r in rows]

    def active_dids(self) -> frozenset[str]:
        """What the issuer's member set adds to the seed participants' DIDs."""
        with self._db() as db:
            return frozenset(r[0] for r in db.execute("SELECT did FROM participants WHERE removed_at IS NULL"))

    def removed(self, limit: int = 50) -> list[Onboarded]:
        """The latest removals, newest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT * FROM participants WHERE removed_at IS NOT NULL ORDER BY removed_at DESC, seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_row(r) for r in rows]

    def get(self, did: str) -> Onboarded | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM participants WHERE did = ? AND removed_at IS NULL", (did,)).fetchone()
        return None if row is None else _row(row)

    def add(self, entry: Onboarded, *, cap: int, invite_token: str | None) -> Onboarded:
        """Add ``entry`` (and use its invite) in one transaction, or JoinRefused naming the check."""
        now = entry.joined_at.isoformat()
        with self._db() as db, sqlite.immediate(db):
            taken = db.execute(
                "SELECT did FROM participants WHERE removed_at IS NULL AND (did = ? OR participant_id = ?)",
                (entry.did, entry.participant_id),
            ).fetchone()
            if taken is not None:
                what = "DID" if taken["did"] == entry.did else f"participant id {entry.participant_id!r}"
                raise JoinRefused("new", f"the {what} is already a participant of this dataspace", status=409)
            count = db.execute("SELECT count(*) FROM participants WHERE removed_at IS NULL").fetchone()[0]
            if count >= cap:
                raise JoinRefused(
                    "capacity",
                    f"the dataspace already has {count} onboarded participants, its cap "
                    "(MVD_ONBOARDING_MAX_PARTICIPANTS); the next reset makes room",
                    status=409,
                )
            invite_id = None
            if invite_token is not None:
                invite_id = self._use_invite(db, invite_token, entry.did, now)
            db.execute(
                "INSERT INTO participants (did, participant_id, protocol_url, credential_service, joined_at, "
                "source_address, invite_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.did,
                    entry.participant_id,
                    entry.protocol_url,
                    entry.credential_service,
                    now,
                    entry.source_address,
                    invite_id,
                ),
            )
        return entry.model_copy(update={"invite_id": invite_id})

    def remove(self, did: str, by: str) -> Onboarded | None:
        """Mark the active participant ``did`` removed; None when there is none."""
        with self._db() as db, sqlite.immediate(db):
            cur = db.execute(
                "UPDATE participants SET removed_at = ?, removed_by = ? WHERE did = ? AND removed_at IS NULL",
                (utcnow().isoformat(), by, did),
            )
            if cur.rowcount == 0:
                return None
            row = db.execute(
                "SELECT * FROM participants WHERE did = ? AND removed_by = ? ORDER BY seq DESC LIMIT 1", (did, by)
            ).fetchone()
        return _row(row)

    def remove_all(self, by: str) -> list[Onboarded]:
        """Mark every active participant removed by ``by`` (a run id); what ``by`` removed, also
        on a second call (a retried step): idempotent."""
        with self._db() as db, sqlite.immediate(db):
            db.execute(
                "UPDATE participants SET removed_at = ?, removed_by = ? WHERE removed_at IS NULL",
                (utcnow().isoformat(), by),
            )
            rows = db.execute("SELECT * FROM participants WHERE removed_by = ? ORDER BY seq", (by,)).fetchall()
        return [_row(r) for r in rows]

    def unrevoked(self) -> list[Onboarded]:
        """Removed participants whose credentials are not revoked yet."""
        with self._db() as db:
            rows = db.execute(
                "SELECT * FROM participants WHERE removed_at IS NOT NULL AND revoked_at IS NULL ORDER BY seq"
            ).fetchall()
        return [_row(r) for r in rows]

    def mark_revoked(self, did: str) -> None:
        with self._db() as db, sqlite.immediate(db):
            db.execute(
                "UPDATE participants SET revoked_at = ? WHERE did = ? AND removed_at IS NOT NULL AND revoked_at IS NULL",
                (utcnow().isoformat(), did),
            )

    # ---------------------------------------------------------------- invites

    def create_invite(self, valid_for: timedelta) -> tuple[str, Invite]:
        """A new single-use token (shown once; only its hash is kept) and its record."""
        token = INVITE_PREFIX + secrets.token_urlsafe(24)
        now = utcnow()
        invite = Invite(id=secrets.token_hex(4), created_at=now, expires_at=now + valid_for)
        with self._db() as db, sqlite.immediate(db):
            db.execute(
                "INSERT INTO invites (id, token_sha256, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (invite.id, token_hash(token), invite.created_at.isoformat(), invite.expires_at.isoformat()),
            )
        return token, invite

    def invites(self) -> list[Invite]:
        with self._db() as db:
            return [_invite(r) for r in db.execute("SELECT * FROM invites ORDER BY created_at DESC")]

    def check_invite(self, token: str) -> Invite:
        """The unused, unexpired invite ``token`` is, or JoinRefused saying why it is not (uses nothing)."""
        with self._db() as db:
            return self._valid_invite(db, token)

    def _valid_invite(self, db: sqlite3.Connection, token: str) -> Invite:
        if not INVITE_PATTERN.fullmatch(token):
            raise JoinRefused("invite", "the invite is not an invite token (mvdi_ and 32 characters)", status=403)
        row = db.execute("SELECT * FROM invites WHERE token_sha256 = ?", (token_hash(token),)).fetchone()
        if row is None:
            raise JoinRefused("invite", "the invite token is not one this control plane issued", status=403)
        invite = _invite(row)
        if invite.used_at is not None:
            raise JoinRefused(
                "invite", f"invite {invite.id} was already used (at {invite.used_at:%Y-%m-%d %H:%M:%S} UTC)", status=403
            )
        if invite.expires_at <= utcnow():
            raise JoinRefused(
                "invite", f"invite {invite.id} expired at {invite.expires_at:%Y-%m-%d %H:%M:%S} UTC", status=403
            )
        return invite

    def _use_invite(self, db: sqlite3.Connection, token: str, did: str, now: str) -> str:
        invite = self._valid_invite(db, token)
        db.execute("UPDATE invites SET used_at = ?, used_by = ? WHERE id = ?", (now, did, invite.id))
        return invite.id

    # ---------------------------------------------------------------- rate limit

    def admit_attempt(self, source_address: str, limit: int, window: timedelta) -> int | None:
        """Count a join attempt from ``source_address``: None when admitted, else the seconds
        until the oldest attempt in the window ages out (the attempt is then not counted)."""
        now = utcnow()
        start = (now - window).isoformat()
        with self._db() as db, sqlite.immediate(db):
            db.execute("DELETE FROM attempts WHERE at < ?", (start,))
            rows = db.execute(
                "SELECT at FROM attempts WHERE source_address = ? ORDER BY at", (source_address,)
            ).fetchall()
            if len(rows) >= limit:
                oldest = datetime.fromisoformat(rows[0]["at"])
                return max(1, int((oldest + window - now).total_seconds()) + 1)
            db.execute("INSERT INTO attempts (source_address, at) VALUES (?, ?)", (source_address, now.isoformat()))
        return None


_STORES: dict[Path, OnboardingStore] = {}
_STORES_LOCK = threading.Lock()


def open_store(settings: Settings) -> OnboardingStore:
    """The store of ``settings.home``, one per process (the server, the issuer and the reset share it)."""
    path = (Path(settings.home) / "onboarding.db").absolute()
    with _STORES_LOCK:
        store = _STORES.get(path)
        if store is None:
            store = _STORES[path] = OnboardingStore(path)
        return store


def exists(settings: Settings) -> bool:
    """Whether anyone ever joined (or was invited) here: the store's file exists. Readers and the
    reset check it first, so a host nobody joins (the Functions app, whose filesystem may be
    read-only) never creates it."""
    return (Path(settings.home) / "onboarding.db").is_file()


def onboarded(settings: Settings) -> list[Onboarded]:
    """The active onboarded participants of ``settings.home``; none (and no file created) when
    the store does not exist."""
    return open_store(settings).active() if exists(settings) else []
