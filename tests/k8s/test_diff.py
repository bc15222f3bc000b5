"""The diff of a participant's rendered objects against what a cluster serves: nothing when it
matches, the exact drift otherwise."""

from __future__ import annotations

import copy

from mvd_core.dataspace import load
from mvd_core.k8s import labels as L
from mvd_core.k8s.diff import diff_objects
from mvd_core.k8s.objects import object_key
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.render import render_participant
from mvd_core.settings import Settings


def _seed():
    ds = load()
    return ds, dataspace_dids(ds, Settings())


def _as_served(obj):
    """What a cluster gives back: our fields plus server-filled ones."""
    served = copy.deepcopy(obj)
    served["metadata"].update(resourceVersion="42", uid="u-1", managedFields=[{"manager": "x"}])
    served["status"] = {"readyReplicas": 1}
    if obj["kind"] in ("Deployment", "StatefulSet"):
        served["spec"]["strategy" if obj["kind"] == "Deployment" else "updateStrategy"] = {"type": "RollingUpdate"}
    return served


def _first_participant_as_served():
    """The first seed participant: its desired objects, and what a cluster serves for them."""
    ds, dids = _seed()
    p = ds.participants[0]
    desired = render_participant(ds, p, dids, Settings())
    return p, desired, [_as_served(o) for o in desired]


def test_server_filled_fields_are_not_drift():
    ds, dids = _seed()
    p = ds.participants[0]
    desired = render_participant(ds, p, dids, Settings())
    diff = diff_objects(desired, [_as_served(o) for o in desired], p.id)
    assert diff.empty and len(diff.unchanged) == len(desired)


def test_hand_edit_and_extra_managed_object_show_exactly():
    p, desired, observed = _first_participant_as_served()
    dp = next(o for o in observed if object_key(o) == "StatefulSet/galactic-turbine/dataplane")
    dp["spec"]["replicas"] = 1  # kubectl scale, spec-hash annotation untouched
    configmap = next(o for o in observed if o["kind"] == "ConfigMap")
    extra = copy.deepcopy(configmap)
    extra["metadata"]["name"] = "left-over"
    foreign = copy.deepcopy(configmap)
    foreign["metadata"]["name"] = "not-ours"
    foreign["metadata"]["labels"] = {"app": "other"}
    diff = diff_objects(desired, observed + [extra, foreign], p.id)
    assert diff.create == []
    assert [(u.key, [(f.path, f.observed, f.desired) for f in u.fields]) for u in diff.update] == [
        ("StatefulSet/galactic-turbine/dataplane", [("spec.replicas", 1, 3)])
    ]
    assert diff.delete == ["ConfigMap/galactic-turbine/left-over"]


def test_objects_of_another_participant_are_never_deleted():
    ds, dids = _seed()
    gti, selt = ds.participants[0], ds.participants[1]
    other = next(o for o in render_participant(ds, selt, dids, Settings()) if o["kind"] == "ConfigMap")
    assert other["metadata"]["labels"][L.PARTICIPANT_KEY] == "space-enforcer"
    assert diff_objects(render_participant(ds, gti, dids, Settings()), [other], gti.id).delete == []


def test_associative_lists_are_compared_item_by_item_on_their_keys():
    p, desired, observed = _first_participant_as_served()
    connector = next(o for o in observed if object_key(o) == "Deployment/galactic-turbine/connector")
    containers = connector["spec"]["template"]["spec"]["containers"]
    containers.insert(0, {"name": "mesh-proxy", "image": "example/proxy:1"})  # injected, another manager's
    for port in containers[1]["ports"]:
        port["protocol"] = "TCP"  # defaulted by the server: still the same item
    assert diff_objects(desired, observed, p.id).empty
    first_port = containers[1]["ports"].pop(0)
    (update,) = diff_objects(desired, observed, p.id).update
    (change,) = update.fields
    assert change.path == (f"spec.template.spec.containers[name=connector]"
                           f".ports[containerPort={first_port['containerPort']},protocol=TCP]")
    assert change.observed is None and change.desired["containerPort"] == first_port["containerPort"]


def test_atomic_lists_are_compared_whole():
    p, desired, observed = _first_participant_as_served()
    ingress = next(o for o in observed if o["kind"] == "Ingress")
    ingress["spec"]["rules"].append({"host": "extra.example"})
    (update,) = diff_objects(desired, observed, p.id).update
    assert [f.path for f in update.fields] == ["spec.rules"]
