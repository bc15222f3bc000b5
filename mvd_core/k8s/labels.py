"""Label and annotation keys on every object the control plane manages, and the spec hash.

The spec hash is the sha256 of the object's canonical JSON (sorted keys, no whitespace)
without the hash annotation itself, so an object's hash is stable and recomputable from the
object alone.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "mvd-control-plane"
PART_OF_KEY = "app.kubernetes.io/part-of"
PARTICIPANT_KEY = "mvd.dataspace/participant"
NAME_KEY = "app.kubernetes.io/name"
SPEC_HASH_KEY = "mvd.dataspace/spec-hash"
RESTARTED_AT_KEY = "mvd.dataspace/restartedAt"
FIELD_MANAGER = "mvd-control-plane"


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash(obj: dict[str, Any]) -> str:
    """sha256 hex of ``obj`` without the spec-hash annotation (an emptied annotations map is dropped)."""
    body = copy.deepcopy(obj)
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(SPEC_HASH_KEY, None)
        if not annotations:
            meta.pop("annotations")
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def with_spec_hash(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` carrying its spec-hash annotation."""
    out = copy.deepcopy(obj)
    out.setdefault("metadata", {}).setdefault("annotations", {})[SPEC_HASH_KEY] = spec_hash(obj)
    return out


def managed_selector(participant_id: str, dataspace_name: str) -> str:
    """Label selector matching every object the control plane manages for one participant."""
    return f"{MANAGED_BY_KEY}={MANAGED_BY_VALUE},{PART_OF_KEY}={dataspace_name},{PARTICIPANT_KEY}={participant_id}"
