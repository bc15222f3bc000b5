"""What a run is, as the registry keeps it and as the API, the orchestrators' custom status
and the dashboard show it. Field names are camelCase on the wire."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from mvd_core.errors import MvdError

Action = Literal["provision", "reset", "teardown"]
# recovery: `mvd serve`/`mvd up` restarted runtimes that had stopped with an earlier process
Source = Literal["timer", "button", "webhook", "cli", "api", "recovery"]
RunStatus = Literal["pending", "running", "completed", "failed"]
StepStatus = Literal["pending", "running", "done", "failed", "skipped"]

# Used with fullmatch, in ASCII: "$" also matches before a final newline, "\d" any Unicode digit.
RUN_ID_PATTERN = re.compile(r"mvd-[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?-[0-9]{8}T[0-9]{6}-[0-9a-f]{6}")
FINISHED: frozenset[str] = frozenset({"completed", "failed"})


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_run_id(dataspace: str, now: datetime | None = None) -> str:
    """``mvd-<dataspace>-<yyyymmddThhmmss>-<6 hex>``: unique per run, sortable by time."""
    stamp = (now or utcnow()).astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    return f"mvd-{dataspace}-{stamp}-{secrets.token_hex(3)}"


def check_run_id(run_id: str) -> str:
    """``run_id`` when it is one, else an MvdError (400) saying what a run id looks like."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise MvdError(f"{run_id[:80]!r} is not a run id (expected mvd-<dataspace>-<yyyymmddThhmmss>-<6 hex>)")
    return run_id


def describe_command(action: str, rotate_keys: list[str]) -> str:
    return f"{action} rotating the keys of {', '.join(sorted(rotate_keys))}" if rotate_keys else action


class Wire(BaseModel):
    # Every field is always sent, so the response schemas (GET /api/openapi.json) require them all.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, json_schema_serialization_defaults_required=True
    )

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class StepState(Wire):
    name: str
    status: StepStatus = "pending"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    detail: str | None = None
    error: str | None = None


class ParticipantProgress(Wire):
    participant: str
    status: StepStatus = "pending"
    current_step: str | None = None
    steps: list[StepState] = Field(default_factory=list)
    error: str | None = None


class Failure(Wire):
    participant: str
    step: str
    reason: str


class Removal(Wire):
    """An onboarded participant a run removed (a reset removes them all), its credentials revoked."""

    did: str
    participant_id: str
    joined_at: datetime
    removed_at: datetime | None
    revoked: bool = Field(description="Whether its MembershipCredentials are revoked on the issuer's status list.")


class Run(Wire):
    """What the run registry and the API say alike about a run."""

    id: str
    dataspace: str
    action: Action
    source: Source
    status: RunStatus
    created_at: datetime
    finished_at: datetime | None = None
    coalesced: int = Field(0, description="How many later commands were answered with this run.")

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class RunSummary(Run):
    """A run as the API shows it, and as the dataspace orchestrator records it when it ends."""

    duration_ms: int | None = None
    participants: dict[str, ParticipantProgress] = Field(default_factory=dict)
    failures: list[Failure] = Field(default_factory=list)
    # What the verify step proved works (a data exchange per provider), one sentence each.
    verified: list[str] = Field(default_factory=list)
    # Onboarded participants this run removed (a reset removes every one).
    removed: list[Removal] = Field(default_factory=list)


class RunRecord(Run):
    """One row of the run index: the run, the command it carries out, and its outcome (the
    orchestrator's summary, as recorded, or why it failed without one)."""

    status: RunStatus = "pending"
    error: str | None = None
    summary: dict[str, Any] | None = None
    rotate_keys: list[str] = Field(default_factory=list)

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


class RunAccepted(Wire):
    """The answer to a command: the run it started, or the one already going that it joined."""

    run_id: str
    action: Action
    status_url: str
    coalesced: bool = Field(description="True when a run was already going and this is that run.")


class PoisonCommand(Wire):
    """A command that could not be processed, kept to be shown."""

    id: str
    received_at: datetime
    reason: str
