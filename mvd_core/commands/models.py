"""The command that travels through the queue, and the run record the registry keeps."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from mvd_core.api.models import Action, Failure, RunStatus, RunSummary, Source, Wire
from mvd_core.errors import MvdError

# Used with fullmatch, in ASCII: "$" also matches before a final newline, "\d" any Unicode digit.
RUN_ID_PATTERN = re.compile(r"mvd-[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?-[0-9]{8}T[0-9]{6}-[0-9a-f]{6}")
FINISHED: frozenset[str] = frozenset({"completed", "failed"})


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_run_id(dataspace: str, now: datetime | None = None) -> str:
    """``mvd-<dataspace>-<yyyymmddThhmmss>-<6 hex>``: unique per run, sortable by time."""
    stamp = (now or utcnow()).astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    return f"mvd-{dataspace}-{stamp}-{secrets.token_hex(3)}"


def describe_command(action: str, rotate_keys: list[str]) -> str:
    return f"{action} rotating the keys of {', '.join(sorted(rotate_keys))}" if rotate_keys else action


def check_run_id(run_id: str) -> str:
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise MvdError(f"{run_id[:80]!r} is not a run id (expected mvd-<dataspace>-<yyyymmddThhmmss>-<6 hex>)")
    return run_id


class CommandRequest(BaseModel):
    """What a caller (timer, button, webhook, CLI) asks for, before it has a run id."""

    action: Action
    dataspace: str
    source: Source
    rotate_keys: list[str] = Field(default_factory=list)
    delivery_id: str | None = None


class Command(Wire):
    """The queue message (camelCase JSON) and the dataspace orchestrator's input."""

    id: str
    run_id: str
    action: Action
    dataspace: str
    source: Source
    requested_at: datetime
    rotate_keys: list[str] = Field(default_factory=list)
    delivery_id: str | None = None

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value: str) -> str:
        if not RUN_ID_PATTERN.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not a run id")
        return value


class RunRecord(BaseModel):
    """One row of the run index."""

    id: str
    dataspace: str
    action: Action
    source: Source
    status: RunStatus = "pending"
    created_at: datetime
    finished_at: datetime | None = None
    coalesced: int = 0
    error: str | None = None
    summary: dict[str, Any] | None = None
    rotate_keys: list[str] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def same_command(self, action: Action, rotate_keys: list[str]) -> bool:
        """Whether a command asks for exactly what this run does (then it joins the run)."""
        return self.action == action and set(self.rotate_keys) == set(rotate_keys)

    def describe(self) -> str:
        """What the run does, as a message names it: ``reset`` or ``reset rotating the keys of a, b``."""
        return describe_command(self.action, self.rotate_keys)

    def to_summary(self) -> RunSummary:
        """The API shape: the orchestrator's summary once there is one, else what the registry knows."""
        if self.summary is not None:
            summary = RunSummary.model_validate(self.summary)
            return summary.model_copy(update={"coalesced": self.coalesced, "source": self.source})
        failures = [Failure(participant="*", step="command", reason=self.error)] if self.error else []
        duration = None
        if self.finished_at is not None:
            duration = int((self.finished_at - self.created_at).total_seconds() * 1000)
        return RunSummary(
            id=self.id,
            dataspace=self.dataspace,
            action=self.action,
            source=self.source,
            status=self.status,
            created_at=self.created_at,
            finished_at=self.finished_at,
            duration_ms=duration,
            failures=failures,
            coalesced=self.coalesced,
        )
