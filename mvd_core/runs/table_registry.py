"""The run registry on Azure Table Storage (used by the Functions app).

Runs and the per-dataspace ``current`` pointer share one partition (the dataspace), so a new
run and the pointer move are written in one entity-group transaction, conditional on the
pointer's ETag: of N concurrent claimants exactly one transaction commits; the others see
the precondition fail, re-read, and are answered with the winner's run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableEntity, TableServiceClient, TableTransactionError, UpdateMode

from mvd_core.errors import ExternalError, MvdError
from mvd_core.logs import get_logger
from mvd_core.runs.models import FINISHED, Action, PoisonCommand, RunRecord, RunSummary, Source, utcnow
from mvd_core.runs.registry import DELIVERY_TTL, stored_record

log = get_logger(__name__)

CURRENT = "current"  # RowKey of the pointer; run ids start with "mvd-" so they never collide
_MAX_ATTEMPTS = 50


class TableRunRegistry:
    def __init__(
        self,
        connection_string: str | None = None,
        prefix: str = "mvd",
        *,
        account_url: str | None = None,
        credential: Any = None,
    ) -> None:
        """From a connection string (Azurite, development), or an account URL and a token
        credential (Azure: the app's managed identity; the account has no keys)."""
        try:
            if connection_string is not None:
                self._service = TableServiceClient.from_connection_string(connection_string)
            elif account_url is not None:
                self._service = TableServiceClient(endpoint=account_url, credential=credential)
            else:
                raise MvdError("the run registry needs a storage connection string or account")
        except (ValueError, AzureError):
            # The message could echo the connection string; say only what is wrong.
            raise MvdError("the storage connection string for the run registry is malformed") from None
        self._names = (f"{prefix}runs", f"{prefix}poison", f"{prefix}deliveries")
        self._runs, self._poison, self._deliveries = (self._service.get_table_client(n) for n in self._names)
        self._ready = False

    @property
    def account_url(self) -> str:
        return self._service.url

    def _ensure(self) -> None:
        """Create the tables on first use (not in __init__: opening the registry stays offline)."""
        if self._ready:
            return
        for name in self._names:
            try:
                self._service.create_table_if_not_exists(name)
            except AzureError as exc:
                raise ExternalError(f"table storage: cannot create table {name!r} ({type(exc).__name__})") from None
        self._ready = True

    # -- runs -------------------------------------------------------------------------------

    def claim(
        self, dataspace: str, run_id: str, action: Action, source: Source, rotate_keys: list[str] | None = None
    ) -> tuple[str, bool]:
        self._ensure()
        run = {
            "PartitionKey": dataspace,
            "RowKey": run_id,
            "action": action,
            "source": source,
            "status": "pending",
            "created_at": utcnow().isoformat(),
            "coalesced": 0,
            "rotate_keys": json.dumps(sorted(rotate_keys or [])),
        }
        pointer = {"PartitionKey": dataspace, "RowKey": CURRENT, "run_id": run_id}
        for _ in range(_MAX_ATTEMPTS):
            try:
                current = self._runs.get_entity(dataspace, CURRENT)
            except ResourceNotFoundError:
                current = None
            if current is not None:
                held = self._get_entity(dataspace, current["run_id"])
                if held is not None and held["status"] not in FINISHED:
                    return current["run_id"], False
                move: tuple[Any, ...] = (
                    "update",
                    pointer,
                    {
                        "mode": UpdateMode.REPLACE,
                        "etag": current.metadata["etag"],
                        "match_condition": MatchConditions.IfNotModified,
                    },
                )
            else:
                move = ("create", pointer)
            try:
                self._runs.submit_transaction([move, ("create", run)])
                return run_id, True
            except TableTransactionError:
                continue  # someone else moved the pointer first; re-read it
            except AzureError as exc:
                raise ExternalError(f"table storage: claim for {dataspace!r} failed ({type(exc).__name__})") from None
        raise ExternalError(f"table storage: claim for {dataspace!r} kept conflicting; try again")

    def _get_entity(self, dataspace: str, run_id: str) -> TableEntity | None:
        try:
            return self._runs.get_entity(dataspace, run_id)
        except ResourceNotFoundError:
            return None

    def _find(self, run_id: str) -> TableEntity | None:
        # Run ids are mvd-<dataspace>-<stamp>-<hex>; the dataspace is the partition.
        dataspace = run_id[4:].rsplit("-", 2)[0]
        return self._get_entity(dataspace, run_id)

    def _update(self, run_id: str, change: Callable[[TableEntity], dict[str, Any] | None]) -> None:
        """Read-modify-write of one run with ETag retry; ``change(entity)`` returns the new
        fields, or None to leave it alone."""
        for _ in range(_MAX_ATTEMPTS):
            entity = self._find(run_id)
            if entity is None:
                raise MvdError(f"run {run_id!r} is not in the registry")
            fields = change(entity)
            if fields is None:
                return
            try:
                self._runs.update_entity(
                    {"PartitionKey": entity["PartitionKey"], "RowKey": run_id, **fields},
                    mode=UpdateMode.MERGE,
                    etag=entity.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                return
            except ResourceModifiedError:
                continue
            except HttpResponseError as exc:
                if exc.status_code == 412:
                    continue
                raise ExternalError(f"table storage: update of run {run_id!r} failed ({exc.status_code})") from None
        raise ExternalError(f"table storage: update of run {run_id!r} kept conflicting; try again")

    def add_coalesced(self, run_id: str) -> None:
        self._ensure()
        self._update(run_id, lambda e: {"coalesced": int(e.get("coalesced", 0)) + 1})

    def mark_running(self, run_id: str) -> None:
        self._ensure()
        self._update(run_id, lambda e: {"status": "running"} if e["status"] == "pending" else None)

    def _finish(self, run_id: str, status: str, error: str | None, summary: RunSummary | None) -> None:
        finished_at = (summary.finished_at if summary and summary.finished_at else utcnow()).isoformat()

        def change(e: TableEntity) -> dict[str, Any]:
            fields: dict[str, Any] = {"status": status, "finished_at": e.get("finished_at") or finished_at}
            if error is not None:
                fields["error"] = error
            if summary is not None:
                # Entity string properties hold 64 KiB; a summary is a few KiB.
                fields["summary"] = json.dumps(summary.wire())
            return fields

        self._update(run_id, change)

    def finish(self, run_id: str, summary: RunSummary) -> None:
        self._ensure()
        self._finish(run_id, summary.status if summary.status in FINISHED else "completed", None, summary)

    def fail(self, run_id: str, reason: str) -> None:
        self._ensure()
        self._finish(run_id, "failed", reason, None)

    @staticmethod
    def _record(e: Mapping[str, Any]) -> RunRecord:
        return stored_record({**e, "id": e["RowKey"], "dataspace": e["PartitionKey"]})

    def get(self, run_id: str) -> RunRecord | None:
        self._ensure()
        entity = self._find(run_id)
        return self._record(entity) if entity is not None else None

    def recent(self, limit: int = 20, dataspace: str | None = None) -> list[RunRecord]:
        self._ensure()
        query = f"RowKey ne '{CURRENT}'"
        params: dict[str, Any] = {}
        if dataspace is not None:
            query += " and PartitionKey eq @ds"
            params["ds"] = dataspace
        entities = self._runs.query_entities(query, parameters=params)
        records = sorted((self._record(e) for e in entities), key=lambda r: (r.created_at, r.id), reverse=True)
        return records[:limit]

    def current(self, dataspace: str) -> RunRecord | None:
        self._ensure()
        pointer = self._get_entity(dataspace, CURRENT)
        if pointer is None:
            return None
        record = self.get(pointer["run_id"])
        return record if record is not None and not record.finished else None

    # -- poison and deliveries --------------------------------------------------------------

    def record_poison(self, poison: PoisonCommand) -> None:
        self._ensure()
        entity = {
            "PartitionKey": "poison",
            "RowKey": _key(poison.id),
            "command_id": poison.id,
            "received_at": poison.received_at.isoformat(),
            "reason": poison.reason[:4000],
        }
        try:
            self._poison.create_entity(entity)
        except ResourceExistsError:
            pass

    def list_poison(self, limit: int = 20) -> list[PoisonCommand]:
        self._ensure()
        rows = [
            PoisonCommand(id=e["command_id"], received_at=datetime.fromisoformat(e["received_at"]), reason=e["reason"])
            for e in self._poison.query_entities("PartitionKey eq 'poison'")
        ]
        return sorted(rows, key=lambda p: p.received_at, reverse=True)[:limit]

    def remember_delivery(self, source: str, delivery_id: str, ttl: timedelta = DELIVERY_TTL) -> bool:
        self._ensure()
        now = utcnow()
        entity = {"PartitionKey": _key(source), "RowKey": _key(delivery_id), "expires_at": (now + ttl).isoformat()}
        try:
            self._deliveries.create_entity(entity)
            return True
        except ResourceExistsError:
            pass
        try:
            seen = self._deliveries.get_entity(entity["PartitionKey"], entity["RowKey"])
        except ResourceNotFoundError:
            return self.remember_delivery(source, delivery_id, ttl)
        if datetime.fromisoformat(seen["expires_at"]) > now:
            return False
        try:
            self._deliveries.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=seen.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            return True
        except (ResourceModifiedError, HttpResponseError):
            return False  # a concurrent delivery with the same id took it

    def forget_delivery(self, source: str, delivery_id: str) -> None:
        self._ensure()
        try:
            self._deliveries.delete_entity(_key(source), _key(delivery_id))
        except ResourceNotFoundError:
            pass
        except AzureError as exc:
            raise ExternalError(
                f"table storage: cannot forget delivery {delivery_id!r} ({type(exc).__name__})"
            ) from None


def _key(value: str) -> str:
    """Table keys may not contain / \\ # ? or control characters; ids are validated upstream,
    this keeps anything else from breaking a request."""
    return "".join(ch if ch.isprintable() and ch not in "/\\#?" else "_" for ch in value)[:512]
