"""Where the dataspace's runtimes answer: the participant list every catalog crawler reads
(``GET /api/dataspace/participants.json``, public) and each participant's management and DSP
addresses (``GET /api/dataspace/endpoints``, ``mvd endpoints``).

Both read the ports a provision recorded and allocate nothing, so a read never changes what
a later provision publishes."""

from __future__ import annotations

from mvd_core.api.models import (
    EndpointsView,
    IssuerEndpoints,
    ParticipantEndpoints,
    ParticipantList,
    ParticipantListEntry,
)
from mvd_core.dataspace import Dataspace
from mvd_core.dataspace.models import Participant
from mvd_core.onboarding import onboarded
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.render import public_endpoints
from mvd_core.platforms.edc.management import DSP_PROTOCOL
from mvd_core.settings import Settings
from mvd_core.workflow import runtimes

NOT_PROVISIONED = "its runtimes have no ports yet: run `mvd provision` (or `mvd up`)"


def _on_a_cluster(participant: Participant) -> bool:
    """Whether the participant's runtimes run on a real cluster (AKS, kubeconfig), where its
    DSP address is the one its Ingress routes (``mvd_core.plan.render``)."""
    return participant.cluster.kind in ("aks", "kubeconfig")


def _protocol_url(dataspace: Dataspace, participant: Participant, did: str, settings: Settings) -> str | None:
    """The DSP address a counter-party is given: on this machine from the recorded ports (None
    before a provision), on a cluster the public one; None on a simulated cluster."""
    if runtimes.on_processes(participant):
        specs = runtimes.recorded_specs(participant, did, settings)
        return None if specs is None else runtimes.protocol_url(specs)
    if _on_a_cluster(participant):
        return public_endpoints(dataspace, participant, did)["protocol"]
    return None


def participant_list(dataspace: Dataspace, settings: Settings) -> ParticipantList:
    """Each participant whose EDC runtimes run on this machine (once a provision gave them
    ports) or on a cluster, then each onboarded one: its id, DID and DSP address."""
    dids = dataspace_dids(dataspace, settings)
    entries = []
    for participant in dataspace.participants:
        url = _protocol_url(dataspace, participant, dids[participant.id], settings)
        if url is None:
            continue
        entries.append(
            ParticipantListEntry(
                name=participant.id, id=dids[participant.id], url=url, supported_protocols=[DSP_PROTOCOL]
            )
        )
    # Participants that joined since the last reset (POST /api/participants), until it removes them.
    for joined in onboarded(settings):
        entries.append(
            ParticipantListEntry(
                name=joined.participant_id, id=joined.did, url=joined.protocol_url, supported_protocols=[DSP_PROTOCOL]
            )
        )
    return ParticipantList(entries)


def _unreachable(participant: Participant) -> str:
    kind = participant.cluster.kind
    if kind == "simulated":
        return "simulated cluster: no EDC runtime runs (MVD_TARGETS=embedded runs them as local processes)"
    return f"runs on its {kind} cluster, whose addresses this control plane does not record"


def participant_endpoints(participant: Participant, did: str, settings: Settings) -> ParticipantEndpoints:
    if not runtimes.on_processes(participant):
        return ParticipantEndpoints(
            did=did, management=None, protocol=None, management_api_key_file=None, note=_unreachable(participant)
        )
    specs = runtimes.recorded_specs(participant, did, settings)
    key_file = runtimes.management_key_file(participant, settings)
    key = str(key_file.absolute()) if key_file.is_file() else None
    if specs is None:
        return ParticipantEndpoints(
            did=did, management=None, protocol=None, management_api_key_file=key, note=NOT_PROVISIONED
        )
    return ParticipantEndpoints(
        did=did,
        management=runtimes.management_url(specs),
        protocol=runtimes.protocol_url(specs),
        management_api_key_file=key,
        note=None if key else "no management API key in the vault yet: run `mvd provision`",
    )


def endpoints(dataspace: Dataspace, settings: Settings) -> EndpointsView:
    dids = dataspace_dids(dataspace, settings)
    return EndpointsView(
        participants={p.id: participant_endpoints(p, dids[p.id], settings) for p in dataspace.participants},
        issuer=IssuerEndpoints(did=runtimes.issuer_did(settings)),
    )
