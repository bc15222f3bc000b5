"""Connect a participant to its real systems: the one place that picks, from the blueprint
and settings, which secret store, DID host and cluster source a participant uses.

It sits above ``platforms`` (which systems exist) and ``identity``/``plan`` (which are given
a store or an observer and never open one), next to the activities that use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from mvd_core.dataspace.models import AzureKeyVault, Participant
from mvd_core.errors import MvdError
from mvd_core.identity.keys import ensure_participant_key, public_key
from mvd_core.identity.resolver import options_for
from mvd_core.k8s.diff import ParticipantDiff
from mvd_core.logs import get_logger
from mvd_core.plan import exposure
from mvd_core.plan.cloud import makes_vault_identity
from mvd_core.plan.desired import PublicKeys
from mvd_core.plan.exposure import RUNTIMES_SERVICE_ACCOUNT
from mvd_core.plan.planner import AsRendered, Observe, PlanRuntimes, Rendering, identity_pending
from mvd_core.platforms.clusters import ClusterMissing, ClusterSource, VaultIdentity, open_cluster_source
from mvd_core.platforms.didhosts import DidHostClient, open_did_host
from mvd_core.platforms.processes import ProcessPlatform
from mvd_core.platforms.secrets import SecretStore, open_secret_store
from mvd_core.runtimes.participant import runtime_layout
from mvd_core.settings import Settings

if TYPE_CHECKING:
    from mvd_core.platforms.clusters.aks import AksClusterSource

log = get_logger(__name__)


def secret_store(participant: Participant, settings: Settings) -> SecretStore:
    return open_secret_store(participant.vault, participant.id, settings)


def did_host(participant: Participant, settings: Settings) -> DidHostClient:
    return open_did_host(participant.identity.host, participant.id, settings)


def cluster_source(participant: Participant, settings: Settings) -> ClusterSource:
    return open_cluster_source(participant.cluster, participant.id, settings)


def ensure_vault_identity(participant: Participant, source: ClusterSource) -> VaultIdentity | None:
    """The managed identity the runtimes read their Key Vault with, made (idempotently) on the
    ready AKS cluster when the control plane makes it; None when the blueprint names it or has none."""
    if not makes_vault_identity(participant):
        return None
    return cast("AksClusterSource", source).vault_identity(
        cast(AzureKeyVault, participant.vault), RUNTIMES_SERVICE_ACCOUNT
    )


def with_vault_identity(participant: Participant, identity: VaultIdentity) -> Participant:
    """The participant as the render needs it: its Key Vault read with ``identity`` (the
    ServiceAccount's annotation and the SecretProviderClass carry its client and tenant id)."""
    return exposure.with_vault_identity(participant, identity.client_id, identity.tenant_id)


def find_vault_identity(participant: Participant, settings: Settings) -> VaultIdentity | None:
    """The runtimes' Key Vault identity the cluster step made, looked up without writing; None
    while it does not exist yet, or when the control plane makes none (the blueprint names it)."""
    if not makes_vault_identity(participant):
        return None
    source = cast("AksClusterSource", cluster_source(participant, settings))
    return source.find_vault_identity(cast(AzureKeyVault, participant.vault))


def as_rendered(settings: Settings) -> AsRendered:
    """How ``mvd plan`` (and the API's plan) render a participant: with the vault identity the
    cluster step made, as a run's later steps do, so a provisioned cluster shows no change. While
    that identity does not exist yet, the plan says so and renders it as pending."""

    def rendered(participant: Participant) -> Rendering:
        if not makes_vault_identity(participant):
            return Rendering(participant=participant)
        found = find_vault_identity(participant, settings)
        if found is None:
            return identity_pending(participant)
        return Rendering(participant=with_vault_identity(participant, found))

    return rendered


def resolve_options(participant: Participant, settings: Settings) -> dict[str, Any]:
    """How the control plane resolves a participant's DID: a ``local`` host is its own server
    (loopback, plain HTTP); every other host gets the resolver's strict settings."""
    return options_for(participant.identity.host, settings)


def participant_public_key(
    participant: Participant, settings: Settings, *, create: bool = False
) -> dict[str, Any] | None:
    """The public JWK from the participant's declared vault; generated there when ``create``."""
    store = secret_store(participant, settings)
    if create:
        return ensure_participant_key(store, participant.id, participant.identity.key_type)
    return public_key(store, participant.id)


def public_keys_for_render(settings: Settings, targets: str) -> PublicKeys:
    """Local (embedded, simulated) targets: the file vault's key, created once if missing (render is then
    stable across runs). Declared targets: read the key if the vault can be reached; a vault
    out of reach renders the document without a key, with a warning, and creates nothing."""

    def public_key_of(participant: Participant) -> dict[str, Any] | None:
        if targets != "declared":
            return participant_public_key(participant, settings, create=True)
        try:
            return participant_public_key(participant, settings)
        except MvdError as exc:
            log.warning("%s: did.json rendered without a key: %s", participant.id, exc.message)
            return None

    return public_key_of


def runtime_plan(settings: Settings) -> PlanRuntimes:
    """How `mvd plan` sees a participant on local processes: each declared runtime is to start
    (not running), unchanged (running) or, when running but no longer declared, to stop.
    A running runtime whose settings changed is restarted by the next run but shown unchanged."""

    def plan(participant: Participant) -> ParticipantDiff:
        declared = runtime_layout(participant)
        platform = ProcessPlatform(settings.home)
        running = {s.name for s in platform.status(participant.id) if s.state in ("ready", "starting")}
        return ParticipantDiff(
            create=[f"process/{name}" for name in declared if name not in running],
            unchanged=[f"process/{name}" for name in declared if name in running],
            delete=[f"process/{name}" for name in sorted(running - set(declared))],
        )

    return plan


def observer(settings: Settings, dataspace_name: str) -> Observe:
    """How `mvd plan` sees each participant's cluster: what it holds now (nothing when the
    cluster does not exist yet)."""
    # Imported when used: the Kubernetes client takes over a second to import.
    from mvd_core.platforms.kubernetes import workloads

    def observe(participant: Participant) -> list[dict[str, Any]]:
        try:
            api = cluster_source(participant, settings).api_client()
        except ClusterMissing:
            return []
        return workloads.observe(api, participant.id, dataspace_name)

    return observe
