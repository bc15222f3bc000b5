"""The whole desired state of a dataspace: per participant its DID, did.json URL, DID
document, Kubernetes objects and cloud resources. ``mvd render``, ``mvd plan`` and the
workflow all start here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from mvd_core.dataspace.models import Dataspace, LocalDidHost, Participant
from mvd_core.identity.didweb import did_for, did_to_url
from mvd_core.identity.document import build_did_document
from mvd_core.plan.cloud import cloud_resources
from mvd_core.plan.render import public_endpoints, render_participant
from mvd_core.settings import Settings


class ParticipantState(BaseModel):
    model_config = ConfigDict(frozen=True)

    participant: Participant
    did: str
    did_url: str
    did_document: dict[str, Any]
    objects: list[dict[str, Any]]
    cloud: list[dict[str, Any]]


def participant_did(participant: Participant, settings: Settings) -> str:
    return did_for(participant.identity.host, participant.id, local_base_url=settings.base_url)


def did_url(participant: Participant, settings: Settings) -> str:
    did = participant_did(participant, settings)
    scheme = (
        "http"
        if isinstance(participant.identity.host, LocalDidHost) and settings.base_url.startswith("http:")
        else "https"
    )
    return did_to_url(did, scheme=scheme)


def dataspace_dids(dataspace: Dataspace, settings: Settings) -> dict[str, str]:
    return {p.id: participant_did(p, settings) for p in dataspace.participants}


def did_document(
    dataspace: Dataspace, participant: Participant, did: str, public_jwk: dict[str, Any] | None
) -> dict[str, Any]:
    endpoints = public_endpoints(dataspace, participant, did)
    return build_did_document(
        did,
        public_jwk,
        credential_service_url=endpoints["credential_service"],
        protocol_url=endpoints["protocol"],
    )


def participant_state(
    dataspace: Dataspace, participant: Participant, settings: Settings, public_jwk: dict[str, Any] | None
) -> ParticipantState:
    dids = dataspace_dids(dataspace, settings)
    did = dids[participant.id]
    return ParticipantState(
        participant=participant,
        did=did,
        did_url=did_url(participant, settings),
        did_document=did_document(dataspace, participant, did, public_jwk),
        objects=render_participant(dataspace, participant, dids, settings),
        cloud=cloud_resources(participant),
    )


PublicKeys = Callable[[Participant], "dict[str, Any] | None"]


def render_dataspace(dataspace: Dataspace, settings: Settings, public_keys: PublicKeys) -> list[ParticipantState]:
    return [participant_state(dataspace, p, settings, public_keys(p)) for p in dataspace.participants]
