"""A participant's runtimes as they run in its Kubernetes namespace: the same RuntimeSpecs as
the processes target, on cluster hosts and the containers' fixed ports.

Each runtime answers on its Service's DNS name (``<runtime>.<namespace>.svc.cluster.local``),
except data plane replicas: they are the pods of one StatefulSet (``dataplane-0``,
``dataplane-1``... like the processes target's runtime names), each registering its own
address with the connector, ``<pod>.dataplane.<namespace>.svc.cluster.local`` through the
StatefulSet's headless Service. Ports are EDC's defaults (one pod per runtime, so runtimes
may share a port number); ``default`` is 8080 because EDC declares 8181 for both it and
``management``. The connector's DSP callback address is its public one (``https://<public host>/api/dsp``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Final

from mvd_core.dataspace.models import Participant
from mvd_core.runtimes.kinds import RuntimeKind
from mvd_core.runtimes.participant import api_path, participant_runtimes, runtime_layout
from mvd_core.runtimes.spec import RuntimeSpec

CONTAINER_PORTS: Final[Mapping[RuntimeKind, Mapping[str, int]]] = {
    "identityhub": {"default": 8080, "credentials": 13131, "identity": 15151, "did": 10100, "sts": 9292},
    "connector": {"default": 8080, "management": 8181, "protocol": 8282, "control": 9191, "catalog": 17171},
    "dataplane": {"default": 8080, "control": 9191, "public": 8185},
    "catalog": {"default": 8080, "catalog": 17171, "protocol": 8282},
}
# The APIs other participants reach from outside the cluster (through the Ingress): the DSP
# address, the identity hub's credential service, the data plane's public API. Management,
# control, STS and the rest stay inside.
PUBLIC_APIS: Final[Mapping[RuntimeKind, tuple[str, ...]]] = {
    "connector": ("protocol",),
    "identityhub": ("credentials",),
    "dataplane": ("public",),
    "catalog": (),
}
# Where a pod finds its participant's vault (the file vault's directory, mounted).
VAULT_PATH: Final = PurePosixPath("/var/run/mvd/vault")
DATAPLANE: Final = "dataplane"


def workload_name(kind: RuntimeKind, runtime: str) -> str:
    """The Deployment/StatefulSet (and Service) a runtime runs under: one per kind."""
    return DATAPLANE if kind == "dataplane" else runtime


def cluster_host(namespace: str, kind: RuntimeKind, runtime: str) -> str:
    if kind == "dataplane":
        return f"{runtime}.{DATAPLANE}.{namespace}.svc.cluster.local"
    return f"{runtime}.{namespace}.svc.cluster.local"


def public_url(public_host: str, kind: RuntimeKind, api: str, runtime: str | None = None) -> str | None:
    """The address others reach an API at, or None where it is not exposed. ``runtime`` (default:
    the kind's name) matters for data planes: each replica's public API has its own path."""
    if api not in PUBLIC_APIS[kind]:
        return None
    return f"https://{public_host}{api_path(kind, runtime or kind, api)}"


def api_url(spec: RuntimeSpec, api: str) -> str:
    """The in-cluster URL of one of a runtime's APIs (its ``edc.hostname`` is its cluster host)."""
    endpoint = spec.apis[api]
    return f"http://{spec.settings['edc.hostname']}:{endpoint.port}{endpoint.path}"


def cluster_runtimes(
    participant: Participant,
    *,
    namespace: str,
    public_host: str,
    did: str,
    issuer_did: str,
    participant_list_url: str,
    did_web_https: bool,
) -> list[RuntimeSpec]:
    """The participant's RuntimeSpecs as its namespace runs them, in start order."""
    layout = runtime_layout(participant)
    return participant_runtimes(
        participant,
        did=did,
        issuer_did=issuer_did,
        participant_list_url=participant_list_url,
        vault_path=VAULT_PATH,
        ports=lambda runtime, api: CONTAINER_PORTS[layout[runtime]][api],
        hosts=lambda runtime: cluster_host(namespace, layout[runtime], runtime),
        public_urls=lambda runtime, api: public_url(public_host, layout[runtime], api, runtime),
        did_web_https=did_web_https,
    )
