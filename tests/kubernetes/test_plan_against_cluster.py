"""The lead's plan (render + diff) over what ``observe`` reads from simulated clusters.

Covers the issue's "done when": applying the seed twice writes nothing the second time, a
hand edit and an extra managed object show up in the plan exactly, and a reset (apply,
prune, restart) removes them.
"""

from __future__ import annotations

from kubernetes import client as k8s

from mvd_core.dataspace.loader import load
from mvd_core.dataspace.targets import apply_targets
from mvd_core.k8s import labels as L
from mvd_core.k8s.objects import object_key
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.planner import make_plan
from mvd_core.plan.render import render_participant
from mvd_core.platforms.clusters import open_cluster_source
from mvd_core.platforms.kubernetes import workloads as W
from mvd_core.settings import get_settings
from tests.kubernetes.objects import deployment
from tests.kubernetes.rollout import settle


def _setup(sim):
    settings = get_settings()
    dataspace = apply_targets(load(), "simulated")
    dids = dataspace_dids(dataspace, settings)
    sources = {p.id: open_cluster_source(p.cluster, p.id, settings, server=sim) for p in dataspace.participants}
    for source in sources.values():
        assert source.begin_ensure().done
    apis = {pid: s.api_client() for pid, s in sources.items()}
    desired = {p.id: render_participant(dataspace, p, dids, settings) for p in dataspace.participants}

    def plan():
        return make_plan(dataspace, dids, "simulated", settings,
                         observe=lambda p: W.observe(apis[p.id], p.id, dataspace.name))

    return dataspace, apis, desired, plan


def _provision(apis, desired):
    reports = {pid: W.apply(apis[pid], objs) for pid, objs in desired.items()}
    for pid, objs in desired.items():
        assert settle(apis[pid], objs, timeout_seconds=60).ready
    return reports


def test_seed_twice_then_drift_then_reset(sim):
    dataspace, apis, desired, plan = _setup(sim)
    first = plan()
    assert first.counts[0] == sum(len(o) for o in desired.values()) and first.counts[1:] == (0, 0)

    _provision(apis, desired)
    assert plan().counts == (0, 0, 0)
    sim.reset_counts()
    reports = _provision(apis, desired)
    assert all(r.writes == 0 for r in reports.values())
    assert all(sim.writes(pid) == 0 for pid in desired), {pid: sim.requests(pid) for pid in desired}

    # Drift on one participant: a runtime scaled by hand, an extra managed object added.
    pid = dataspace.participants[0].id
    target = next(o for o in desired[pid] if o["kind"] == "Deployment")
    name = target["metadata"]["name"]
    k8s.AppsV1Api(apis[pid]).patch_namespaced_deployment(name, pid, {"spec": {"replicas": 7}})
    extra = deployment(pid, "hand-made")
    extra["metadata"]["labels"][L.PART_OF_KEY] = dataspace.name
    k8s.AppsV1Api(apis[pid]).create_namespaced_deployment(pid, extra)

    drifted = plan()
    assert drifted.counts == (0, 1, 1)
    mine = next(p for p in drifted.participants if p.participant == pid)
    assert mine.diff.delete == [f"Deployment/{pid}/hand-made"]
    assert [(u.key, [f.path for f in u.fields]) for u in mine.diff.update] == [
        (f"Deployment/{pid}/{name}", ["spec.replicas"])]
    assert mine.diff.update[0].fields[0].observed == 7

    # Reset: apply, prune, restart the runtimes, wait.
    sim.reset_counts()
    for p, objs in desired.items():
        W.apply(apis[p], objs)
        W.prune(apis[p], objs, p, dataspace.name)
        restarted = W.restart(apis[p], objs, token="reset-1")
        assert sorted(restarted) == sorted(object_key(o) for o in objs if o["kind"] in ("Deployment", "StatefulSet"))
        assert any(key.startswith("StatefulSet/") for key in restarted)
    for p, objs in desired.items():
        assert settle(apis[p], objs, timeout_seconds=60).ready
    assert plan().counts == (0, 0, 0)
    for p, objs in desired.items():
        for obj in objs:
            if obj["kind"] in ("Deployment", "StatefulSet"):
                live = W.read(apis[p], obj["kind"], p, obj["metadata"]["name"])
                assert live["spec"]["template"]["metadata"]["annotations"][L.RESTARTED_AT_KEY] == "reset-1"
    assert sim.requests(pid)["delete deployments"] == 1
