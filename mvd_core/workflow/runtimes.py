"""The processes target: a participant's EDC runtimes as processes on this machine.

What the activities need beyond the platform itself: the participant's runtime specs (on
ports the platform allocated once, so DIDs and documents stay stable), the secrets its
runtimes read from its vault, its identity hub participant context with the control plane's
key and its MembershipCredential from the dataspace issuer, and a DSP catalog request from
one participant to another (the proof that the dataspace works).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from mvd_core.dataspace.models import Participant
from mvd_core.errors import MvdError
from mvd_core.identity import keys
from mvd_core.plan.trust import issuer_did, participant_list_url
from mvd_core.platforms.edc.identityhub import (
    CreatedParticipant,
    CredentialRequestItem,
    IdentityHub,
    KeyDescriptor,
    ParticipantExists,
    ParticipantManifest,
    SecureTokenService,
)
from mvd_core.platforms.edc.management import FederatedCatalog, ManagementApi
from mvd_core.platforms.processes import ApplyResult, ProcessPlatform, RuntimeState, find_java
from mvd_core.platforms.secrets import SecretStore
from mvd_core.runtimes.assembly import assemble
from mvd_core.runtimes.kinds import EDC_VERSION
from mvd_core.runtimes.participant import (
    DATAPLANE_TOKEN_PRIVATE_KEY,
    DATAPLANE_TOKEN_PUBLIC_KEY,
    DSP_VERSION_PATH,
    IDENTITY_HUB_PARTICIPANT_KEY,
    IDENTITY_HUB_SUPERUSER_KEY,
    MANAGEMENT_API_KEY,
    STS_CLIENT_SECRET,
    context_id,
    participant_runtimes,
    required_ports,
)
from mvd_core.runtimes.spec import RuntimeSpec
from mvd_core.settings import Settings
from mvd_core.workflow.seed import DATA_SOURCE_KEY

MEMBERSHIP = [CredentialRequestItem(format="VC1_0_JWT", type="MembershipCredential", id="membership-credential")]
CREDENTIAL_TIMEOUT = 90.0


def on_processes(participant: Participant) -> bool:
    return participant.cluster.kind == "processes"


def platform(settings: Settings) -> ProcessPlatform:
    return ProcessPlatform(settings.home)


def platform_check() -> str:
    """Java is there and the runtimes are assembled (the first time from Maven Central, a few
    minutes; then from the cache). What runs them, for the step's detail."""
    java = find_java()
    assemble()
    return f"EDC {EDC_VERSION} on {java}"


def specs(participant: Participant, did: str, settings: Settings) -> list[RuntimeSpec]:
    """The participant's runtimes, on the ports recorded for it (allocated on first use)."""
    ports = platform(settings).allocate_ports(participant.id, required_ports(participant))
    return _on_ports(participant, did, settings, ports)


def recorded_specs(participant: Participant, did: str, settings: Settings) -> list[RuntimeSpec] | None:
    """The participant's runtimes on the ports recorded for it, or None before a provision
    allocated them: for reads (the participant list, endpoints), which allocate nothing."""
    recorded = platform(settings).recorded_ports(participant.id)
    wanted = required_ports(participant)
    if any(api not in recorded.get(name, {}) for name, apis in wanted.items() for api in apis):
        return None
    return _on_ports(participant, did, settings, recorded)


def management_key_file(participant: Participant, settings: Settings) -> Path:
    """The file of the participant's management API key in the vault its runtimes read (0600)."""
    return settings.home / "vaults" / participant.id / MANAGEMENT_API_KEY


def _on_ports(
    participant: Participant, did: str, settings: Settings, ports: Mapping[str, Mapping[str, int]]
) -> list[RuntimeSpec]:
    return participant_runtimes(
        participant,
        did=did,
        issuer_did=issuer_did(settings),
        participant_list_url=participant_list_url(settings),
        vault_path=(settings.home / "vaults" / participant.id).absolute(),
        ports=ports,
    )


def describe(result: ApplyResult) -> str:
    parts = [
        f"{len(names)} {what}"
        for names, what in (
            (result.started, "started"),
            (result.restarted, "restarted"),
            (result.waiting, "waiting for their dependencies"),
            (result.unchanged, "running unchanged"),
            (result.failed, "failed to start"),
        )
        if names
    ]
    return ", ".join(parts) or "no runtime declared"


def describe_failure(state: RuntimeState, lines: int = 5) -> str:
    tail = " | ".join(line.strip() for line in state.log_tail[-lines:] if line.strip())
    return f"{state.name} {state.state}: {state.detail or 'no detail'}" + (
        f" (log {state.log}: {tail})" if tail else ""
    )


def by_name(runtime_specs: Sequence[RuntimeSpec], name: str) -> RuntimeSpec:
    for spec in runtime_specs:
        if spec.name == name:
            return spec
    raise MvdError(f"no runtime {name!r} among {[s.name for s in runtime_specs]}")


def credential_service_url(runtime_specs: Sequence[RuntimeSpec], did: str) -> str:
    return f"{by_name(runtime_specs, 'identityhub').url('credentials')}/v1/participants/{context_id(did)}"


def protocol_url(runtime_specs: Sequence[RuntimeSpec]) -> str:
    """The DSP address a counter-party is given (EDC serves DSP 2025-1 under it)."""
    return by_name(runtime_specs, "connector").url("protocol") + DSP_VERSION_PATH


def management_url(runtime_specs: Sequence[RuntimeSpec]) -> str:
    """The base EDC's ``/v3/...`` management paths are appended to."""
    return by_name(runtime_specs, "connector").url("management")


def ensure_secrets(store: SecretStore) -> list[str]:
    """The secrets the runtimes read from the vault, created once: the management API key,
    the data plane's token key pair, the identity hub's admin key, and the data-source key the
    data planes send when they fetch the participant's seeded datasets from the control plane.
    Returns what was created.

    The STS client secret gets a first value too, which nobody accepts: the identity hub generates
    its own when the identity step creates the participant context, and the step writes that one
    here. Its mere presence lets a cluster's vault mount list it from the start (a listed secret
    that does not exist keeps the connector and the catalog from starting)."""
    created = []
    for name in (MANAGEMENT_API_KEY, DATA_SOURCE_KEY, STS_CLIENT_SECRET):
        if store.get(name) is None:
            store.set(name, secrets.token_urlsafe(32))
            created.append(name)
    if store.get(IDENTITY_HUB_SUPERUSER_KEY) is None:
        # the identity hub's API key format: base64(<participant context id>).<random>
        store.set(
            IDENTITY_HUB_SUPERUSER_KEY, base64.b64encode(b"super-user").decode() + "." + secrets.token_urlsafe(32)
        )
        created.append(IDENTITY_HUB_SUPERUSER_KEY)
    if store.get(DATAPLANE_TOKEN_PRIVATE_KEY) is None or store.get(DATAPLANE_TOKEN_PUBLIC_KEY) is None:
        key = ec.generate_private_key(ec.SECP256R1())
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        store.set(DATAPLANE_TOKEN_PRIVATE_KEY, private.decode())
        store.set(DATAPLANE_TOKEN_PUBLIC_KEY, public.decode())
        created.append(DATAPLANE_TOKEN_PRIVATE_KEY)
    return created


def _required(store: SecretStore, name: str) -> str:
    value = store.get(name)
    if value is None:
        raise MvdError(f"{name} is missing from {store.description}: run a provision")
    return value


def participant_manifest(did: str, key_owner: str, jwk: dict[str, Any]) -> ParticipantManifest:
    """The identity hub participant context for ``did`` with the key the control plane made
    (``key_owner``'s in the vault, so the DID document's key id is the one the runtimes sign
    with); the hub writes its API key and STS client secret into the vault under our aliases."""
    return ParticipantManifest(
        participant_context_id=did,
        did=did,
        api_key_alias=IDENTITY_HUB_PARTICIPANT_KEY,
        key=KeyDescriptor(
            key_id=f"{did}#{jwk['kid']}",
            private_key_alias=keys.secret_name(key_owner),
            public_key_jwk=keys.public_jwk(jwk),
        ),
        additional_properties={"clientSecret": STS_CLIENT_SECRET},
    )


@dataclass(frozen=True)
class HubEndpoints:
    """Where the control plane reaches a participant's identity hub: its identity (admin) API and
    its STS API (the processes' own ports, or a cluster pod's through a port-forward)."""

    identity: str
    sts: str


def hub_endpoints(runtime_specs: Sequence[RuntimeSpec]) -> HubEndpoints:
    """The processes target's: the identity hub runtime's own ports on this machine."""
    hub = by_name(runtime_specs, "identityhub")
    return HubEndpoints(identity=hub.url("identity"), sts=hub.url("sts"))


def enroll(
    participant: Participant,
    did: str,
    hub: HubEndpoints,
    store: SecretStore,
    settings: Settings,
    holder_pid: str,
) -> str:
    """The participant's context in its identity hub with the control plane's key (so the DID
    document's key id is the one the runtimes sign with), then its MembershipCredential from the
    dataspace issuer over DCP, waited for until ISSUED. Idempotent: an existing context whose STS
    secret the vault holds and an issued credential are kept."""
    jwk = keys.public_key(store, participant.id)
    if jwk is None:
        raise MvdError(f"{participant.id} has no signing key in its vault yet")
    runtime = f"{participant.id}/identityhub"
    admin = IdentityHub(hub.identity, runtime=runtime, api_key=_required(store, IDENTITY_HUB_SUPERUSER_KEY))
    sts = SecureTokenService(hub.sts, runtime=runtime)
    try:
        admin.wait_until_admin()
        context = _ensure_context(admin, sts, participant_manifest(did, participant.id, jwk), store)
        holder = admin.as_participant(_required(store, IDENTITY_HUB_PARTICIPANT_KEY))
        issuer = issuer_did(settings)
        if any(c.issuer == issuer and "MembershipCredential" in c.types for c in holder.credentials(did)):
            return f"{context}, MembershipCredential already held"
        if holder.credential_request(did, holder_pid) is None:
            holder.request_credentials(did, issuer_did=issuer, holder_pid=holder_pid, credentials=MEMBERSHIP)
        holder.wait_for_credentials(did, holder_pid, timeout=CREDENTIAL_TIMEOUT)
        return f"{context}, MembershipCredential issued by {issuer}"
    finally:
        sts.close()
        admin.close()


def _ensure_context(
    admin: IdentityHub, sts: SecureTokenService, manifest: ParticipantManifest, store: SecretStore
) -> str:
    """The participant context, with its API key and STS client secret in the participant's vault.

    IdentityHub 0.15.1 generates the STS client secret at creation (whatever its vault held at the
    alias), writes it to its own vault and returns it once, in the answer. Where the hub's vault is
    the participant's (processes) the answer's values are already there; on a cluster the hub's
    vault is its pod's memory volume, so they are written to the participant's vault here, where the
    connector and the catalog read the STS secret. A context that exists is kept when the hub's STS
    accepts the vault's secret; otherwise (a step killed between the hub's answer and the vault
    write) it is deleted and created again, the only way to learn its keys."""
    did = manifest.did
    try:
        _keep_keys(store, admin.create_participant(manifest))
        return "participant context created"
    except ParticipantExists:
        secret = store.get(STS_CLIENT_SECRET)
        if (
            store.get(IDENTITY_HUB_PARTICIPANT_KEY) is not None
            and secret is not None
            and sts.accepts(did, SecretStr(secret))
        ):
            return "participant context kept"
    admin.delete_participant(manifest.participant_context_id)
    _keep_keys(store, admin.create_participant(manifest))
    return "participant context re-created (the vault did not hold its STS client secret)"


def _keep_keys(store: SecretStore, created: CreatedParticipant) -> None:
    for name, value in (
        (IDENTITY_HUB_PARTICIPANT_KEY, created.api_key.get_secret_value()),
        (STS_CLIENT_SECRET, created.client_secret.get_secret_value()),
    ):
        if store.get(name) != value:
            store.set(name, value)


def management_api(runtime_specs: Sequence[RuntimeSpec], store: SecretStore) -> ManagementApi:
    """A client of the participant's connector's management API with the key from its vault."""
    connector = by_name(runtime_specs, "connector")
    return ManagementApi(
        management_url(runtime_specs),
        runtime=f"{connector.participant}/connector",
        api_key=_required(store, MANAGEMENT_API_KEY),
    )


def catalog_runtime(runtime_specs: Sequence[RuntimeSpec]) -> RuntimeSpec:
    """The runtime whose federated catalog crawls for the participant: its standalone catalog,
    else its connector (the embedded crawler)."""
    names = {spec.name for spec in runtime_specs}
    return by_name(runtime_specs, "catalog" if "catalog" in names else "connector")


def catalog_findings(runtime_specs: Sequence[RuntimeSpec], *, timeout: float = 3.0) -> tuple[int, int]:
    """What the participant's federated catalog has crawled so far: (datasets, participants
    whose catalogs it holds). EdcApiError when it does not answer."""
    spec = catalog_runtime(runtime_specs)
    api = FederatedCatalog(spec.url("catalog"), runtime=f"{spec.participant}/{spec.name}", timeout=timeout)
    try:
        catalogs = api.query()
    finally:
        api.close()
    return sum(len(c.datasets) for c in catalogs), len({c.participant_id for c in catalogs})


def catalog_request(
    requester: Sequence[RuntimeSpec], store: SecretStore, provider_did: str, provider: Sequence[RuntimeSpec]
) -> int:
    """A DCP-authenticated DSP catalog request from ``requester`` to ``provider`` through the
    requester's management API; the number of datasets the provider offers it."""
    api = management_api(requester, store)
    try:
        api.wait_until_serving()
        catalog = api.request_catalog(protocol_url(provider), provider_did)
        return len(catalog.datasets)
    finally:
        api.close()
