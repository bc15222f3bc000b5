"""Connect a participant to its real systems: the one place that picks, from the blueprint
and settings, which secret store, DID host and cluster source a participant uses."""

from __future__ import annotations

from typing import Any

from mvd_core.dataspace.models import Participant
from mvd_core.plan.desired import PublicKeys
from mvd_core.plan.planner import Observe
from mvd_core.settings import Settings


def secret_store(participant: Participant, settings: Settings) -> Any:
    from mvd_core.platforms.secrets import open_secret_store

    return open_secret_store(participant.vault, participant.id, settings)


def did_host(participant: Participant, settings: Settings) -> Any:
    from mvd_core.platforms.didhosts import open_did_host

    return open_did_host(participant.identity.host, participant.id, settings)


def cluster_source(participant: Participant, settings: Settings) -> Any:
    from mvd_core.platforms.clusters import open_cluster_source

    return open_cluster_source(participant.cluster, participant.id, settings)


def resolve_options(participant: Participant, settings: Settings) -> dict[str, Any]:
    """How the control plane resolves a participant's DID: a ``local`` host is its own server
    (loopback, plain HTTP); every other host gets the resolver's strict settings."""
    from mvd_core.identity.resolver import options_for

    return options_for(participant.identity.host, settings)


def public_keys_for_render(settings: Settings, targets: str) -> PublicKeys:
    """Embedded targets: the file vault's key, created once if missing (render is then
    stable across runs). Declared targets: read the key if the vault can be reached; a vault
    out of reach renders the document without a key, with a warning, and creates nothing."""
    from mvd_core.errors import MvdError
    from mvd_core.identity.keys import participant_public_key
    from mvd_core.logs import get_logger

    log = get_logger(__name__)

    def public_key(participant: Participant) -> dict[str, Any] | None:
        if targets == "embedded":
            return participant_public_key(participant, settings, create=True)
        try:
            return participant_public_key(participant, settings)
        except MvdError as exc:
            log.warning("%s: did.json rendered without a key: %s", participant.id, exc.message)
            return None

    return public_key


def observer(settings: Settings, dataspace_name: str) -> Observe:
    """How `mvd plan` sees each participant's cluster: what it holds now (nothing when the
    cluster does not exist yet)."""
    from mvd_core.platforms.clusters import ClusterMissing
    from mvd_core.platforms.kubernetes import workloads

    def observe(participant: Participant) -> list[dict[str, Any]]:
        try:
            api = cluster_source(participant, settings).api_client()
        except ClusterMissing:
            return []
        return workloads.observe(api, participant.id, dataspace_name)

    return observe
