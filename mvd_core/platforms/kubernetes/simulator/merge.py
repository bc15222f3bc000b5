"""Patch semantics of the simulated API server.

Server-side apply is modelled with field ownership: each field manager owns a set of leaf
paths (lists are atomic, as ``listType: atomic``). Applying removes the fields a manager
owned before and no longer declares, takes over (with ``force``) fields others own, and
merges the declared values in. Ownership is stored in ``metadata.managedFields`` as FieldsV1.
Merge patch follows RFC 7386; strategic merge patch additionally merges lists of named
objects (containers, ports, env) by ``name``.
"""

from __future__ import annotations

import copy
from typing import Any

Path = tuple[str, ...]

# Identity fields are not owned by anyone.
_UNOWNED: set[Path] = {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")}
_SERVER_META = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "deletionTimestamp")


class ApplyConflict(Exception):
    def __init__(self, conflicts: list[tuple[str, Path]]) -> None:
        self.conflicts = conflicts
        super().__init__(", ".join(f'conflict with "{m}": .{".".join(p)}' for m, p in conflicts))


def leaf_paths(obj: Any, prefix: Path = ()) -> set[Path]:
    if isinstance(obj, dict) and obj:
        out: set[Path] = set()
        for key, value in obj.items():
            out |= leaf_paths(value, (*prefix, key))
        return out
    return {prefix}


def owned_paths(obj: dict[str, Any]) -> set[Path]:
    """The fields an applied or written configuration sets (identity, status and server metadata excluded)."""
    body = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in _SERVER_META}
    body["metadata"] = meta
    return {p for p in leaf_paths(body) if p not in _UNOWNED and p and p != ("metadata",)}


def get_path(obj: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def delete_path(obj: dict[str, Any], path: Path) -> None:
    parents: list[tuple[dict[str, Any], str]] = []
    node: Any = obj
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        parents.append((node, key))
        node = node[key]
    if isinstance(node, dict):
        node.pop(path[-1], None)
    # Drop maps the removal emptied (a label map with no labels left).
    for parent, key in reversed(parents):
        if parent[key] == {}:
            parent.pop(key)
        else:
            break


def deep_merge(base: Any, overlay: Any) -> Any:
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = dict(base)
        for key, value in overlay.items():
            out[key] = deep_merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(overlay)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    return _merge(target, patch, strategic=False)


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Merge patch, except that lists of objects with a ``name`` merge element-wise by name."""
    return _merge(target, patch, strategic=True)


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) and "name" in i for i in value)


def _merge(target: Any, patch: Any, *, strategic: bool) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif strategic and _named_list(value) and _named_list(out.get(key)):
            merged = {i["name"]: i for i in out[key]}
            order = [i["name"] for i in out[key]]
            for item in value:
                if item.get("$patch") == "delete":
                    merged.pop(item["name"], None)
                    continue
                if item["name"] not in merged:
                    order.append(item["name"])
                merged[item["name"]] = _merge(merged.get(item["name"]), item, strategic=True)
            out[key] = [merged[n] for n in order if n in merged]
        else:
            out[key] = _merge(out.get(key), value, strategic=strategic)
    return out


# --- managedFields ----------------------------------------------------------------------


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return root


def from_fields_v1(fields: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, value in fields.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        out |= from_fields_v1(value, path) if value else {path}
    return out


def ownership(obj: dict[str, Any]) -> dict[tuple[str, str], set[Path]]:
    """(manager, operation) -> owned leaf paths, read from ``metadata.managedFields``."""
    out: dict[tuple[str, str], set[Path]] = {}
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        key = (entry.get("manager", ""), entry.get("operation", "Update"))
        out[key] = from_fields_v1(entry.get("fieldsV1") or {})
    return out


def managed_fields(owners: dict[tuple[str, str], set[Path]], api_version: str, now: str,
                   previous: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    times = {(e.get("manager"), e.get("operation")): e.get("time") for e in previous or []}
    entries = []
    for (manager, operation), paths in owners.items():
        if not paths:
            continue
        fields = to_fields_v1(paths)
        old = next((e for e in previous or [] if (e.get("manager"), e.get("operation")) == (manager, operation)), None)
        unchanged = old is not None and old.get("fieldsV1") == fields
        entries.append({
            "manager": manager,
            "operation": operation,
            "apiVersion": api_version,
            "time": times.get((manager, operation)) if unchanged else now,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        })
    return entries


def server_side_apply(existing: dict[str, Any] | None, config: dict[str, Any], manager: str,
                      force: bool) -> tuple[dict[str, Any], dict[tuple[str, str], set[Path]]]:
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


def record_update(owners: dict[tuple[str, str], set[Path]], before: dict[str, Any] | None,
                  after: dict[str, Any], manager: str) -> dict[tuple[str, str], set[Path]]:
    """Ownership after a non-apply write: the writer takes over every field it changed."""
    after_paths = owned_paths(after)
    changed = {p for p in after_paths if before is None or get_path(before, p) != get_path(after, p)}
    out = {}
    for key, paths in owners.items():
        out[key] = (paths - changed) & after_paths
    key = (manager, "Update")
    out[key] = (out.get(key, set()) | changed) & after_paths
    return out
