"""Connect a participant to its real systems: the one place that picks, from the blueprint
and settings, which secret store, DID host and cluster source a participant uses."""

from __future__ import annotations

from typing import Any

from mvd_core.blueprint.models import Participant
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


def resolve_options(settings: Settings) -> dict[str, Any]:
    """How the control plane resolves DIDs it publishes: embedded targets serve them over
    plain HTTP on loopback, so that is allowed there and only there."""
    from mvd_core.identity.resolver import options_from

    options = options_from(settings)
    if settings.targets == "embedded":
        options.update(allow_http_loopback=True, allow_private=True)
    return options


def public_keys_for_render(settings: Settings, targets: str) -> PublicKeys:
    """Embedded targets: the file vault's key, created once if missing (render is then
    stable across runs). Declared targets: read the key if there is one, create nothing."""
    from mvd_core.identity import keys

    def public_key(participant: Participant) -> dict[str, Any] | None:
        store = secret_store(participant, settings)
        if targets == "embedded":
            return keys.ensure_participant_key(store, participant.id, participant.identity.key_type)
        return keys.public_key(store, participant.id)

    return public_key


def observer(settings: Settings, dataspace_name: str) -> Observe:
    """How `mvd plan` sees each participant's cluster: what it holds now."""
    from mvd_core.platforms.kubernetes import workloads

    def observe(participant: Participant) -> list[dict[str, Any]]:
        source = cluster_source(participant, settings)
        return workloads.observe(source.api_client(), participant.id, dataspace_name)

    return observe
