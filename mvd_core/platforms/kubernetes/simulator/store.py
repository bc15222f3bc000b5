"""Objects of the simulated clusters, kept in SQLite so every process sees the same state.

Every write bumps the cluster's resourceVersion; deletions leave tombstones so a watch can
report them. Readiness is simulated lazily: a Deployment, StatefulSet or Job gets a ``ready_at`` time
when its spec changes, and the first request after that time (from any process) writes the
ready status, with its own resourceVersion, as a controller would.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mvd_core import sqlite
from mvd_core.platforms.kubernetes.simulator import merge
from mvd_core.platforms.kubernetes.simulator.resources import Resource

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clusters (name TEXT PRIMARY KEY, created_at TEXT NOT NULL, rv INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
  cluster TEXT NOT NULL, resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
  body TEXT NOT NULL, rv INTEGER NOT NULL, created_rv INTEGER NOT NULL, ready_at REAL,
  PRIMARY KEY (cluster, resource, namespace, name));
CREATE TABLE IF NOT EXISTS tombstones (
  cluster TEXT NOT NULL, resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
  body TEXT NOT NULL, rv INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS objects_rv ON objects (cluster, resource, rv);
CREATE INDEX IF NOT EXISTS objects_ready ON objects (cluster, ready_at);
CREATE INDEX IF NOT EXISTS tombstones_rv ON tombstones (cluster, resource, rv);
"""

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")  # fullmatch
FAIL_ANNOTATION = "sim.mvd.dataspace/fail"
TOMBSTONE_WINDOW = 10_000
_WORKLOADS = ("deployments", "statefulsets")
# What becomes ready (or complete) MVD_SIM_READY_DELAY seconds after its spec changed.
_ROLLED_OUT = (*_WORKLOADS, "jobs")


@dataclass
class ApiError(Exception):
    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def status_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{res.qualified} "{name}" not found', {"name": name, "group": res.group, "kind": res.plural}
    )


def invalid(res: Resource, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    text = ", ".join(f"{f}: {m}" for _, m, f in causes)
    kind = f"{res.kind}.{res.group}" if res.group else res.kind
    return ApiError(
        422,
        "Invalid",
        f'{kind} "{name}" is invalid: {text}',
        {
            "name": name,
            "group": res.group,
            "kind": res.kind,
            "causes": [{"reason": r, "message": m, "field": f} for r, m, f in causes],
        },
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Event:
    type: str
    object: dict[str, Any]
    rv: int


class ClusterStore:
    """All simulated clusters under one state directory."""

    def __init__(self, path: Path, ready_delay: float = 0.2) -> None:
        self.path = path
        self.ready_delay = ready_delay
        self._local = threading.local()
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._conn().executescript(_SCHEMA)

    # --- plumbing ---------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite.connect(
                self.path,
                consequence="the simulated clusters start empty; "
                "the next provision creates every participant's workloads again",
            )
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, sqlite.immediate(self._conn()) as db:
            yield db

    def _next_rv(self, db: sqlite3.Connection, cluster: str) -> int:
        row = db.execute("UPDATE clusters SET rv = rv + 1 WHERE name = ? RETURNING rv", (cluster,)).fetchone()
        return int(row[0])

    # --- clusters ---------------------------------------------------------------------

    def ensure_cluster(self, name: str) -> bool:
        """Create the cluster if missing; True when it was created."""
        with self._tx() as db:
            cur = db.execute("INSERT OR IGNORE INTO clusters (name, created_at, rv) VALUES (?, ?, 1)", (name, _now()))
            return cur.rowcount == 1

    def has_cluster(self, name: str) -> bool:
        return self._conn().execute("SELECT 1 FROM clusters WHERE name = ?", (name,)).fetchone() is not None

    def clusters(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT name FROM clusters ORDER BY name")]

    def delete_cluster(self, name: str) -> bool:
        with self._tx() as db:
            db.execute("DELETE FROM objects WHERE cluster = ?", (name,))
            db.execute("DELETE FROM tombstones WHERE cluster = ?", (name,))
            return db.execute("DELETE FROM clusters WHERE name = ?", (name,)).rowcount == 1

    def cluster_rv(self, cluster: str) -> int:
        row = self._conn().execute("SELECT rv FROM clusters WHERE name = ?", (cluster,)).fetchone()
        return int(row[0]) if row else 0

    # --- readiness --------------------------------------------------------------------

    def next_ready_at(self, cluster: str) -> float | None:
        row = (
            self._conn()
            .execute("SELECT MIN(ready_at) FROM objects WHERE cluster = ? AND ready_at IS NOT NULL", (cluster,))
            .fetchone()
        )
        return row[0] if row and row[0] is not None else None

    def settle(self, cluster: str) -> None:
        """Write the ready status of every Deployment, StatefulSet or Job whose delay has passed."""
        due = self.next_ready_at(cluster)
        if due is None or due > time.time():
            return
        with self._tx() as db:
            rows = db.execute(
                "SELECT resource, namespace, name, body FROM objects WHERE cluster = ? AND ready_at <= ?",
                (cluster, time.time()),
            ).fetchall()
            for resource, namespace, name, body in rows:
                obj = json.loads(body)
                obj["status"] = _ready_status(resource, obj)
                rv = self._next_rv(db, cluster)
                obj["metadata"]["resourceVersion"] = str(rv)
                db.execute(
                    "UPDATE objects SET body = ?, rv = ?, ready_at = NULL WHERE cluster = ? AND resource = ? "
                    "AND namespace = ? AND name = ?",
                    (json.dumps(obj), rv, cluster, resource, namespace, name),
                )

    # --- reads ------------------------------------------------------------------------

    def get(self, cluster: str, res: Resource, namespace: str, name: str) -> dict[str, Any]:
        row = (
            self._conn()
            .execute(
                "SELECT body FROM objects WHERE cluster = ? AND resource = ? AND namespace = ? AND name = ?",
                (cluster, res.plural, namespace, name),
            )
            .fetchone()
        )
        if row is None:
            raise not_found(res, name)
        return _decode(row[0])

    def list_objects(self, cluster: str, res: Resource, namespace: str | None) -> tuple[list[dict[str, Any]], int]:
        db = self._conn()
        db.execute("BEGIN")
        try:
            if namespace is None:
                rows = db.execute(
                    "SELECT body FROM objects WHERE cluster = ? AND resource = ? ORDER BY namespace, name",
                    (cluster, res.plural),
                ).fetchall()
            else:
                rows = db.execute(
                    "SELECT body FROM objects WHERE cluster = ? AND resource = ? AND namespace = ? ORDER BY name",
                    (cluster, res.plural, namespace),
                ).fetchall()
            rv = db.execute("SELECT rv FROM clusters WHERE name = ?", (cluster,)).fetchone()
        finally:
            db.execute("COMMIT")
        return [_decode(r[0]) for r in rows], int(rv[0]) if rv else 0

    def events_since(self, cluster: str, res: Resource, namespace: str | None, since: int) -> list[Event]:
        db = self._conn()
        ns_clause, args = (
            ("", (cluster, res.plural, since))
            if namespace is None
            else (" AND namespace = ?", (cluster, res.plural, since, namespace))
        )
        events = [
            Event("ADDED" if created_rv > since else "MODIFIED", _decode(body), rv)
            for body, rv, created_rv in db.execute(
                f"SELECT body, rv, created_rv FROM objects WHERE cluster = ? AND resource = ? AND rv > ?{ns_clause}",
                args,
            )
        ]
        events += [
            Event("DELETED", _decode(body), rv)
            for body, rv in db.execute(
                f"SELECT body, rv FROM tombstones WHERE cluster = ? AND resource = ? AND rv > ?{ns_clause}", args
            )
        ]
        return sorted(events, key=lambda e: e.rv)

    # --- writes -----------------------------------------------------------------------

    def _namespace_must_exist(self, db: sqlite3.Connection, cluster: str, res: Resource, namespace: str) -> None:
        if not res.namespaced:
            return
        if (
            db.execute(
                "SELECT 1 FROM objects WHERE cluster = ? AND resource = 'namespaces' AND name = ?", (cluster, namespace)
            ).fetchone()
            is None
        ):
            raise ApiError(
                404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"}
            )

    def _load(
        self, db: sqlite3.Connection, cluster: str, res: Resource, namespace: str, name: str
    ) -> dict[str, Any] | None:
        row = db.execute(
            "SELECT body FROM objects WHERE cluster = ? AND resource = ? AND namespace = ? AND name = ?",
            (cluster, res.plural, namespace, name),
        ).fetchone()
        return _decode(row[0]) if row else None

    def write(
        self,
        cluster: str,
        res: Resource,
        namespace: str,
        name: str,
        op: str,
        *,
        body: Any = None,
        manager: str | None = None,
        force: bool = False,
        subresource: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """create | replace | apply | merge | strategic. Returns the object and whether it was created."""
        with self._tx() as db:
            self._namespace_must_exist(db, cluster, res, namespace)
            existing = self._load(db, cluster, res, namespace, name)
            if op == "create" and existing is not None:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{res.qualified} "{name}" already exists',
                    {"name": name, "group": res.group, "kind": res.plural},
                )
            if op in ("replace", "merge", "strategic") and existing is None:
                raise not_found(res, name)
            if not isinstance(body, dict) or (
                op in ("create", "replace", "apply") and not isinstance(body.get("metadata"), dict)
            ):
                raise ApiError(400, "BadRequest", "the request body must be a JSON object with metadata")
            if subresource == "status":
                return self._write_status(db, cluster, res, namespace, name, existing, op, body), False
            owners = merge.ownership(existing) if existing else {}
            if op == "apply":
                _check_identity(res, body, namespace, name)
                try:
                    new, owners = merge.server_side_apply(existing, body, manager or "", force)
                except merge.ApplyConflict as exc:
                    raise ApiError(
                        409,
                        "Conflict",
                        f"Apply failed with {len(exc.conflicts)} conflict(s): {exc}",
                        {
                            "name": name,
                            "group": res.group,
                            "kind": res.plural,
                            "causes": [
                                {
                                    "reason": "FieldManagerConflict",
                                    "message": f'conflict with "{m}"',
                                    "field": "." + ".".join(p),
                                }
                                for m, p in exc.conflicts
                            ],
                        },
                    ) from exc
            else:
                if op in ("create", "replace"):
                    _check_identity(res, body, namespace, name)
                    new = copy.deepcopy(body)
                    if op == "replace":
                        assert existing is not None  # a replace of a missing object was refused above
                        want = (body.get("metadata") or {}).get("resourceVersion")
                        have = existing["metadata"]["resourceVersion"]
                        if want and want != have:
                            raise ApiError(
                                409,
                                "Conflict",
                                f'Operation cannot be fulfilled on {res.qualified} "{name}": the object has '
                                "been modified; please apply your changes to the latest version and try again",
                                {"name": name, "group": res.group, "kind": res.plural},
                            )
                        new["status"] = existing.get("status")
                elif op == "merge":
                    new = merge.merge_patch(existing, body)
                else:
                    new = merge.strategic_merge_patch(existing, body)
                owners = merge.record_update(owners, existing, new, manager or "unknown")
            new = self._finish(res, namespace, name, existing, new)
            _validate(res, name, new, existing)
            if existing is not None and _same(existing, new, owners):
                return existing, False
            new["metadata"]["managedFields"] = merge.managed_fields(
                owners, res.api_version, _now(), (existing or {}).get("metadata", {}).get("managedFields")
            )
            return self._store(db, cluster, res, namespace, name, existing, new), existing is None

    def _write_status(
        self,
        db: sqlite3.Connection,
        cluster: str,
        res: Resource,
        namespace: str,
        name: str,
        existing: dict[str, Any] | None,
        op: str,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        assert existing is not None
        new = copy.deepcopy(existing)
        status = body.get("status", {})
        new["status"] = (
            status if op in ("replace", "apply") else merge.merge_patch(existing.get("status") or {}, status)
        )
        if new == existing:
            return existing
        rv = self._next_rv(db, cluster)
        new["metadata"]["resourceVersion"] = str(rv)
        db.execute(
            "UPDATE objects SET body = ?, rv = ? WHERE cluster = ? AND resource = ? AND namespace = ? AND name = ?",
            (json.dumps(new), rv, cluster, res.plural, namespace, name),
        )
        return new

    def _finish(
        self, res: Resource, namespace: str, name: str, existing: dict[str, Any] | None, new: dict[str, Any]
    ) -> dict[str, Any]:
        """Server-owned fields and defaults, as the real API server fills them."""
        new = copy.deepcopy(new)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        meta = new.setdefault("metadata", {})
        meta["name"] = name
        if res.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        old_meta = (existing or {}).get("metadata", {})
        meta["uid"] = old_meta.get("uid") or str(uuid.uuid4())
        meta["creationTimestamp"] = old_meta.get("creationTimestamp") or _now()
        for key in ("resourceVersion", "generation", "managedFields"):
            meta.pop(key, None)
        if existing is not None and "status" not in new and "status" in existing:
            new["status"] = existing["status"]
        _defaults(res, new)
        if res.has_generation:
            gen = int(old_meta.get("generation", 0))
            changed = existing is None or existing.get("spec") != new.get("spec")
            meta["generation"] = gen + 1 if changed else gen
        return new

    def _store(
        self,
        db: sqlite3.Connection,
        cluster: str,
        res: Resource,
        namespace: str,
        name: str,
        existing: dict[str, Any] | None,
        new: dict[str, Any],
    ) -> dict[str, Any]:
        rv = self._next_rv(db, cluster)
        new["metadata"]["resourceVersion"] = str(rv)
        ready_at = None
        if res.plural in _ROLLED_OUT:
            spec_changed = existing is None or existing["metadata"].get("generation") != new["metadata"].get(
                "generation"
            )
            if spec_changed:
                ready_at = time.time() + self.ready_delay
                if res.plural == "deployments":
                    new["status"] = _progressing_status(new, existing)
                elif res.plural == "statefulsets":
                    new["status"] = _statefulset_status(new, existing, ready=False)
                elif existing is None:
                    new["status"] = {"active": 1, "startTime": _now()}
            else:
                row = db.execute(
                    "SELECT ready_at FROM objects WHERE cluster = ? AND resource = ? AND namespace = ? AND name = ?",
                    (cluster, res.plural, namespace, name),
                ).fetchone()
                ready_at = row[0] if row else None
        if existing is None:
            db.execute(
                "INSERT INTO objects (cluster, resource, namespace, name, body, rv, created_rv, ready_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (cluster, res.plural, namespace, name, json.dumps(new), rv, rv, ready_at),
            )
        else:
            db.execute(
                "UPDATE objects SET body = ?, rv = ?, ready_at = ? WHERE cluster = ? AND resource = ? "
                "AND namespace = ? AND name = ?",
                (json.dumps(new), rv, ready_at, cluster, res.plural, namespace, name),
            )
        return new

    def delete(self, cluster: str, res: Resource, namespace: str, name: str) -> dict[str, Any]:
        with self._tx() as db:
            existing = self._load(db, cluster, res, namespace, name)
            if existing is None:
                raise not_found(res, name)
            self._tombstone(db, cluster, res.plural, namespace, name, existing)
            if res.plural == "namespaces":
                # A namespace takes everything it holds with it.
                for resource, obj_name, body in db.execute(
                    "SELECT resource, name, body FROM objects WHERE cluster = ? AND namespace = ?", (cluster, name)
                ).fetchall():
                    self._tombstone(db, cluster, resource, name, obj_name, json.loads(body))
            return existing

    def _tombstone(
        self, db: sqlite3.Connection, cluster: str, resource: str, namespace: str, name: str, obj: dict[str, Any]
    ) -> None:
        rv = self._next_rv(db, cluster)
        obj["metadata"]["resourceVersion"] = str(rv)
        db.execute(
            "DELETE FROM objects WHERE cluster = ? AND resource = ? AND namespace = ? AND name = ?",
            (cluster, resource, namespace, name),
        )
        db.execute(
            "INSERT INTO tombstones (cluster, resource, namespace, name, body, rv) VALUES (?, ?, ?, ?, ?, ?)",
            (cluster, resource, namespace, name, json.dumps(obj), rv),
        )
        # Keep a bounded window of deletions for watchers (a real server compacts its history too).
        db.execute("DELETE FROM tombstones WHERE cluster = ? AND rv < ?", (cluster, rv - TOMBSTONE_WINDOW))


def _same(existing: dict[str, Any], new: dict[str, Any], owners: dict[tuple[str, str], set[merge.Path]]) -> bool:
    """A write that changes nothing is not persisted (no new resourceVersion), like the real server."""
    a = {k: v for k, v in existing.items()}
    a_meta = {k: v for k, v in existing["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    b_meta = {k: v for k, v in new["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    same_owners = merge.ownership(existing) == {k: v for k, v in owners.items() if v}
    return (
        same_owners
        and a_meta == b_meta
        and {k: v for k, v in a.items() if k != "metadata"} == {k: v for k, v in new.items() if k != "metadata"}
    )


def _decode(body: str) -> dict[str, Any]:
    """An object as stored: every row holds the JSON of one object."""
    obj: dict[str, Any] = json.loads(body)
    return obj


def _check_identity(res: Resource, body: dict[str, Any], namespace: str, name: str) -> None:
    meta = body.get("metadata") or {}
    if meta.get("name") not in (None, name):
        raise ApiError(
            400,
            "BadRequest",
            f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})",
        )
    if res.namespaced and meta.get("namespace") not in (None, namespace):
        raise ApiError(
            400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request"
        )
    if body.get("kind") not in (None, res.kind):
        raise ApiError(400, "BadRequest", f"kind {body.get('kind')!r} does not match {res.kind}")


def _validate(res: Resource, name: str, obj: dict[str, Any], existing: dict[str, Any] | None) -> None:
    causes: list[tuple[str, str, str]] = []
    if not _DNS_SUBDOMAIN.fullmatch(name) or len(name) > 253:
        causes.append(
            (
                "FieldValueInvalid",
                (
                    f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist '
                    "of lower case alphanumeric characters, '-' or '.'"
                ),
                "metadata.name",
            )
        )
    spec = obj.get("spec") or {}
    if res.plural in _ROLLED_OUT:
        template = spec.get("template") or {}
        containers = (template.get("spec") or {}).get("containers") or []
        if not containers:
            causes.append(("FieldValueRequired", "Required value", "spec.template.spec.containers"))
        for i, c in enumerate(containers):
            for key in ("name", "image"):
                if not c.get(key):
                    causes.append(("FieldValueRequired", "Required value", f"spec.template.spec.containers[{i}].{key}"))
    if res.plural in _WORKLOADS:
        match = (spec.get("selector") or {}).get("matchLabels")
        if not match:
            causes.append(("FieldValueRequired", "Required value", "spec.selector"))
        else:
            labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if any(labels.get(k) != v for k, v in match.items()):
                causes.append(
                    (
                        "FieldValueInvalid",
                        "Invalid value: `selector` does not match template `labels`",
                        "spec.template.metadata.labels",
                    )
                )
        if existing is not None and (existing.get("spec") or {}).get("selector") != spec.get("selector"):
            causes.append(("FieldValueInvalid", "field is immutable", "spec.selector"))
    if res.plural == "jobs":
        policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
        if policy not in ("Never", "OnFailure"):
            causes.append(
                (
                    "FieldValueNotSupported",
                    (f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"'),
                    "spec.template.spec.restartPolicy",
                )
            )
        if existing is not None and (existing.get("spec") or {}).get("template") != spec.get("template"):
            causes.append(("FieldValueInvalid", "field is immutable", "spec.template"))
    if causes:
        raise invalid(res, name, causes)


def _defaults(res: Resource, obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if res.plural == "namespaces":
        obj["status"] = {"phase": "Active"}
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif res.plural == "secrets":
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        obj.setdefault("type", "Opaque")
    elif res.plural == "services" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        if "clusterIP" not in spec:
            digest = uuid.uuid5(uuid.NAMESPACE_DNS, f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}")
            spec["clusterIP"] = str(
                ipaddress.IPv4Address(int(ipaddress.IPv4Address("10.96.0.0")) + digest.int % 65000 + 10)
            )
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif res.plural in _WORKLOADS and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        _pod_defaults(spec)
    elif res.plural == "jobs" and isinstance(spec, dict):
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        _pod_defaults(spec)


def _pod_defaults(spec: dict[str, Any]) -> None:
    for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []:
        c.setdefault("imagePullPolicy", "IfNotPresent")
        for port in c.get("ports") or []:
            port.setdefault("protocol", "TCP")


def _statefulset_status(obj: dict[str, Any], existing: dict[str, Any] | None, *, ready: bool) -> dict[str, Any]:
    """The StatefulSet controller's status: all replicas on the new revision once ``ready``,
    else the previous pods still counted ready on the previous revision."""
    replicas = int((obj.get("spec") or {}).get("replicas", 1))
    revision = f"{obj['metadata']['name']}-{obj['metadata'].get('generation', 1)}"
    before = (existing or {}).get("status") or {}
    if ready:
        counts = dict.fromkeys(("readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"), replicas)
        return {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": replicas,
            **counts,
            "currentRevision": revision,
            "updateRevision": revision,
        }
    previous = int(before.get("readyReplicas", 0))
    return {
        "observedGeneration": obj["metadata"].get("generation", 1),
        "replicas": max(replicas, int(before.get("replicas", 0))),
        "readyReplicas": previous,
        "availableReplicas": previous,
        "currentReplicas": previous,
        "updatedReplicas": 0,
        "currentRevision": before.get("currentRevision", revision),
        "updateRevision": revision,
    }


def _progressing_status(obj: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """What the deployment controller reports as soon as it sees a new generation."""
    now = _now()
    replicas = int((obj.get("spec") or {}).get("replicas", 1))
    before = (existing or {}).get("status") or {}
    available = int(before.get("availableReplicas", 0))
    status: dict[str, Any] = {
        "observedGeneration": obj["metadata"].get("generation", 1),
        "replicas": max(replicas, int(before.get("replicas", 0))),
        "updatedReplicas": 0,
        "conditions": [
            {
                "type": "Available",
                "status": "True" if available else "False",
                "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "ReplicaSetUpdated",
                "message": f'ReplicaSet "{obj["metadata"]["name"]}" is progressing.',
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            },
        ],
    }
    if available:
        status.update(readyReplicas=available, availableReplicas=available)
    if replicas - available > 0:
        status["unavailableReplicas"] = replicas - available
    return status


def _ready_status(resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    now = _now()
    if resource == "jobs":
        start = (obj.get("status") or {}).get("startTime") or now
        if (obj["metadata"].get("annotations") or {}).get(FAIL_ANNOTATION) == "true":
            return {
                "startTime": start,
                "failed": 1,
                "conditions": [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "BackoffLimitExceeded",
                        "message": "Job has reached the specified backoff limit",
                        "lastTransitionTime": now,
                    }
                ],
            }
        return {
            "startTime": start,
            "completionTime": now,
            "succeeded": 1,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
                {"type": "Complete", "status": "True", "lastTransitionTime": now},
            ],
        }
    if resource == "statefulsets":
        return _statefulset_status(obj, None, ready=True)
    replicas = int((obj.get("spec") or {}).get("replicas", 1))
    status: dict[str, Any] = {
        "observedGeneration": obj["metadata"].get("generation", 1),
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{obj["metadata"]["name"]}" has successfully progressed.',
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            },
        ],
    }
    if replicas:
        status.update(replicas=replicas, updatedReplicas=replicas, readyReplicas=replicas, availableReplicas=replicas)
    return status
