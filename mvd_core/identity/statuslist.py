"""The issuer's revocation list: one index per credential it signs, and the W3C Bitstring Status
List credential that says which of them are revoked.

EDC 0.15.1 checks it in the verifier: ``DcpCoreExtension`` (connector, standalone catalog)
registers ``StatusList2021RevocationService`` and ``BitstringStatusListRevocationService``, and the
``IsNotRevoked`` rule runs on every credential of a presentation. It GETs the
``statusListCredential`` URL of the credential's ``credentialStatus`` entry, reads it as plain JSON
(no proof is checked), and caches it for ``edc.iam.credential.revocation.cache.validity`` ms. (The
identity hub 0.15.1 would leave a revoked credential out of presentations, but its registry, as
assembled, has no service for the type: it logs so and presents it anyway.)

What they read (``BitstringStatusListCredential``/``BitString.Parser``): ``type`` contains
``BitstringStatusListCredential``, ``validFrom``, one ``credentialSubject`` with ``statusPurpose``
and ``encodedList`` = ``"u"`` + base64url(gzip(bits)), index 0 being the most significant bit of
the first byte; the entry's ``statusPurpose`` must equal the list's, ``statusSize`` must be 1.

The indexes live in a small SQLite database (``mvd_core.sqlite``) next to the issuer's vault,
so a revocation made by one process (the reset's run) is what the server publishes at once.
"""

from __future__ import annotations

import base64
import gzip
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mvd_core import sqlite as db
from mvd_core.errors import MvdError

LIST_SIZE = 131_072  # bits: the spec's minimum, so a list does not reveal how many were issued
PURPOSE = "revocation"
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_TYPE = "BitstringStatusListCredential"
STATUS_TERMS = "https://www.w3.org/ns/credentials/status#"
# Inline terms for the VC 1.1 credentials that carry an entry (the v2 context defines them).
ENTRY_CONTEXT: dict[str, Any] = {
    ENTRY_TYPE: f"{STATUS_TERMS}{ENTRY_TYPE}",
    "statusPurpose": f"{STATUS_TERMS}statusPurpose",
    "statusListIndex": f"{STATUS_TERMS}statusListIndex",
    "statusListCredential": {"@id": f"{STATUS_TERMS}statusListCredential", "@type": "@id"},
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS status_entries (
    idx INTEGER PRIMARY KEY,
    holder TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS status_entries_holder ON status_entries (holder);
"""


class StatusListFull(MvdError):
    """Every index of the list is taken: the issuer cannot sign another credential."""


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def encode(revoked: set[int], size: int = LIST_SIZE) -> str:
    """The ``encodedList`` of a list of ``size`` bits with ``revoked`` set."""
    bits = bytearray(size // 8)
    for index in revoked:
        bits[index // 8] |= 0x80 >> (index % 8)
    return "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).rstrip(b"=").decode()


def decode(encoded: str) -> set[int]:
    """The indexes set in an ``encodedList`` (the inverse of :func:`encode`)."""
    if not encoded.startswith("u"):
        raise ValueError("an encodedList starts with the multibase header 'u' (base64url)")
    raw = encoded[1:]
    bits = gzip.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    return {i * 8 + b for i, byte in enumerate(bits) if byte for b in range(8) if byte & (0x80 >> b)}


class StatusList:
    """The status list at ``path`` (created on first use): allocate an index per credential,
    revoke a holder's, and read which are revoked."""

    def __init__(self, path: Path, *, size: int = LIST_SIZE) -> None:
        if size <= 0 or size % 8:
            raise ValueError("a status list's size is a positive multiple of 8 bits")
        self.path = Path(path)
        self.size = size
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = db.connect(self.path, consequence="credentials issued so far can no longer be revoked")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def allocate(self, holder_did: str, credential_id: str) -> int:
        """A fresh index for the credential ``credential_id`` issued to ``holder_did``."""
        with self._lock, db.immediate(self._db()) as conn:
            row = conn.execute("SELECT COALESCE(MAX(idx), -1) + 1 AS next FROM status_entries").fetchone()
            index = int(row["next"])
            if index >= self.size:
                raise StatusListFull(
                    f"the status list {self.path} has no free index left ({self.size} credentials issued); "
                    "move it aside to start a new list (credentials issued so far can then not be revoked)"
                )
            conn.execute(
                "INSERT INTO status_entries (idx, holder, credential_id, issued_at) VALUES (?, ?, ?, ?)",
                (index, holder_did, credential_id, _now()),
            )
        return index

    def revoke(self, holder_did: str) -> int:
        """Revoke every credential issued to ``holder_did``; the number newly revoked (0 when
        there was nothing left to revoke)."""
        with self._lock, db.immediate(self._db()) as conn:
            cursor = conn.execute(
                "UPDATE status_entries SET revoked_at = ? WHERE holder = ? AND revoked_at IS NULL",
                (_now(), holder_did),
            )
            return cursor.rowcount

    def revoked(self) -> set[int]:
        with self._lock:
            rows = self._db().execute("SELECT idx FROM status_entries WHERE revoked_at IS NOT NULL").fetchall()
        return {int(r["idx"]) for r in rows}

    def entries(self, holder_did: str) -> list[dict[str, Any]]:
        """What was issued to ``holder_did``: index, credential id, issued and revoked times."""
        with self._lock:
            rows = (
                self._db()
                .execute(
                    "SELECT idx, credential_id, issued_at, revoked_at FROM status_entries WHERE holder = ? ORDER BY idx",
                    (holder_did,),
                )
                .fetchall()
            )
        return [dict(r) for r in rows]

    def entry(self, index: int, url: str) -> dict[str, Any]:
        """The ``credentialStatus`` of the credential at ``index``, its list published at ``url``."""
        return {
            "id": f"{url}#{index}",
            "type": ENTRY_TYPE,
            "statusPurpose": PURPOSE,
            "statusListIndex": str(index),
            "statusListCredential": url,
        }

    def credential(self, *, url: str, issuer_did: str) -> dict[str, Any]:
        """The Bitstring Status List credential as published at ``url`` (unsigned JSON: what EDC reads)."""
        return {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": url,
            "type": ["VerifiableCredential", LIST_TYPE],
            "issuer": issuer_did,
            "validFrom": _now(),
            "credentialSubject": {
                "id": f"{url}#list",
                "type": "BitstringStatusList",
                "statusPurpose": PURPOSE,
                "encodedList": encode(self.revoked(), self.size),
            },
        }
