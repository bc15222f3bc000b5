"""Which lists Kubernetes merges item by item, and by which keys."""

from __future__ import annotations

from mvd_core.k8s import listmaps


def test_keys_by_field_and_by_what_ports_hold():
    assert listmaps.map_keys("containers", [{"name": "a"}]) == ("name",)
    assert listmaps.map_keys("ports", [{"containerPort": 80}]) == ("containerPort", "protocol")
    assert listmaps.map_keys("ports", [{"port": 80, "name": "http"}]) == ("port", "protocol")
    assert listmaps.map_keys("volumeMounts", [{"mountPath": "/x", "name": "v"}]) == ("mountPath",)


def test_atomic_lists_and_items_without_their_key():
    assert listmaps.map_keys("envFrom", [{"configMapRef": {"name": "c"}}]) is None
    assert listmaps.map_keys("args", ["--x"]) is None
    assert listmaps.map_keys("containers", [{"image": "no-name"}]) is None
    assert listmaps.map_keys("containers", "not a list") is None


def test_defaulted_key_fields_match_and_render_like_fieldsv1():
    keys = ("containerPort", "protocol")
    assert listmaps.item_key(keys, {"containerPort": 80}) == listmaps.item_key(keys, {"containerPort": 80, "protocol": "TCP"})
    assert listmaps.path_element(keys, {"containerPort": 80}) == 'k:{"containerPort":80,"protocol":"TCP"}'
    assert listmaps.label(keys, {"containerPort": 80}) == "[containerPort=80,protocol=TCP]"
    items = [{"containerPort": 80, "protocol": "UDP"}, {"containerPort": 80}]
    assert listmaps.find(items, keys, (80, "TCP")) == 1 and listmaps.find(items, keys, (81, "TCP")) is None


def test_an_empty_list_merges_on_any_keys():
    keys = ("containerPort", "protocol")
    assert listmaps.same_keys("ports", [], keys)
    assert listmaps.same_keys("ports", [{"containerPort": 1}], keys)
    assert not listmaps.same_keys("ports", [{"port": 1}], keys) and not listmaps.same_keys("ports", None, keys)
