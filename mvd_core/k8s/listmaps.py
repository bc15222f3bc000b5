"""Kubernetes' associative lists: the lists the API merges item by item, and their keys.

The OpenAPI schemas mark these ``x-kubernetes-list-type: map`` with ``x-kubernetes-list-map-keys``
(containers by ``name``, container ports by ``containerPort`` + ``protocol``, ...). Server-side
apply owns and merges their items one by one, so a sidecar another manager adds stays, and a
plan must not call it drift. Every other list is atomic: replaced and compared whole.

Only the lists that appear in what the control plane renders (and their neighbours in a pod
spec) are listed; the plan diff and the simulated API server both read this table.
"""

from __future__ import annotations

import json
from typing import Any

# field name -> the keys of its items. ``ports`` is resolved by what its items hold.
_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "imagePullSecrets": ("name",),
}
_CONTAINER_PORT_KEYS = ("containerPort", "protocol")
_SERVICE_PORT_KEYS = ("port", "protocol")
# Key fields the API defaults when an item leaves them out.
_DEFAULTS = {"protocol": "TCP"}


def map_keys(field: str, items: Any) -> tuple[str, ...] | None:
    """The merge keys of list ``field`` holding ``items``, or None when the list is atomic."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return None
    keys: tuple[str, ...] | None
    if field == "ports":
        keys = _CONTAINER_PORT_KEYS if any("containerPort" in i for i in items) else _SERVICE_PORT_KEYS
    else:
        keys = _KEYS.get(field)
    if keys is None:
        return None
    required = [k for k in keys if k not in _DEFAULTS]
    if not all(k in i for i in items for k in required):
        return None  # an item without its key: the API would refuse it; treat the list as a whole
    return keys


def same_keys(field: str, items: Any, keys: tuple[str, ...]) -> bool:
    """Whether ``items`` is a list that merges on ``keys`` (an empty list merges on any)."""
    return isinstance(items, list) and (not items or map_keys(field, items) == keys)


def item_key(keys: tuple[str, ...], item: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(item.get(k, _DEFAULTS.get(k)) for k in keys)


def key_fields(keys: tuple[str, ...], item: dict[str, Any]) -> dict[str, Any]:
    """The key as FieldsV1 writes it: ``{"containerPort": 8080, "protocol": "TCP"}``."""
    return dict(zip(keys, item_key(keys, item), strict=True))


def path_element(keys: tuple[str, ...], item: dict[str, Any]) -> str:
    """The FieldsV1 path element of an item, e.g. ``k:{"name":"connector"}``."""
    return "k:" + json.dumps(key_fields(keys, item), separators=(",", ":"))


def label(keys: tuple[str, ...], item: dict[str, Any]) -> str:
    """How a plan names an item: ``[name=connector]``, ``[containerPort=8080,protocol=TCP]``."""
    return "[" + ",".join(f"{k}={v}" for k, v in key_fields(keys, item).items()) + "]"


def find(items: list[Any], keys: tuple[str, ...], key: tuple[Any, ...]) -> int | None:
    """Index of the item with ``key``, or None."""
    for index, item in enumerate(items):
        if isinstance(item, dict) and item_key(keys, item) == key:
            return index
    return None
