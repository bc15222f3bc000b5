"""The JSON shapes of the HTTP API and the dashboard beyond the runs themselves (those are
``mvd_core.runs``): the dataspace view, the plan, errors and request bodies. Field names are
camelCase on the wire.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, RootModel

from mvd_core.runs.models import PoisonCommand, RunSummary, Wire


class RuntimeView(Wire):
    connector_replicas: int
    data_plane_replicas: int
    catalog: Literal["standalone", "embedded"]
    connector_ui: bool


class CatalogView(Wire):
    """What the participant's federated catalog has found: None and a note when it cannot say."""

    datasets: int | None = None
    participants: int | None = None
    note: str | None = None


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
    catalog: CatalogView | None = None


class DataspaceView(Wire):
    name: str
    display_name: str | None
    targets: Literal["embedded", "simulated", "declared"]
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

    model_config = ConfigDict(alias_generator=None, populate_by_name=False, extra="forbid")

    rotate_keys: list[str] = Field(
        default_factory=list,
        alias="rotateKeys",
        description="Participants whose signing key is replaced (and DID document republished) by this run.",
    )


class RunList(Wire):
    runs: list[RunSummary] = Field(description="Newest first.")


class FieldChangeView(Wire):
    path: str
    observed: object = None
    desired: object = None


class ObjectUpdate(Wire):
    object: str = Field(
        description="The object's key: <Kind>/<namespace>/<name>, or <Kind>/<name> when cluster-scoped."
    )
    fields: list[FieldChangeView]


class ParticipantPlanView(Wire):
    cluster: str
    note: str | None = Field(
        default=None, description="Why what is shown is not yet what a run applies (its vault identity is to be made)."
    )
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


class ParticipantListEntry(Wire):
    """One node of the dataspace's participant list, as EDC's crawler reads it (its TargetNode)."""

    name: str = Field(description="The participant id.")
    id: str = Field(description="The participant's DID.")
    url: str = Field(description="Its DSP address.")
    supported_protocols: list[str]


class ParticipantList(RootModel[list[ParticipantListEntry]]):
    """``GET /api/dataspace/participants.json``: every participant whose EDC runtimes run on this
    machine; what every catalog crawler of the dataspace reads (``edc.catalog.nodes.url``)."""


class ParticipantEndpoints(Wire):
    did: str
    management: str | None = Field(description="The management API's base; EDC's /v3/... paths go after it.")
    protocol: str | None = Field(description="The DSP address a counter-party is given.")
    data_dashboard: str | None = None
    management_api_key_file: str | None = Field(
        description="The 0600 file holding the management API key (X-Api-Key), never the key itself."
    )
    note: str | None = Field(None, description="Why an address is null.")


class IssuerEndpoints(Wire):
    did: str


class EndpointsView(Wire):
    """``GET /api/dataspace/endpoints`` (``mvd endpoints --json``): where to reach each participant."""

    participants: dict[str, ParticipantEndpoints]
    issuer: IssuerEndpoints
