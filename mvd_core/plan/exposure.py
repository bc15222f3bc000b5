"""What a participant's namespace lets in: the Ingress for the APIs others reach, with TLS, and
the NetworkPolicies that keep everything else inside.

**Ingress.** One per participant, on its public host (``<id>.<exposure.zone>`` or its
``publicHost``), routing exactly ``PUBLIC_APIS``: the connector's DSP protocol API, the identity
hub's credential service and each data plane replica's public API. A replica's route is its
own path (``/api/public/dataplane-<i>``) to a Service selecting only that pod, because an EDR's
token is known only to the replica that issued it. TLS comes from cert-manager: the Ingress
names a ClusterIssuer (``exposure.clusterIssuer``) and cert-manager's ingress-shim obtains the
certificate into the Secret ``<id>-tls``. cert-manager over the AKS application routing add-on:
the same objects then work on AKS and on any kubeconfig cluster (kind, k3s), and certificates
are issued by ACME without a Key Vault certificate per host. The identity hub's DID API is not
routed: the DID document is served by the participant's DID host (Cloudflare, Azure Blob, S3),
published and checked before the runtimes start.

**NetworkPolicy.** ``default-deny`` refuses every connection into the namespace; one policy per
workload then lets in only what it serves: the ingress controller's namespace
(``exposure.ingressNamespace``) to the routed ports, and within the namespace exactly the
callers each API has (:data:`CALLERS`). Management, control, identity, STS and DID APIs are
reachable from no other namespace. Egress stays open: the runtimes call other participants, DID
hosts and the control plane. Kubelet probes come from the node, which NetworkPolicy does not
govern on the common CNIs (Azure CNI with Cilium or Azure NPM, Calico, k3s' kube-router).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from mvd_core.dataspace.models import AzureKeyVault, Dataspace, Participant
from mvd_core.k8s import labels as L
from mvd_core.runtimes.cluster import DATAPLANE, PUBLIC_APIS, workload_name
from mvd_core.runtimes.participant import IDENTITY_HUB_PARTICIPANT_KEY
from mvd_core.runtimes.seed import DATA_SOURCE_KEY
from mvd_core.runtimes.spec import RuntimeSpec

# The label Kubernetes (1.21+) puts on every namespace, and on a StatefulSet's pods (1.27+ on Jobs').
NAMESPACE_NAME_KEY: Final = "kubernetes.io/metadata.name"
POD_NAME_KEY: Final = "statefulset.kubernetes.io/pod-name"
JOB_NAME_KEY: Final = "batch.kubernetes.io/job-name"
CERT_MANAGER_ISSUER_KEY: Final = "cert-manager.io/cluster-issuer"
DEFAULT_DENY: Final = "default-deny"
# The ServiceAccount every pod that mounts the vault runs as: the subject infra/'s federated
# credential trusts (system:serviceaccount:<participant>:runtimes).
RUNTIMES_SERVICE_ACCOUNT: Final = "runtimes"
WORKLOAD_IDENTITY_CLIENT_KEY: Final = "azure.workload.identity/client-id"
WORKLOAD_IDENTITY_TENANT_KEY: Final = "azure.workload.identity/tenant-id"
POD_KINDS: Final = ("Deployment", "StatefulSet", "Job")
# What only the identity hub writes (to its own vault; the identity step copies it to Key Vault for
# the control plane): not in Key Vault before the runtimes start, so not in the mount (a listed
# secret that does not exist keeps every pod mounting it from starting). The STS client secret is
# listed: the vault step writes a first value, the identity step the hub's (see workflow.runtimes).
HUB_WRITTEN: Final = (IDENTITY_HUB_PARTICIPANT_KEY,)
CONNECTOR_UI: Final = "connector-ui"

# Workload -> API -> the pods of the namespace that call it: by the workload they belong to, or
# JOBS for the namespace's Jobs' pods. An API not listed (and not public) is reached by nobody.
JOBS: Final = "jobs"
CALLERS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    "connector": {
        # the seed Jobs and the dashboard's proxy (its key is the management API key)
        "management": (JOBS, CONNECTOR_UI),
        "default": (CONNECTOR_UI,),  # the dashboard's /api/check proxy
        "catalog": (CONNECTOR_UI,),  # the embedded catalog's query API, for the dashboard
        "control": (DATAPLANE,),  # data planes register themselves at boot
    },
    "identityhub": {"sts": ("connector", "catalog")},
    DATAPLANE: {"control": ("connector",)},  # the connector starts transfers on a data plane
    "catalog": {"catalog": (CONNECTOR_UI,)},
}

Meta = Callable[[str, str], dict[str, Any]]  # (name, component) -> metadata with labels and namespace


def tls_secret(participant: Participant) -> str:
    return f"{participant.id}-tls"


def replica_service(runtime: str) -> str:
    """The Service of one data plane replica (its pod only), the backend of its Ingress route."""
    return runtime


def public_routes(specs: list[RuntimeSpec]) -> list[tuple[str, str, str]]:
    """(path, Service, port name) of every API others reach, one per runtime and API."""
    routes: list[tuple[str, str, str]] = []
    for spec in specs:
        service = replica_service(spec.name) if spec.kind == "dataplane" else workload_name(spec.kind, spec.name)
        for api in PUBLIC_APIS[spec.kind]:
            route = (spec.apis[api].path, service, api)
            if route not in routes:
                routes.append(route)
    return routes


def ingress(dataspace: Dataspace, participant: Participant, specs: list[RuntimeSpec], meta: Meta) -> dict[str, Any]:
    """The participant's Ingress: its public host with TLS, the public APIs and nothing else (not
    the connector UI: the Data Dashboard hands the management API key to every browser that loads it)."""
    host = dataspace.public_host_for(participant)
    metadata = meta(participant.id, "ingress")
    metadata["annotations"] = {CERT_MANAGER_ISSUER_KEY: dataspace.exposure.cluster_issuer}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": {
            "ingressClassName": dataspace.exposure.ingress_class,
            "tls": [{"hosts": [host], "secretName": tls_secret(participant)}],
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": path,
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"name": port}}},
                            }
                            for path, service, port in public_routes(specs)
                        ]
                    },
                }
            ],
        },
    }


def replica_services(participant: Participant, specs: list[RuntimeSpec], meta: Meta) -> list[dict[str, Any]]:
    """A Service per data plane replica, selecting its pod by the name the StatefulSet gives it."""
    out = []
    for spec in specs:
        if spec.kind != "dataplane":
            continue
        public = spec.apis["public"]
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta(replica_service(spec.name), DATAPLANE),
                "spec": {
                    "selector": {L.NAME_KEY: DATAPLANE, L.PARTICIPANT_KEY: participant.id, POD_NAME_KEY: spec.name},
                    "ports": [{"name": "public", "port": public.port, "targetPort": "public"}],
                },
            }
        )
    return out


def _peer(participant: Participant, caller: str) -> dict[str, Any]:
    if caller == JOBS:
        # the offers Job and the blueprint's seed Jobs: Kubernetes labels a Job's pods with its name
        return {"podSelector": {"matchExpressions": [{"key": JOB_NAME_KEY, "operator": "Exists"}]}}
    return {"podSelector": {"matchLabels": {L.NAME_KEY: caller, L.PARTICIPANT_KEY: participant.id}}}


def network_policies(
    dataspace: Dataspace, participant: Participant, specs: list[RuntimeSpec], meta: Meta
) -> list[dict[str, Any]]:
    """``default-deny`` for the namespace, then per workload the ports it serves and to whom."""
    policies = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(DEFAULT_DENY, "network-policy"),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        }
    ]
    controller = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_KEY: dataspace.exposure.ingress_namespace}}}
    running = {workload_name(s.kind, s.name) for s in specs} | {JOBS}
    if participant.runtimes.connector_ui.enabled:
        running.add(CONNECTOR_UI)
    seen: set[str] = set()
    for spec in specs:
        workload = workload_name(spec.kind, spec.name)
        if workload in seen:
            continue
        seen.add(workload)
        rules: list[dict[str, Any]] = []
        public = [api for api in PUBLIC_APIS[spec.kind] if api in spec.apis]
        if public:
            rules.append({"from": [controller], "ports": [{"protocol": "TCP", "port": api} for api in public]})
        for api, callers in CALLERS.get(workload, {}).items():
            present = [c for c in callers if c in running]
            if api in spec.apis and present:
                rules.append(
                    {"from": [_peer(participant, c) for c in present], "ports": [{"protocol": "TCP", "port": api}]}
                )
        policies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": meta(workload, "network-policy"),
                "spec": {
                    "podSelector": {"matchLabels": {L.NAME_KEY: workload, L.PARTICIPANT_KEY: participant.id}},
                    "policyTypes": ["Ingress"],
                    "ingress": rules,
                },
            }
        )
    return policies


def exposure_objects(
    dataspace: Dataspace, participant: Participant, specs: list[RuntimeSpec], meta: Meta
) -> list[dict[str, Any]]:
    """The replicas' Services, the Ingress and the NetworkPolicies, in apply order (unhashed)."""
    return [
        *replica_services(participant, specs, meta),
        ingress(dataspace, participant, specs, meta),
        *network_policies(dataspace, participant, specs, meta),
    ]


def service_account(participant: Participant, meta: Meta) -> dict[str, Any]:
    """The namespace's ServiceAccount ``runtimes``: with a Key Vault, annotated with the managed
    identity the vault's Secrets Store CSI mount exchanges its token for (workload identity: no
    client secret). Pods get no API token: nothing in them calls the Kubernetes API."""
    metadata = meta(RUNTIMES_SERVICE_ACCOUNT, "service-account")
    vault = participant.vault
    if isinstance(vault, AzureKeyVault) and vault.client_id is not None:
        metadata["annotations"] = {WORKLOAD_IDENTITY_CLIENT_KEY: vault.client_id}
        if vault.tenant_id is not None:
            metadata["annotations"][WORKLOAD_IDENTITY_TENANT_KEY] = vault.tenant_id
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata, "automountServiceAccountToken": False}


def with_vault_identity(participant: Participant, client_id: str, tenant_id: str) -> Participant:
    """The participant as the render needs it when its Key Vault is read with an identity the
    blueprint does not name (the cluster step's): the ServiceAccount's annotation and the
    SecretProviderClass carry this client and tenant id."""
    vault = participant.vault
    if not isinstance(vault, AzureKeyVault):
        raise TypeError(f"{participant.id}'s vault is not a Key Vault")
    update = {"client_id": client_id, "tenant_id": tenant_id}
    return participant.model_copy(update={"vault": vault.model_copy(update=update)})


def mounts_vault(obj: dict[str, Any]) -> bool:
    pod = obj.get("spec", {}).get("template", {}).get("spec", {})
    return obj["kind"] in POD_KINDS and any("csi" in volume for volume in pod.get("volumes", []))


def as_runtimes_account(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of a workload or Job whose pods mount the vault, running as ``runtimes`` (unhashed)."""
    out = {**obj, "spec": {**obj["spec"], "template": {**obj["spec"]["template"]}}}
    out["spec"]["template"]["spec"] = {
        **obj["spec"]["template"]["spec"],
        "serviceAccountName": RUNTIMES_SERVICE_ACCOUNT,
    }
    return out


def vault_secret_provider(participant: Participant) -> str:
    """The SecretProviderClass every pod's vault volume names."""
    return f"{participant.id}-vault"


def vault_objects(specs: list[RuntimeSpec]) -> list[str]:
    """The Key Vault secrets the vault mount holds: every alias the runtimes read that the control
    plane writes before they start (and the data-source key their seeded assets name)."""
    aliases = {alias for spec in specs for alias in spec.secrets} | {DATA_SOURCE_KEY}
    return sorted(aliases - set(HUB_WRITTEN))


def secret_provider_class(participant: Participant, specs: list[RuntimeSpec], meta: Meta) -> dict[str, Any] | None:
    """The Azure provider's SecretProviderClass of a participant whose vault is a Key Vault read with
    workload identity (``vault.clientId``): one file per secret, named by its alias, the layout the
    runtimes' file vault reads. None for any other vault (the local file vault needs none)."""
    vault = participant.vault
    if not isinstance(vault, AzureKeyVault) or vault.client_id is None or vault.tenant_id is None:
        return None
    objects = "array:\n" + "".join(
        f"  - |\n    objectName: {alias}\n    objectType: secret\n" for alias in vault_objects(specs)
    )
    return {
        "apiVersion": "secrets-store.csi.x-k8s.io/v1",
        "kind": "SecretProviderClass",
        "metadata": meta(vault_secret_provider(participant), "vault"),
        "spec": {
            "provider": "azure",
            "parameters": {
                "usePodIdentity": "false",
                "clientID": vault.client_id,
                "keyvaultName": vault.name,
                "tenantId": vault.tenant_id,
                "objects": objects,
            },
        },
    }
