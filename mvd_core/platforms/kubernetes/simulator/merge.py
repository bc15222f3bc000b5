"""Patch semantics of the simulated API server.

Server-side apply is modelled with field ownership: each field manager owns a set of leaf
paths. Associative lists (``mvd_core.k8s.listmaps``: containers by name, ports by port and
protocol, ...) are owned item by item, a path stepping into an item with its FieldsV1 key
(``k:{"name":"connector"}``); every other list is atomic. Applying removes the fields a
manager owned before and no longer declares, takes over (with ``force``) fields others own,
and merges the declared values in. Ownership is stored in ``metadata.managedFields`` as
FieldsV1. Merge patch follows RFC 7386; strategic merge patch additionally merges
associative lists item by item on the same keys.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from mvd_core.k8s import listmaps

Path = tuple[str, ...]

# Identity fields are not owned by anyone.
_UNOWNED: set[Path] = {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")}
_SERVER_META = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "deletionTimestamp")


class ApplyConflict(Exception):
    def __init__(self, conflicts: list[tuple[str, Path]]) -> None:
        self.conflicts = conflicts
        super().__init__(", ".join(f'conflict with "{m}": .{".".join(p)}' for m, p in conflicts))


def leaf_paths(obj: Any, prefix: Path = (), field: str = "") -> set[Path]:
    if isinstance(obj, dict) and obj:
        out: set[Path] = set()
        for key, value in obj.items():
            out |= leaf_paths(value, (*prefix, key), key)
        return out
    keys = listmaps.map_keys(field, obj)
    if keys is not None and obj:
        out = set()
        for item in obj:
            rest = {k: v for k, v in item.items() if k not in keys}
            out |= leaf_paths(rest, (*prefix, listmaps.path_element(keys, item)))
        return out
    return {prefix}


def owned_paths(obj: dict[str, Any]) -> set[Path]:
    """The fields an applied or written configuration sets (identity, status and server metadata excluded)."""
    body = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in _SERVER_META}
    body["metadata"] = meta
    return {p for p in leaf_paths(body) if p not in _UNOWNED and p and p != ("metadata",)}


def _item_key(element: str) -> dict[str, Any] | None:
    """The key fields of a ``k:{...}`` path element, None for a field name."""
    return json.loads(element[2:]) if element.startswith("k:{") else None


def _locate(node: Any, element: str) -> str | int | None:
    """Where ``element`` is in ``node``: a dict key, a list index, or None when absent."""
    key = _item_key(element)
    if key is None:
        return element if isinstance(node, dict) and element in node else None
    if not isinstance(node, list):
        return None
    return listmaps.find(node, tuple(key), tuple(key.values()))


def get_path(obj: Any, path: Path) -> Any:
    for element in path:
        where = _locate(obj, element)
        if where is None:
            return None
        obj = obj[where]
    return obj


def _emptied(node: Any, element: str) -> bool:
    key = _item_key(element)
    if key is not None:  # a list item with nothing left but its key
        return isinstance(node, dict) and set(node) <= set(key)
    return node in ({}, [])


def delete_path(obj: dict[str, Any], path: Path) -> None:
    parents: list[tuple[Any, str | int, str]] = []
    node: Any = obj
    for element in path[:-1]:
        where = _locate(node, element)
        if where is None:
            return
        parents.append((node, where, element))
        node = node[where]
    where = _locate(node, path[-1])
    if where is None:
        return
    del node[where]
    # Drop what the removal emptied: a label map with no labels left, a list item with only its key.
    for parent, where, element in reversed(parents):
        if not _emptied(parent[where], element):
            break
        del parent[where]


def deep_merge(base: Any, overlay: Any, field: str = "") -> Any:
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = dict(base)
        for key, value in overlay.items():
            out[key] = deep_merge(base.get(key), value, key) if key in base else copy.deepcopy(value)
        return out
    keys = listmaps.map_keys(field, overlay)
    if keys is not None and listmaps.same_keys(field, base, keys):
        return _merge_items(base, overlay, keys, deep_merge)
    return copy.deepcopy(overlay)


def _merge_items(base: list[Any], overlay: list[Any], keys: tuple[str, ...], merge_item: Any) -> list[Any]:
    """An associative list merged item by item: ``merge_item(old_or_None, new)`` for each
    item of ``overlay``; an item marked ``$patch: delete`` (strategic merge patch) removes its twin."""
    merged = list(base)
    for item in overlay:
        index = listmaps.find(merged, keys, listmaps.item_key(keys, item))
        if item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append(merge_item(None, item))
        else:
            merged[index] = merge_item(merged[index], item)
    return merged


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    return _merge(target, patch, strategic=False)


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Merge patch, except that lists of objects with a ``name`` merge element-wise by name."""
    return _merge(target, patch, strategic=True)


def _merge(target: Any, patch: Any, *, strategic: bool) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        keys = listmaps.map_keys(key, value) if strategic else None
        if value is None:
            out.pop(key, None)
        elif keys is not None and value and listmaps.same_keys(key, out.get(key), keys):
            out[key] = _merge_items(out[key], value, keys, lambda old, new: _merge(old, new, strategic=True))
        else:
            out[key] = _merge(out.get(key), value, strategic=strategic)
    return out


# --- managedFields ----------------------------------------------------------------------


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault(key if _item_key(key) is not None else f"f:{key}", {})
    return root


def from_fields_v1(fields: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, value in fields.items():
        if key.startswith("f:"):
            path = (*prefix, key[2:])
        elif _item_key(key) is not None:
            path = (*prefix, key)
        else:
            continue  # "." (the item itself) and other markers
        out |= from_fields_v1(value, path) if value else {path}
    return out


def ownership(obj: dict[str, Any]) -> dict[tuple[str, str], set[Path]]:
    """(manager, operation) -> owned leaf paths, read from ``metadata.managedFields``."""
    out: dict[tuple[str, str], set[Path]] = {}
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        key = (entry.get("manager", ""), entry.get("operation", "Update"))
        out[key] = from_fields_v1(entry.get("fieldsV1") or {})
    return out


def managed_fields(
    owners: dict[tuple[str, str], set[Path]], api_version: str, now: str, previous: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    times = {(e.get("manager"), e.get("operation")): e.get("time") for e in previous or []}
    entries = []
    for (manager, operation), paths in owners.items():
        if not paths:
            continue
        fields = to_fields_v1(paths)
        old = next((e for e in previous or [] if (e.get("manager"), e.get("operation")) == (manager, operation)), None)
        unchanged = old is not None and old.get("fieldsV1") == fields
        entries.append(
            {
                "manager": manager,
                "operation": operation,
                "apiVersion": api_version,
                "time": times.get((manager, operation)) if unchanged else now,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields,
            }
        )
    return entries


def server_side_apply(
    existing: dict[str, Any] | None, config: dict[str, Any], manager: str, force: bool
) -> tuple[dict[str, Any], dict[tuple[str, str], set[Path]]]:
    """The object after ``manager`` applies ``config``, and the new field ownership."""
    owners = ownership(existing) if existing else {}
    mine = (manager, "Apply")
    previous = owners.get(mine, set())
    declared = owned_paths(config)
    others = {k: v for k, v in owners.items() if k != mine}
    conflicts = []
    for key, paths in others.items():
        for path in paths & declared:
            if existing is not None and get_path(existing, path) != get_path(config, path):
                conflicts.append((key[0], path))
    if conflicts and not force:
        raise ApplyConflict(sorted(conflicts))
    base = copy.deepcopy(existing) if existing else {}
    still_owned = set().union(*others.values()) if others else set()
    for path in previous - declared:
        if path not in still_owned:
            delete_path(base, path)
    merged = deep_merge(base, {k: v for k, v in config.items() if k != "status"})
    for key, paths in others.items():
        owners[key] = paths - {p for _, p in conflicts} if force else paths
    owners[mine] = declared
    return merged, owners


def record_update(
    owners: dict[tuple[str, str], set[Path]], before: dict[str, Any] | None, after: dict[str, Any], manager: str
) -> dict[tuple[str, str], set[Path]]:
    """Ownership after a non-apply write: the writer takes over every field it changed."""
    after_paths = owned_paths(after)
    changed = {p for p in after_paths if before is None or get_path(before, p) != get_path(after, p)}
    out = {}
    for key, paths in owners.items():
        out[key] = (paths - changed) & after_paths
    key = (manager, "Update")
    out[key] = (out.get(key, set()) | changed) & after_paths
    return out
