"""Small rendered-object fixtures shaped like the render module's output."""

from __future__ import annotations

from typing import Any

from mvd_core.k8s import labels as L

DATASPACE = "mvd-test"


def _meta(participant: str, name: str, component: str, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {
        L.MANAGED_BY_KEY: L.MANAGED_BY_VALUE, L.PART_OF_KEY: DATASPACE,
        L.PARTICIPANT_KEY: participant, L.NAME_KEY: component}}
    if namespaced:
        meta["namespace"] = participant
    return meta


def deployment(participant: str, name: str, replicas: int = 1, image: str = "example/runtime:1") -> dict[str, Any]:
    sel = {L.NAME_KEY: name, L.PARTICIPANT_KEY: participant}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(participant, name, name),
        "spec": {"replicas": replicas, "selector": {"matchLabels": sel}, "template": {
            "metadata": {"labels": sel},
            "spec": {"containers": [{"name": name, "image": image, "ports": [{"containerPort": 8080}],
                                     "env": [{"name": "PARTICIPANT", "value": participant}]}]}}},
    }


def participant_objects(participant: str = "alice", *, data_plane_replicas: int = 3,
                        with_job: bool = True) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(participant, participant, "namespace", False)},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(participant, "connector-config", "connector"),
         "data": {"edc.participant.id": f"did:web:example.com:{participant}"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(participant, "vault-access", "connector"),
         "type": "Opaque", "stringData": {"token": "not-a-real-secret"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta(participant, "connector", "connector"),
         "spec": {"selector": {L.NAME_KEY: "connector"}, "ports": [{"name": "http", "port": 8080}]}},
        deployment(participant, "connector"),
        deployment(participant, "data-plane", replicas=data_plane_replicas),
        deployment(participant, "connector-ui"),
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": _meta(participant, "public", "connector"),
         "spec": {"rules": [{"host": f"{participant}.example.com", "http": {"paths": [
             {"path": "/", "pathType": "Prefix",
              "backend": {"service": {"name": "connector", "port": {"number": 8080}}}}]}}]}},
    ]
    if with_job:
        objs.append({"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(participant, "seed-assets", "seed"),
                     "spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [
                         {"name": "seed", "image": "example/seed:1", "args": ["--assets", "3"]}]}}}})
    return [L.with_spec_hash(o) for o in objs]
