"""Render a participant's desired Kubernetes objects from the blueprint.

One namespace per participant (its id). Runtimes: connector (always 1 replica, in-memory
storage, embedded identity hub, embedded DPF selector), data plane (N replicas), a
standalone catalog where declared, the connector UI; an Ingress; and the dataspace's
participant list as a ConfigMap that each catalog crawls. Output is deterministic: same
blueprint and DIDs, same objects, same spec hashes.
"""

from __future__ import annotations

import json
from typing import Any

from mvd_core.dataspace.models import AzureKeyVault, Dataspace, LocalVault, Participant
from mvd_core.k8s import labels as L

CONNECTOR, DATA_PLANE, CATALOG, CONNECTOR_UI = "connector", "data-plane", "catalog", "connector-ui"
RUNTIME_COMPONENTS = (CONNECTOR, DATA_PLANE, CATALOG, CONNECTOR_UI)
PARTICIPANTS_CONFIGMAP = "dataspace-participants"

_PORTS = {CONNECTOR: 8080, DATA_PLANE: 8080, CATALOG: 8080, CONNECTOR_UI: 80}


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


def service_url(participant: Participant, component: str, path: str = "") -> str:
    """In-cluster URL of a participant's runtime service."""
    return f"http://{component}.{participant.id}.svc.cluster.local:{_PORTS[component]}{path}"


def public_endpoints(dataspace: Dataspace, participant: Participant) -> dict[str, str]:
    """Public URLs that go into the DID document's services."""
    base = f"https://{dataspace.public_host_for(participant)}"
    return {
        "protocol": f"{base}/api/dsp",
        "credential_service": f"{base}/api/identity/v1/participants/{participant.id}",
    }


def connector_properties(dataspace: Dataspace, participant: Participant, did: str) -> dict[str, str]:
    """The connector's EDC configuration: vault, DID, identity hub, DPF selector, catalog, storage."""
    rt = participant.runtimes
    endpoints = public_endpoints(dataspace, participant)
    props = {
        "edc.participant.id": did,
        "edc.iam.issuer.id": did,
        "edc.iam.did.web.use.https": "true",
        "edc.dsp.callback.address": endpoints["protocol"],
        "edc.storage.type": rt.connector.storage,
        "edc.ih.mode": rt.connector.identity_hub,
        "edc.ih.credentialservice.url": endpoints["credential_service"],
        "edc.dpf.selector.mode": "embedded",
        "edc.dpf.selector.url": rt.connector.dpf_url or service_url(participant, DATA_PLANE, "/api/control"),
        "edc.catalog.mode": rt.catalog_mode,
        "edc.catalog.participants.configmap": PARTICIPANTS_CONFIGMAP,
        "edc.ui.enabled": str(rt.connector_ui.enabled).lower(),
    }
    if rt.catalog is not None:
        props["edc.catalog.url"] = service_url(participant, CATALOG, "/api/catalog")
    match participant.vault:
        case AzureKeyVault(name=name, vault_url=url):
            props["edc.vault.type"] = "azure-key-vault"
            props["edc.vault.name"] = name
            props["edc.vault.url"] = url or f"https://{name}.vault.azure.net"
        case LocalVault():
            props["edc.vault.type"] = "local"
    return dict(sorted(props.items()))


def _deployment(
    dataspace: Dataspace, participant: Participant, component: str, image: str, replicas: int, config: str | None
) -> dict[str, Any]:
    labels = _labels(dataspace, participant, component)
    selector = {L.NAME_KEY: component, L.PARTICIPANT_KEY: participant.id}
    container: dict[str, Any] = {
        "name": component,
        "image": image,
        "ports": [{"name": "http", "containerPort": _PORTS[component]}],
        "readinessProbe": {
            "httpGet": {"path": "/api/check/readiness" if component != CONNECTOR_UI else "/", "port": "http"}
        },
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
    }
    if config:
        container["envFrom"] = [{"configMapRef": {"name": config}}]
    return _finish(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(dataspace, participant, component, component),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        }
    )


def _service(dataspace: Dataspace, participant: Participant, component: str) -> dict[str, Any]:
    return _finish(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(dataspace, participant, component, component),
            "spec": {
                "selector": {L.NAME_KEY: component, L.PARTICIPANT_KEY: participant.id},
                "ports": [{"name": "http", "port": _PORTS[component], "targetPort": "http"}],
            },
        }
    )


def _configmap(
    dataspace: Dataspace, participant: Participant, name: str, component: str, data: dict[str, str]
) -> dict[str, Any]:
    return _finish(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(dataspace, participant, name, component),
            "data": data,
        }
    )


def _env_name(prop: str) -> str:
    return prop.upper().replace(".", "_")


def participants_list(dids: dict[str, str]) -> dict[str, str]:
    """participant id -> DID, for every participant of the baseline (``dids`` names them all,
    so a participant renders from its own slice of the blueprint)."""
    return dict(sorted(dids.items()))


def render_participant(dataspace: Dataspace, participant: Participant, dids: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object of one participant, in apply order."""
    rt = participant.runtimes
    images = dataspace.images_for(participant)
    did = dids[participant.id]
    connector_cm = f"{CONNECTOR}-config"
    objects: list[dict[str, Any]] = [
        _finish(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": _meta(dataspace, participant, participant.id, "namespace", namespaced=False),
            }
        ),
        _configmap(
            dataspace,
            participant,
            connector_cm,
            CONNECTOR,
            {_env_name(k): v for k, v in connector_properties(dataspace, participant, did).items()},
        ),
        _configmap(
            dataspace,
            participant,
            PARTICIPANTS_CONFIGMAP,
            CATALOG,
            {"participants.json": json.dumps(participants_list(dids), indent=2, sort_keys=True)},
        ),
        _deployment(dataspace, participant, CONNECTOR, images.connector, rt.connector.replicas, connector_cm),
        _service(dataspace, participant, CONNECTOR),
        _deployment(dataspace, participant, DATA_PLANE, images.data_plane, rt.data_plane.replicas, None),
        _service(dataspace, participant, DATA_PLANE),
    ]
    if rt.catalog is not None:
        objects += [
            _deployment(dataspace, participant, CATALOG, images.catalog, rt.catalog.replicas, None),
            _service(dataspace, participant, CATALOG),
        ]
    paths = [("/api", CONNECTOR)]
    if rt.connector_ui.enabled:
        objects += [
            _deployment(dataspace, participant, CONNECTOR_UI, images.connector_ui, 1, None),
            _service(dataspace, participant, CONNECTOR_UI),
        ]
        paths.append(("/", CONNECTOR_UI))
    objects.append(
        _finish(
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
                                        "backend": {"service": {"name": svc, "port": {"name": "http"}}},
                                    }
                                    for path, svc in paths
                                ]
                            },
                        }
                    ]
                },
            }
        )
    )
    for job in participant.seed_jobs:
        objects.append(
            _finish(
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": _meta(dataspace, participant, f"seed-{job.name}", "seed"),
                    "spec": {
                        "backoffLimit": 2,
                        "activeDeadlineSeconds": job.timeout_seconds,
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [
                                    {
                                        "name": job.name,
                                        "image": job.image,
                                        "args": list(job.args),
                                        "envFrom": [{"configMapRef": {"name": connector_cm}}],
                                    }
                                ],
                            }
                        },
                    },
                }
            )
        )
    return objects
