"""Desired vs observed: what an apply would create, update (and which fields), delete.

Only fields the control plane declares are compared, so server-filled fields (status,
defaults, managedFields, resourceVersion, annotations others add) never count as drift; a
hand edit of a declared field does, even when the spec-hash annotation was left alone.
``workloads.apply`` uses the same comparison to decide what to write.
"""

from __future__ import annotations

import base64
from typing import Any

from pydantic import BaseModel, Field

from mvd_core.k8s import labels as L
from mvd_core.k8s import listmaps
from mvd_core.k8s.objects import object_key

HIDDEN = "(hidden)"


class FieldChange(BaseModel):
    path: str
    observed: Any = None
    desired: Any = None

    def __str__(self) -> str:
        return f"{self.path}: {_short(self.observed)} -> {_short(self.desired)}"


class Update(BaseModel):
    key: str
    fields: list[FieldChange]


class ParticipantDiff(BaseModel):
    create: list[str] = Field(default_factory=list)
    update: list[Update] = Field(default_factory=list)
    delete: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)

    def keys_to_apply(self) -> set[str]:
        return set(self.create) | {u.key for u in self.update}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_stored(desired: dict[str, Any]) -> dict[str, Any]:
    """What the API server stores for ``desired``, without status: a Secret's stringData
    becomes base64 ``data``."""
    out = {k: v for k, v in desired.items() if k != "status"}
    if out.get("kind") == "Secret" and out.get("stringData"):
        data = dict(out.get("data") or {})
        for key, value in out.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        out["data"] = data
    return out


def field_changes(desired: Any, observed: Any, path: str = "", field: str = "") -> list[FieldChange]:
    """Paths where ``observed`` differs from ``desired``, looking only at what desired sets.

    Associative lists (``listmaps``) are matched item by item on their keys, so an item
    another manager added (a sidecar) is not drift: an apply would keep it anyway."""
    if isinstance(desired, dict):
        if not isinstance(observed, dict):
            return [FieldChange(path=path or ".", observed=observed, desired=desired)]
        changes: list[FieldChange] = []
        for key, value in desired.items():
            sub = f"{path}.{key}" if path else key
            changes += field_changes(value, observed.get(key), sub, key)
        return changes
    if isinstance(desired, list):
        keys = listmaps.map_keys(field, desired)
        if keys is not None and listmaps.same_keys(field, observed, keys):
            changes = []
            for item in desired:
                index = listmaps.find(observed, keys, listmaps.item_key(keys, item))
                sub = f"{path}{listmaps.label(keys, item)}"
                if index is None:
                    changes.append(FieldChange(path=sub, observed=None, desired=item))
                else:
                    changes += field_changes(item, observed[index], sub)
            return changes
        if not isinstance(observed, list) or len(observed) != len(desired):
            return [FieldChange(path=path, observed=observed, desired=desired)]
        changes = []
        for i, (d, o) in enumerate(zip(desired, observed, strict=True)):
            changes += field_changes(d, o, f"{path}[{i}]")
        return changes
    if desired != observed:
        return [FieldChange(path=path, observed=observed, desired=desired)]
    return []


def is_managed(obj: dict[str, Any], participant_id: str) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return labels.get(L.MANAGED_BY_KEY) == L.MANAGED_BY_VALUE and labels.get(L.PARTICIPANT_KEY) == participant_id


def diff_objects(desired: list[dict[str, Any]], observed: list[dict[str, Any]], participant_id: str) -> ParticipantDiff:
    result = ParticipantDiff()
    seen = {object_key(o): o for o in observed}
    wanted = set()
    for obj in desired:
        key = object_key(obj)
        wanted.add(key)
        current = seen.get(key)
        if current is None:
            result.create.append(key)
            continue
        changes = field_changes(as_stored(obj), current)
        if obj["kind"] == "Secret":  # a plan never shows secret values
            changes = [FieldChange(path=c.path, observed=HIDDEN, desired=HIDDEN) for c in changes]
        if changes:
            result.update.append(Update(key=key, fields=changes))
        else:
            result.unchanged.append(key)
    result.delete = sorted(k for k, o in seen.items() if k not in wanted and is_managed(o, participant_id))
    return result
