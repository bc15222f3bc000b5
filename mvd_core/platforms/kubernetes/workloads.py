"""Workloads on a participant's cluster: apply, rollout, prune, restart, observe, teardown.

Objects are plain dicts (apiVersion/kind/metadata/spec) carrying the control plane's labels
and spec-hash annotation (``mvd_core.k8s.labels``). They are written with server-side apply
under one field manager. An object is written only when the cluster's copy lacks a declared
field value or carries another spec hash, so applying the same state twice writes nothing,
while a hand edit of a declared field is repaired. Every call goes through
``client.call`` (bounded retries of 429/5xx), and is idempotent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from pydantic import BaseModel, Field

from mvd_core.errors import ExternalError, MvdError
from mvd_core.k8s import labels as L
from mvd_core.k8s.diff import as_stored, field_changes
from mvd_core.k8s.objects import object_key
from mvd_core.logs import get_logger
from mvd_core.platforms.kubernetes.client import call

log = get_logger(__name__)

APPLY = "application/apply-patch+yaml"
STRATEGIC = "application/strategic-merge-patch+json"
RESTART_MANAGER = "mvd-control-plane-restart"
RERUN_TOKEN_KEY = "mvd.dataspace/run-token"


@dataclass(frozen=True)
class _Kind:
    api: type
    stem: str  # e.g. "namespaced_deployment" -> read_namespaced_deployment
    namespaced: bool = True
    # (group, version, plural) of a custom resource, served through CustomObjectsApi; its
    # definition may be missing from a cluster (a 404 on list is then "none")
    custom: tuple[str, str, str] | None = None


class _CustomObjects:
    """CustomObjectsApi for one custom resource, called like the typed APIs: ``read_x(name,
    namespace)``, ``list_x(namespace)``, ``patch_x(name, namespace, body)``, ``delete_x(name, namespace)``."""

    def __init__(self, api_client: k8s.ApiClient, group: str, version: str, plural: str) -> None:
        self._api = k8s.CustomObjectsApi(api_client)
        self._where = (group, version)
        self._plural = plural

    def read(self, name: str, namespace: str, **kwargs: Any) -> Any:
        return self._api.get_namespaced_custom_object(*self._where, namespace, self._plural, name, **kwargs)

    def list(self, namespace: str, **kwargs: Any) -> Any:
        return self._api.list_namespaced_custom_object(*self._where, namespace, self._plural, **kwargs)

    def patch(self, name: str, namespace: str, body: Any, **kwargs: Any) -> Any:
        return self._api.patch_namespaced_custom_object(*self._where, namespace, self._plural, name, body, **kwargs)

    def delete(self, name: str, namespace: str, **kwargs: Any) -> Any:
        kwargs.pop("propagation_policy", None)
        return self._api.delete_namespaced_custom_object(*self._where, namespace, self._plural, name, **kwargs)


KINDS: dict[str, _Kind] = {
    "Namespace": _Kind(k8s.CoreV1Api, "namespace", namespaced=False),
    "ConfigMap": _Kind(k8s.CoreV1Api, "namespaced_config_map"),
    "Secret": _Kind(k8s.CoreV1Api, "namespaced_secret"),
    "ServiceAccount": _Kind(k8s.CoreV1Api, "namespaced_service_account"),
    # the Secrets Store CSI driver's: the Key Vault secrets of the vault mount (applied before its pods)
    "SecretProviderClass": _Kind(
        k8s.CustomObjectsApi, "", custom=("secrets-store.csi.x-k8s.io", "v1", "secretproviderclasses")
    ),
    "Service": _Kind(k8s.CoreV1Api, "namespaced_service"),
    "Deployment": _Kind(k8s.AppsV1Api, "namespaced_deployment"),
    "StatefulSet": _Kind(k8s.AppsV1Api, "namespaced_stateful_set"),
    "Job": _Kind(k8s.BatchV1Api, "namespaced_job"),
    "Ingress": _Kind(k8s.NetworkingV1Api, "namespaced_ingress"),
    "NetworkPolicy": _Kind(k8s.NetworkingV1Api, "namespaced_network_policy"),
}
API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "ServiceAccount": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "Job": "batch/v1",
    "Ingress": "networking.k8s.io/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "SecretProviderClass": "secrets-store.csi.x-k8s.io/v1",
}
ORDER = list(KINDS)
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
ROLLOUT_KINDS = (*WORKLOAD_KINDS, "Job")


class ApplyReport(BaseModel):
    created: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    writes: int = 0


class ObjectStatus(BaseModel):
    key: str
    ready: bool
    failed: bool = False
    summary: str
    conditions: list[str] = Field(default_factory=list)

    def describe(self) -> str:
        conds = f" [{'; '.join(self.conditions)}]" if self.conditions else ""
        return f"{self.key}: {self.summary}{conds}"


class RolloutStatus(BaseModel):
    objects: list[ObjectStatus] = Field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(o.ready for o in self.objects)

    @property
    def pending(self) -> list[ObjectStatus]:
        return [o for o in self.objects if not o.ready]

    @property
    def failed(self) -> list[ObjectStatus]:
        return [o for o in self.objects if o.failed]


# --- object helpers ---------------------------------------------------------------------


def _kind(obj_or_kind: dict[str, Any] | str) -> _Kind:
    kind = obj_or_kind if isinstance(obj_or_kind, str) else obj_or_kind.get("kind", "")
    if kind not in KINDS:
        raise MvdError(f"cannot manage objects of kind {kind!r} (supported: {', '.join(KINDS)})")
    return KINDS[kind]


def _method(api_client: k8s.ApiClient, kind: str, verb: str) -> Any:
    spec = KINDS[kind]
    if spec.custom is not None:
        return getattr(_CustomObjects(api_client, *spec.custom), verb)
    return getattr(spec.api(api_client), f"{verb}_{spec.stem}")


def _ns_args(kind: str, namespace: str | None) -> tuple[str | None, ...]:
    """The namespace argument of a namespaced kind's API method (the client refuses a None there)."""
    return (namespace,) if KINDS[kind].namespaced else ()


def _json(resp: Any) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(resp.data)
    return obj


def _sorted(objects: Iterable[dict[str, Any]], reverse: bool = False) -> list[dict[str, Any]]:
    objects = list(objects)
    for obj in objects:
        _kind(obj)
    return sorted(objects, key=lambda o: (ORDER.index(o["kind"]), object_key(o)), reverse=reverse)


def read(api_client: k8s.ApiClient, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
    """The object as the cluster has it, or None."""
    _kind(kind)
    resp = call(
        _method(api_client, kind, "read"),
        name,
        *_ns_args(kind, namespace),
        _preload_content=False,
        what=f"read {kind}/{namespace or ''}/{name}".replace("//", "/"),
        missing_ok=True,
    )
    return _json(resp) if resp is not None else None


def list_objects(
    api_client: k8s.ApiClient, kind: str, namespace: str | None, label_selector: str | None = None
) -> list[dict[str, Any]]:
    """Objects of ``kind``, with apiVersion/kind filled in."""
    spec = _kind(kind)
    fn = _method(api_client, kind, "list")
    kwargs: dict[str, Any] = {"_preload_content": False}
    if label_selector:
        kwargs["label_selector"] = label_selector
    what = f"list {kind} in {namespace or 'cluster'}"
    resp = call(fn, *_ns_args(kind, namespace), what=what, missing_ok=spec.custom is not None, **kwargs)
    if resp is None:
        return []  # the cluster does not define this custom resource: it holds none
    body = _json(resp)
    return [{"apiVersion": API_VERSIONS[kind], "kind": kind, **item} for item in body.get("items") or []]


def observe(api_client: k8s.ApiClient, participant_id: str, dataspace_name: str) -> list[dict[str, Any]]:
    """Every object the control plane manages for ``participant_id``, as the cluster has it."""
    selector = L.managed_selector(participant_id, dataspace_name)
    found: list[dict[str, Any]] = []
    ns = read(api_client, "Namespace", None, participant_id)
    if ns is None:
        return []
    labels = ns["metadata"].get("labels") or {}
    if labels.get(L.MANAGED_BY_KEY) == L.MANAGED_BY_VALUE and labels.get(L.PART_OF_KEY) == dataspace_name:
        found.append(ns)
    for kind in ORDER[1:]:
        found += list_objects(api_client, kind, participant_id, selector)
    return _sorted(found)


def drift(desired: dict[str, Any], observed: dict[str, Any] | None) -> list[str]:
    """Paths of declared fields whose observed value differs (server-filled fields are ignored).

    Only paths are returned, never values, so a Secret's drift cannot leak its data.
    """
    if observed is None:
        return ["(missing)"]
    return [change.path for change in field_changes(as_stored(desired), observed)]


def _apply_one(api_client: k8s.ApiClient, obj: dict[str, Any], field_manager: str) -> dict[str, Any]:
    kind, meta = obj["kind"], obj["metadata"]
    return _json(
        call(
            _method(api_client, kind, "patch"),
            meta["name"],
            *_ns_args(kind, meta.get("namespace")),
            obj,
            field_manager=field_manager,
            force=True,
            _content_type=APPLY,
            _preload_content=False,
            what=f"apply {object_key(obj)}",
        )
    )


def _delete_and_wait(
    api_client: k8s.ApiClient, kind: str, namespace: str | None, name: str, timeout_seconds: float = 60
) -> None:
    """Delete and wait until the object is gone (a real API server finalizes asynchronously)."""
    fn = _method(api_client, kind, "delete")
    call(
        fn,
        name,
        *_ns_args(kind, namespace),
        propagation_policy="Background",
        _preload_content=False,
        what=f"delete {kind}/{namespace}/{name}",
        missing_ok=True,
    )
    deadline, delay = time.monotonic() + timeout_seconds, 0.05
    while read(api_client, kind, namespace, name) is not None:
        if time.monotonic() > deadline:
            raise ExternalError(f"{kind}/{namespace}/{name} was deleted but still exists after {timeout_seconds:.0f}s")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def apply(
    api_client: k8s.ApiClient, objects: list[dict[str, Any]], field_manager: str = L.FIELD_MANAGER
) -> ApplyReport:
    """Server-side apply every object that is missing or differs; skip the rest.

    A Job whose declared spec changed is deleted and created again (its template is immutable).
    """
    report = ApplyReport()
    for obj in _sorted(objects):
        _kind(obj)
        key, meta = object_key(obj), obj["metadata"]
        current = read(api_client, obj["kind"], meta.get("namespace"), meta["name"])
        changed = drift(obj, current)
        if not changed:
            report.unchanged.append(key)
            continue
        if current is not None and obj["kind"] == "Job" and any(p.startswith("spec") for p in changed):
            _delete_and_wait(api_client, "Job", meta.get("namespace"), meta["name"])
            report.writes += 1
        _apply_one(api_client, obj, field_manager)
        report.writes += 1
        (report.created if current is None else report.updated).append(key)
        log.info("%s %s", "created" if current is None else "updated", key)
    return report


# --- rollout ----------------------------------------------------------------------------


def _conditions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list((obj.get("status") or {}).get("conditions") or [])


def _describe_conditions(obj: dict[str, Any]) -> list[str]:
    return [
        f"{c.get('type')}={c.get('status')}"
        + (f" {c.get('reason')}" if c.get("reason") else "")
        + (f": {c.get('message')}" if c.get("message") else "")
        for c in _conditions(obj)
    ]


def evaluate(obj: dict[str, Any] | None, key: str) -> ObjectStatus:
    """Rollout state of one Deployment, StatefulSet or Job, with ``kubectl rollout status`` semantics."""
    if obj is None:
        return ObjectStatus(key=key, ready=False, summary="does not exist")
    conds = _describe_conditions(obj)
    status = obj.get("status") or {}
    if obj["kind"] == "Job":
        types = {c.get("type"): c.get("status") for c in _conditions(obj)}
        if types.get("Failed") == "True":
            return ObjectStatus(key=key, ready=False, failed=True, summary="failed", conditions=conds)
        if types.get("Complete") == "True":
            return ObjectStatus(key=key, ready=True, summary="complete", conditions=conds)
        return ObjectStatus(
            key=key, ready=False, summary=f"running ({status.get('active', 0)} active)", conditions=conds
        )
    want = int((obj.get("spec") or {}).get("replicas", 1))
    gen, observed_gen = obj["metadata"].get("generation", 0), status.get("observedGeneration", 0)
    updated, replicas = status.get("updatedReplicas", 0), status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    for c in _conditions(obj):
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            return ObjectStatus(
                key=key, ready=False, failed=True, summary="progress deadline exceeded", conditions=conds
            )
    if observed_gen < gen:
        return ObjectStatus(key=key, ready=False, summary=f"generation {gen} not yet observed", conditions=conds)
    if obj["kind"] == "StatefulSet":
        # kubectl: every replica ready and updated, and the update revision became the current one
        ready_pods = status.get("readyReplicas", 0)
        done = status.get("currentRevision") == status.get("updateRevision")
        return ObjectStatus(
            key=key,
            ready=ready_pods == want and updated == want and done,
            summary=f"{updated}/{want} updated, {ready_pods}/{want} ready",
            conditions=conds,
        )
    ready = updated == want and replicas == updated and available == updated
    return ObjectStatus(
        key=key, ready=ready, summary=f"{updated}/{want} updated, {available}/{want} available", conditions=conds
    )


def _rollout_targets(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in _sorted(objects) if o.get("kind") in ROLLOUT_KINDS]


def rollout_status(api_client: k8s.ApiClient, objects: list[dict[str, Any]]) -> RolloutStatus:
    """Where every Deployment, StatefulSet and Job of ``objects`` stands, without waiting."""
    out = RolloutStatus()
    for obj in _rollout_targets(objects):
        meta = obj["metadata"]
        current = read(api_client, obj["kind"], meta.get("namespace"), meta["name"])
        out.objects.append(evaluate(current, object_key(obj)))
    return out


# --- prune, restart, teardown -----------------------------------------------------------


def prune(
    api_client: k8s.ApiClient, desired_objects: list[dict[str, Any]], participant_id: str, dataspace_name: str
) -> list[str]:
    """Delete managed objects of this participant that ``desired_objects`` no longer declares."""
    wanted = {object_key(o) for o in desired_objects}
    removed = []
    for obj in _sorted(observe(api_client, participant_id, dataspace_name), reverse=True):
        key = object_key(obj)
        if key in wanted:
            continue
        meta = obj["metadata"]
        call(
            _method(api_client, obj["kind"], "delete"),
            meta["name"],
            *_ns_args(obj["kind"], meta.get("namespace")),
            propagation_policy="Background",
            _preload_content=False,
            what=f"delete {key}",
            missing_ok=True,
        )
        removed.append(key)
        log.info("pruned %s", key)
    return sorted(removed)


def restart(
    api_client: k8s.ApiClient, objects: list[dict[str, Any]], token: str, *, annotation: str = L.RESTARTED_AT_KEY
) -> list[str]:
    """Roll every Deployment and StatefulSet of ``objects`` by stamping ``token`` on its pod
    template (as ``annotation``: a reset's restart, or another reason to restart).

    The stamp is written by its own field manager, so a later apply neither removes it nor
    counts it as drift; restarting again with the same token writes nothing.
    """
    restarted = []
    for obj in _sorted(objects):
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        meta = obj["metadata"]
        current = read(api_client, obj["kind"], meta.get("namespace"), meta["name"])
        if current is None:
            continue
        annotations = ((current["spec"].get("template") or {}).get("metadata") or {}).get("annotations") or {}
        if annotations.get(annotation) == token:
            continue
        patch = {"spec": {"template": {"metadata": {"annotations": {annotation: token}}}}}
        call(
            _method(api_client, obj["kind"], "patch"),
            meta["name"],
            meta["namespace"],
            patch,
            field_manager=RESTART_MANAGER,
            _content_type=STRATEGIC,
            _preload_content=False,
            what=f"restart {object_key(obj)}",
        )
        restarted.append(object_key(obj))
    return restarted


def rerun_jobs(
    api_client: k8s.ApiClient, objects: list[dict[str, Any]], token: str, field_manager: str = L.FIELD_MANAGER
) -> list[str]:
    """Run every Job of ``objects`` again (delete and create), once per ``token``.

    Runtimes keep their state in memory, so a restart loses what seed Jobs loaded; a reset
    re-runs them after the restart.
    """
    rerun = []
    for obj in _sorted(objects):
        if obj["kind"] != "Job":
            continue
        meta = obj["metadata"]
        current = read(api_client, "Job", meta.get("namespace"), meta["name"])
        if current is not None and (current["metadata"].get("annotations") or {}).get(RERUN_TOKEN_KEY) == token:
            continue
        if current is not None:
            _delete_and_wait(api_client, "Job", meta.get("namespace"), meta["name"])
        stamped = json.loads(json.dumps(obj))
        stamped["metadata"].setdefault("annotations", {})[RERUN_TOKEN_KEY] = token
        _apply_one(api_client, stamped, field_manager)
        rerun.append(object_key(obj))
    return rerun


def delete_namespace(api_client: k8s.ApiClient, namespace: str) -> bool:
    """Delete the namespace and everything in it; False when it did not exist (then nothing
    is sent but a read, so a repeated teardown writes nothing)."""
    if not namespace_exists(api_client, namespace):
        return False
    resp = call(
        k8s.CoreV1Api(api_client).delete_namespace,
        namespace,
        _preload_content=False,
        what=f"delete Namespace/{namespace}",
        missing_ok=True,
    )
    return resp is not None


def namespace_exists(api_client: k8s.ApiClient, namespace: str) -> bool:
    return read(api_client, "Namespace", None, namespace) is not None
