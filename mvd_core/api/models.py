"""The JSON shapes of the HTTP API, the orchestrators' custom status, and the dashboard.

These are the contract between mvd_core/workflow (which produces progress), the two hosts
(Azure Functions, `mvd serve`) and the dashboard. Field names are camelCase on the wire.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Action = Literal["provision", "reset", "teardown"]
Source = Literal["timer", "button", "webhook", "cli", "api"]
RunStatus = Literal["pending", "running", "completed", "failed"]
StepStatus = Literal["pending", "running", "done", "failed", "skipped"]


class Wire(BaseModel):
    # Every field is always sent, so the response schemas (GET /api/openapi.json) require them all.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True,
                              json_schema_serialization_defaults_required=True)

    def wire(self) -> dict:
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


class RunSummary(Wire):
    id: str
    dataspace: str
    action: Action
    source: Source
    status: RunStatus
    created_at: datetime
    finished_at: datetime | None = None
    duration_ms: int | None = None
    participants: dict[str, ParticipantProgress] = Field(default_factory=dict)
    failures: list[Failure] = Field(default_factory=list)
    coalesced: int = Field(0, description="How many later commands were answered with this run.")


class RunAccepted(Wire):
    run_id: str
    action: Action
    status_url: str
    coalesced: bool = Field(description="True when a run was already going and this is that run.")


class RuntimeView(Wire):
    connector_replicas: int
    data_plane_replicas: int
    catalog: Literal["standalone", "embedded"]
    connector_ui: bool


class ParticipantView(Wire):
    id: str
    display_name: str
    cluster_kind: str
    simulated: bool
    declared_did_host: str
    did_host: str
    did: str
    did_url: str
    resolves: bool | None = None
    resolve_error: str | None = None
    runtimes: RuntimeView


class PoisonCommand(Wire):
    id: str
    received_at: datetime
    reason: str


class DataspaceView(Wire):
    name: str
    display_name: str | None
    targets: Literal["embedded", "declared"]
    reset_schedule: str
    participants: list[ParticipantView]
    current_run: RunSummary | None = None
    last_run: RunSummary | None = None
    poison: list[PoisonCommand] = Field(default_factory=list)


class ErrorBody(Wire):
    error: str
    problems: list[str] = Field(default_factory=list)


class CommandBody(Wire):
    """The optional body of ``POST /api/dataspace/{action}``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="forbid")

    rotate_keys: list[str] = Field(
        default_factory=list,
        description="Participants whose signing key is replaced (and DID document republished) by this run.",
    )


class RunList(Wire):
    runs: list[RunSummary] = Field(description="Newest first.")


class FieldChangeView(Wire):
    path: str
    observed: object = None
    desired: object = None


class ObjectUpdate(Wire):
    object: str = Field(description="The object's key: <Kind>/<namespace>/<name>, or <Kind>/<name> when cluster-scoped.")
    fields: list[FieldChangeView]


class ParticipantPlanView(Wire):
    cluster: str
    create: list[str]
    update: list[ObjectUpdate]
    delete: list[str]
    unchanged: int


class PlanView(Wire):
    """What an apply would change, per participant (``mvd plan --json``)."""

    dataspace: str
    targets: str
    participants: dict[str, ParticipantPlanView]


class Health(Wire):
    ok: bool
    dataspace: str
    targets: str
