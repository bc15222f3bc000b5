"""The identity step on a cluster (simulated, kubeconfig, AKS): what the processes target's
``runtimes.enroll`` does, through the cluster.

The identity hub's identity and STS APIs stay closed to every pod (NetworkPolicy); the control
plane reaches them with a port-forward through the Kubernetes API to a ready identity hub pod,
which NetworkPolicy does not govern and which needs no Ingress. ``enroll`` then creates the
participant context and requests the MembershipCredential exactly as on the processes target,
and writes the STS client secret the hub generated to the participant's vault. The connector and
the standalone catalog read that secret from their vault mount, which is filled when a pod
starts, so they are restarted whenever the secret they were started with is not the vault's: a
stamp on their pod template (a digest of the secret, not the secret) says which one they got,
which makes the step idempotent and a killed step's re-run finish the restart.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from kubernetes import client as k8s

from mvd_core.dataspace.models import Dataspace, Participant, SimulatedCluster
from mvd_core.errors import MvdError
from mvd_core.k8s import labels as L
from mvd_core.plan.render import participant_specs
from mvd_core.platforms.kubernetes import workloads
from mvd_core.platforms.kubernetes.portforward import PodForward, ready_pod
from mvd_core.platforms.secrets import SecretStore
from mvd_core.runtimes.cluster import workload_name
from mvd_core.runtimes.participant import STS_CLIENT_SECRET
from mvd_core.settings import Settings
from mvd_core.workflow import runtimes

# The pod template annotation naming (by digest) the STS client secret its pods were started with.
STS_SECRET_STAMP: Final = "mvd.dataspace/sts-secret"


def hub_selector(participant: Participant) -> str:
    return f"{L.NAME_KEY}=identityhub,{L.PARTICIPANT_KEY}={participant.id}"


def secret_stamp(secret: str) -> str:
    """What the pod template carries for ``secret``: a digest, enough to tell two secrets apart."""
    return "sha256-" + hashlib.sha256(secret.encode()).hexdigest()[:16]


def enroll_on_cluster(
    dataspace: Dataspace,
    participant: Participant,
    dids: dict[str, str],
    api: k8s.ApiClient,
    store: SecretStore,
    settings: Settings,
    desired: list[dict[str, Any]],
    holder_pid: str,
) -> dict[str, Any]:
    """The participant's identity hub context and MembershipCredential through a port-forward to
    its hub pod, then its STS client secret's readers restarted onto the vault's value."""
    pod = ready_pod(api, participant.id, hub_selector(participant))
    if pod is None:
        if isinstance(participant.cluster, SimulatedCluster):
            return {
                "skipped": True,
                "detail": "nothing ran: a simulated cluster runs no runtimes, so no identity hub pod to enroll with",
            }
        raise MvdError(f"no ready identity hub pod in namespace {participant.id} ({hub_selector(participant)})")
    specs = participant_specs(dataspace, participant, dids, settings)
    hub = runtimes.by_name(specs, "identityhub")
    identity, sts = hub.apis["identity"], hub.apis["sts"]
    with PodForward(api, participant.id, pod, [identity.port, sts.port]) as forward:
        endpoints = runtimes.HubEndpoints(
            identity=forward.url(identity.port, identity.path), sts=forward.url(sts.port, sts.path)
        )
        try:
            detail = runtimes.enroll(participant, dids[participant.id], endpoints, store, settings, holder_pid)
        except MvdError as exc:
            errors = forward.describe_errors()
            if errors:
                raise MvdError(f"{exc.message} (port-forward to pod {pod}: {errors})") from None
            raise
    restarted = restart_sts_readers(api, desired, store)
    readers = [o["metadata"]["name"] for o in desired if _reads_sts_secret(o)]
    if restarted:
        detail += f"; {', '.join(restarted)} restarted onto the hub's STS client secret"
    elif readers:
        detail += f"; {', '.join(readers)} already run with the hub's STS client secret"
    return {"detail": f"through a port-forward to pod {pod}: {detail}"}


def _reads_sts_secret(obj: dict[str, Any]) -> bool:
    return obj["kind"] == "Deployment" and obj["metadata"]["name"] in STS_READERS


# The workloads whose runtimes authenticate at the hub's STS (edc.iam.sts.oauth.client.secret.alias).
STS_READERS: Final = frozenset({workload_name("connector", "connector"), workload_name("catalog", "catalog")})


def restart_sts_readers(api: k8s.ApiClient, desired: list[dict[str, Any]], store: SecretStore) -> list[str]:
    """Restart the connector and the standalone catalog unless their pods were started with the
    vault's STS client secret; what was restarted (nothing on a second run)."""
    secret = store.get(STS_CLIENT_SECRET)
    if secret is None:
        raise MvdError(f"{STS_CLIENT_SECRET} is missing from {store.description} after the identity hub answered")
    readers = [o for o in desired if _reads_sts_secret(o)]
    restarted = workloads.restart(api, readers, secret_stamp(secret), annotation=STS_SECRET_STAMP)
    return [key.rsplit("/", 1)[-1] for key in restarted]  # Deployment/<ns>/<name> -> <name>
