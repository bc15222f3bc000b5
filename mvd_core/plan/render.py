"""Render a participant's desired Kubernetes objects from the same RuntimeSpecs the processes
target runs (``mvd_core.runtimes.cluster``: cluster hosts, the containers' fixed ports).

One namespace per participant (its id). Per runtime a ConfigMap ``<runtime>-settings``
holding its settings as the properties file EDC reads (``-Dedc.fs.config``). Per runtime
kind one workload and one Service with a port per API: Deployments ``identityhub``,
``connector`` and ``catalog`` (when standalone), and a StatefulSet ``dataplane`` whose pods
``dataplane-<i>`` are the spec's runtimes of those names, so each replica registers its own
address with the connector. The connector UI (image only), an Ingress for the APIs others
reach from outside, and the blueprint's seed Jobs. Output is deterministic: same blueprint
and DIDs, same objects, same spec hashes.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from mvd_core.dataspace.models import Dataspace, LocalDidHost, Participant, SeedJob
from mvd_core.k8s import labels as L
from mvd_core.plan.trust import issuer_did, participant_list_url
from mvd_core.runtimes.assembly import JVM_FLAGS
from mvd_core.runtimes.cluster import (
    DATAPLANE,
    PUBLIC_APIS,
    VAULT_PATH,
    api_url,
    cluster_runtimes,
    public_url,
    workload_name,
)
from mvd_core.runtimes.participant import DSP_VERSION_PATH, context_id
from mvd_core.runtimes.spec import RuntimeSpec
from mvd_core.settings import Settings

CONNECTOR_UI: Final = "connector-ui"
CONNECTOR_UI_PORT: Final = 80
SETTINGS_DIR: Final = "/etc/mvd"
# The Secrets Store CSI driver mounts the participant's Key Vault secrets as files named by
# alias: the layout the runtimes' file vault reads. Its SecretProviderClass is not rendered yet.
VAULT_DRIVER: Final = "secrets-store.csi.k8s.io"
# Headroom over -Xmx for metaspace (capped at 192m by the JVM flags), thread stacks and code cache.
NON_HEAP_MB: Final = 256
WORKLOAD_KINDS: Final = ("Deployment", "StatefulSet")


class RuntimeImage(BaseModel):
    """A workload's image and where its reference comes from."""

    model_config = ConfigDict(frozen=True)

    image: str
    source: str


def runtime_images(dataspace: Dataspace, participant: Participant) -> dict[str, RuntimeImage]:
    """Workload or Job name -> its image, for what the participant renders: the one place every
    rendered image reference comes from.

    The identity hub has no image of its own among the blueprint's images, so it names the
    connector's (issue 15 replaces these placeholders with images that exist)."""
    images = dataspace.images_for(participant)
    where = f"participants[{participant.id}].images" if participant.images is not None else "images"
    out = {
        "identityhub": RuntimeImage(image=images.connector, source=f"{where}.connector (no identity hub image yet)"),
        "connector": RuntimeImage(image=images.connector, source=f"{where}.connector"),
        DATAPLANE: RuntimeImage(image=images.data_plane, source=f"{where}.dataPlane"),
    }
    if participant.runtimes.catalog is not None:
        out["catalog"] = RuntimeImage(image=images.catalog, source=f"{where}.catalog")
    if participant.runtimes.connector_ui.enabled:
        out[CONNECTOR_UI] = RuntimeImage(image=images.connector_ui, source=f"{where}.connectorUi")
    for i, job in enumerate(participant.seed_jobs):
        out[_job_name(job)] = RuntimeImage(
            image=job.image, source=f"participants[{participant.id}].seedJobs[{i}].image"
        )
    return out


def _job_name(job: SeedJob) -> str:
    return f"seed-{job.name}"


def _labels(dataspace: Dataspace, participant: Participant, component: str) -> dict[str, str]:
    return {
        L.NAME_KEY: component,
        L.PART_OF_KEY: dataspace.name,
        L.MANAGED_BY_KEY: L.MANAGED_BY_VALUE,
        L.PARTICIPANT_KEY: participant.id,
    }


def _meta(
    dataspace: Dataspace, participant: Participant, name: str, component: str, *, namespaced: bool = True
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": _labels(dataspace, participant, component)}
    if namespaced:
        meta["namespace"] = participant.id
    return meta


_finish = L.with_spec_hash


def did_web_https(participant: Participant, settings: Settings) -> bool:
    """Whether the runtimes resolve did:web over https (one switch for every DID, the issuer's
    included): unless both the participant's DID and the control plane are served over plain http."""
    return not isinstance(participant.identity.host, LocalDidHost) or settings.base_url.startswith("https:")


def participant_specs(
    dataspace: Dataspace, participant: Participant, dids: dict[str, str], settings: Settings
) -> list[RuntimeSpec]:
    """The participant's runtimes as its namespace runs them."""
    return cluster_runtimes(
        participant,
        namespace=participant.id,
        public_host=dataspace.public_host_for(participant),
        did=dids[participant.id],
        issuer_did=issuer_did(settings),
        participant_list_url=participant_list_url(settings),
        did_web_https=did_web_https(participant, settings),
    )


def public_endpoints(dataspace: Dataspace, participant: Participant, did: str) -> dict[str, str]:
    """The DID document's services: the DSP address and the identity hub's credential service,
    both through the participant's Ingress."""
    host = dataspace.public_host_for(participant)
    protocol = public_url(host, "connector", "protocol")
    credentials = public_url(host, "identityhub", "credentials")
    assert protocol is not None and credentials is not None  # both are in PUBLIC_APIS
    return {
        "protocol": protocol + DSP_VERSION_PATH,
        "credential_service": f"{credentials}/v1/participants/{context_id(did)}",
    }


def settings_configmap(spec: RuntimeSpec) -> str:
    return f"{spec.name}-settings"


def _settings_file(spec: RuntimeSpec) -> str:
    return f"{spec.name}.properties"


def _container(spec: RuntimeSpec, image: str, *, per_pod: bool) -> dict[str, Any]:
    default = spec.apis["default"]
    # A StatefulSet's pods share a template: each reads the settings file named like itself.
    settings_file = "$(POD_NAME).properties" if per_pod else _settings_file(spec)
    env: list[dict[str, Any]] = []
    if per_pod:
        env.append({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    env.append(
        {
            "name": "JAVA_TOOL_OPTIONS",
            "value": " ".join(
                ["-Xms32m", f"-Xmx{spec.heap_mb}m", *JVM_FLAGS, f"-Dedc.fs.config={SETTINGS_DIR}/{settings_file}"]
            ),
        }
    )

    def probe(path: str, period: int, failures: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "default"}, "periodSeconds": period, "failureThreshold": failures}

    memory = f"{spec.heap_mb + NON_HEAP_MB}Mi"
    return {
        "name": workload_name(spec.kind, spec.name),
        "image": image,
        "env": env,
        "ports": [{"name": api, "containerPort": endpoint.port} for api, endpoint in spec.apis.items()],
        "startupProbe": probe(f"{default.path}/check/startup", 5, 60),
        "readinessProbe": probe(spec.readiness_path, 5, 3),
        "livenessProbe": probe(f"{default.path}/check/liveness", 10, 3),
        "resources": {"requests": {"cpu": "100m", "memory": memory}, "limits": {"memory": memory}},
        "volumeMounts": [
            {"name": "settings", "mountPath": SETTINGS_DIR, "readOnly": True},
            {"name": "vault", "mountPath": str(VAULT_PATH), "readOnly": True},
        ],
    }


def _workload(
    dataspace: Dataspace, participant: Participant, name: str, specs: list[RuntimeSpec], image: str
) -> dict[str, Any]:
    stateful = specs[0].kind == "dataplane"
    labels = _labels(dataspace, participant, name)
    selector = {L.NAME_KEY: name, L.PARTICIPANT_KEY: participant.id}
    volumes = [
        {
            "name": "settings",
            "projected": {"sources": [{"configMap": {"name": settings_configmap(spec)}} for spec in specs]},
        },
        {
            "name": "vault",
            "csi": {
                "driver": VAULT_DRIVER,
                "readOnly": True,
                "volumeAttributes": {"secretProviderClass": f"{participant.id}-vault"},
            },
        },
    ]
    spec: dict[str, Any] = {
        "replicas": len(specs),
        "selector": {"matchLabels": selector},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [_container(specs[0], image, per_pod=stateful)], "volumes": volumes},
        },
    }
    if stateful:
        # all replicas at once (none waits for another) under the headless Service of their DNS names
        spec.update(serviceName=name, podManagementPolicy="Parallel")
    return _finish(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet" if stateful else "Deployment",
            "metadata": _meta(dataspace, participant, name, name),
            "spec": spec,
        }
    )


def _service(
    dataspace: Dataspace, participant: Participant, name: str, ports: dict[str, int], *, headless: bool = False
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {L.NAME_KEY: name, L.PARTICIPANT_KEY: participant.id},
        "ports": [{"name": api, "port": port, "targetPort": api} for api, port in ports.items()],
    }
    if headless:
        # each data plane pod's own DNS name resolves from its start: it registers that address at boot
        spec.update(clusterIP="None", publishNotReadyAddresses=True)
    return _finish(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(dataspace, participant, name, name),
            "spec": spec,
        }
    )


def _configmap(dataspace: Dataspace, participant: Participant, spec: RuntimeSpec) -> dict[str, Any]:
    return _finish(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(dataspace, participant, settings_configmap(spec), workload_name(spec.kind, spec.name)),
            "data": {_settings_file(spec): spec.properties()},
        }
    )


def _connector_ui(dataspace: Dataspace, participant: Participant, image: str) -> list[dict[str, Any]]:
    labels = _labels(dataspace, participant, CONNECTOR_UI)
    selector = {L.NAME_KEY: CONNECTOR_UI, L.PARTICIPANT_KEY: participant.id}
    container = {
        "name": CONNECTOR_UI,
        "image": image,
        "ports": [{"name": "http", "containerPort": CONNECTOR_UI_PORT}],
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
    }
    return [
        _finish(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": _meta(dataspace, participant, CONNECTOR_UI, CONNECTOR_UI),
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": selector},
                    "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
                },
            }
        ),
        _service(dataspace, participant, CONNECTOR_UI, {"http": CONNECTOR_UI_PORT}),
    ]


def _ingress(dataspace: Dataspace, participant: Participant, specs: list[RuntimeSpec]) -> dict[str, Any]:
    """One rule for the participant's public host: the APIs others reach, then the connector UI."""
    paths: list[tuple[str, str, str]] = []
    for spec in specs:
        workload = workload_name(spec.kind, spec.name)
        for api in PUBLIC_APIS[spec.kind]:
            route = (spec.apis[api].path, workload, api)
            if route not in paths:
                paths.append(route)
    if participant.runtimes.connector_ui.enabled:
        paths.append(("/", CONNECTOR_UI, "http"))
    return _finish(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": _meta(dataspace, participant, participant.id, "ingress"),
            "spec": {
                "rules": [
                    {
                        "host": dataspace.public_host_for(participant),
                        "http": {
                            "paths": [
                                {
                                    "path": path,
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": service, "port": {"name": port}}},
                                }
                                for path, service, port in paths
                            ]
                        },
                    }
                ]
            },
        }
    )


def render_participant(
    dataspace: Dataspace, participant: Participant, dids: dict[str, str], settings: Settings
) -> list[dict[str, Any]]:
    """Every Kubernetes object of one participant, in apply order."""
    specs = participant_specs(dataspace, participant, dids, settings)
    images = runtime_images(dataspace, participant)
    workloads: dict[str, list[RuntimeSpec]] = {}
    for spec in specs:
        workloads.setdefault(workload_name(spec.kind, spec.name), []).append(spec)
    objects: list[dict[str, Any]] = [
        _finish(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": _meta(dataspace, participant, participant.id, "namespace", namespaced=False),
            }
        ),
        *(_configmap(dataspace, participant, spec) for spec in specs),
    ]
    for name, group in workloads.items():
        objects.append(_workload(dataspace, participant, name, group, images[name].image))
        ports = {api: endpoint.port for api, endpoint in group[0].apis.items()}
        objects.append(_service(dataspace, participant, name, ports, headless=name == DATAPLANE))
    if participant.runtimes.connector_ui.enabled:
        objects += _connector_ui(dataspace, participant, images[CONNECTOR_UI].image)
    objects.append(_ingress(dataspace, participant, specs))
    management = api_url(next(s for s in specs if s.kind == "connector"), "management")
    for job in participant.seed_jobs:
        objects.append(
            _finish(
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": _meta(dataspace, participant, _job_name(job), "seed"),
                    "spec": {
                        "backoffLimit": 2,
                        "activeDeadlineSeconds": job.timeout_seconds,
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [
                                    {
                                        "name": job.name,
                                        "image": images[_job_name(job)].image,
                                        "args": list(job.args),
                                        "env": [
                                            {
                                                "name": "MVD_MANAGEMENT_URL",
                                                "value": management,
                                            }
                                        ],
                                    }
                                ],
                            }
                        },
                    },
                }
            )
        )
    return objects
