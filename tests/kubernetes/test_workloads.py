"""Workload operations against a simulated cluster, through the official kubernetes client."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from mvd_core.errors import ExternalError, MvdError
from mvd_core.k8s import labels as L
from mvd_core.k8s.objects import object_key
from mvd_core.platforms.kubernetes import workloads as W
from mvd_core.platforms.kubernetes.client import api_client_for_url
from mvd_core.platforms.kubernetes.simulator import Faults, SimulatorServer
from mvd_core.platforms.kubernetes.simulator.store import FAIL_ANNOTATION
from tests.kubernetes.objects import DATASPACE, deployment, participant_objects
from tests.kubernetes.rollout import settle


def _provision(api, objects, timeout=30):
    report = W.apply(api, objects)
    assert settle(api, objects, timeout_seconds=timeout).ready
    return report


def test_applying_the_seed_twice_writes_nothing_the_second_time(sim, api):
    objects = participant_objects()
    first = _provision(api, objects)
    assert len(first.created) == len(objects) and first.writes == len(objects)
    sim.reset_counts()
    second = _provision(api, objects)
    assert second.writes == 0 and sorted(second.unchanged) == sorted(object_key(o) for o in objects)
    counts = sim.requests("alice")
    assert sim.writes("alice") == 0, counts
    assert counts["get deployments"] >= 3  # it did look


def test_server_fills_defaults_without_counting_as_drift(sim, api):
    objects = participant_objects()
    W.apply(api, objects)
    svc = W.read(api, "Service", "alice", "connector")
    assert svc["spec"]["clusterIP"] and svc["spec"]["ports"][0]["protocol"] == "TCP"
    secret = W.read(api, "Secret", "alice", "vault-access")
    assert "stringData" not in secret and secret["data"]["token"]
    assert all(W.drift(o, W.read(api, o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])) == []
               for o in objects)


def test_drift_is_observed_and_a_reset_repairs_it(sim, api):
    objects = participant_objects()
    _provision(api, objects)
    apps = k8s.AppsV1Api(api)
    # By hand: scale a runtime (the spec-hash annotation left alone) and add a managed object.
    apps.patch_namespaced_deployment("data-plane", "alice", {"spec": {"replicas": 5}})
    extra = deployment("alice", "leftover")
    extra["metadata"]["labels"][L.PART_OF_KEY] = DATASPACE
    k8s.AppsV1Api(api).create_namespaced_deployment("alice", extra)

    observed = {object_key(o): o for o in W.observe(api, "alice", DATASPACE)}
    desired = {object_key(o): o for o in objects}
    assert set(observed) - set(desired) == {"Deployment/alice/leftover"}
    drifted = {k: W.drift(o, observed[k]) for k, o in desired.items() if W.drift(o, observed[k])}
    assert drifted == {"Deployment/alice/data-plane": ["spec.replicas"]}

    sim.reset_counts()
    report = W.apply(api, objects)
    assert report.updated == ["Deployment/alice/data-plane"] and report.writes == 1
    assert W.prune(api, objects, "alice", DATASPACE) == ["Deployment/alice/leftover"]
    assert settle(api, objects, timeout_seconds=30).ready
    assert W.read(api, "Deployment", "alice", "data-plane")["spec"]["replicas"] == 3
    assert W.read(api, "Deployment", "alice", "leftover") is None
    after = {object_key(o) for o in W.observe(api, "alice", DATASPACE)}
    assert after == set(desired)
    assert W.prune(api, objects, "alice", DATASPACE) == []


def test_prune_leaves_unmanaged_and_other_participants_objects_alone(sim, api):
    objects = participant_objects()
    W.apply(api, objects)
    foreign = deployment("alice", "someone-elses")
    foreign["metadata"]["labels"] = {"app": "theirs"}
    foreign["spec"]["selector"]["matchLabels"] = {"app": "theirs"}
    foreign["spec"]["template"]["metadata"]["labels"] = {"app": "theirs"}
    k8s.AppsV1Api(api).create_namespaced_deployment("alice", foreign)
    assert W.prune(api, objects[:-1], "alice", DATASPACE) == ["Job/alice/seed-assets"]
    assert W.read(api, "Deployment", "alice", "someone-elses") is not None


def test_restart_rolls_every_runtime_once_per_token(sim, api):
    objects = participant_objects()
    _provision(api, objects)
    before = {o["metadata"]["name"]: W.read(api, "Deployment", "alice", o["metadata"]["name"])["metadata"]["generation"]
              for o in objects if o["kind"] == "Deployment"}
    restarted = W.restart(api, objects, token="run-1")
    assert sorted(restarted) == sorted(f"Deployment/alice/{n}" for n in before)
    status = W.rollout_status(api, objects)
    assert not status.ready  # a new generation is rolling out
    assert settle(api, objects, timeout_seconds=30).ready
    for name, gen in before.items():
        dep = W.read(api, "Deployment", "alice", name)
        assert dep["metadata"]["generation"] == gen + 1
        assert dep["spec"]["template"]["metadata"]["annotations"][L.RESTARTED_AT_KEY] == "run-1"
    sim.reset_counts()
    assert W.restart(api, objects, token="run-1") == []
    # The stamp is not drift and a later apply keeps it.
    assert W.apply(api, objects).writes == 0
    assert sim.writes("alice") == 0


def test_rerun_jobs_runs_seed_jobs_again_once_per_token(sim, api):
    objects = participant_objects()
    _provision(api, objects)
    uid = W.read(api, "Job", "alice", "seed-assets")["metadata"]["uid"]
    assert W.rerun_jobs(api, objects, token="run-2") == ["Job/alice/seed-assets"]
    assert W.read(api, "Job", "alice", "seed-assets")["metadata"]["uid"] != uid
    assert settle(api, objects, timeout_seconds=30).ready
    assert W.rerun_jobs(api, objects, token="run-2") == []
    assert W.apply(api, objects).writes == 0


def test_changed_job_spec_is_recreated(sim, api):
    objects = participant_objects()
    _provision(api, objects)
    job = next(o for o in objects if o["kind"] == "Job")
    job["spec"]["template"]["spec"]["containers"][0]["args"] = ["--assets", "5"]
    changed = [L.with_spec_hash(o) if o is job else o for o in objects]
    report = W.apply(api, changed)
    assert report.updated == ["Job/alice/seed-assets"]
    assert W.read(api, "Job", "alice", "seed-assets")["spec"]["template"]["spec"]["containers"][0]["args"][1] == "5"


def test_provision_converges_with_20_percent_server_errors(tmp_path):
    with SimulatorServer(tmp_path / "faulty.db", ready_delay=0.05, faults=Faults(error_rate=0.2, seed=7)) as sim:
        sim.store.ensure_cluster("alice")
        api = api_client_for_url(sim.cluster_url("alice"))
        objects = participant_objects()
        _provision(api, objects)
        assert W.rollout_status(api, objects).ready
        assert sim.requests("alice")["fault"] > 0
        assert {object_key(o) for o in W.observe(api, "alice", DATASPACE)} == {object_key(o) for o in objects}
        assert W.apply(api, objects).writes == 0


def test_a_rollout_still_pending_at_the_deadline_names_the_object_and_its_conditions(tmp_path):
    with SimulatorServer(tmp_path / "slow.db", ready_delay=3600) as sim:
        sim.store.ensure_cluster("alice")
        api = api_client_for_url(sim.cluster_url("alice"))
        objects = [o for o in participant_objects(with_job=False) if o["metadata"]["name"] != "connector-ui"]
        W.apply(api, objects)
        status = settle(api, objects, timeout_seconds=1)
        assert not status.ready and not status.failed
        text = "; ".join(s.describe() for s in status.pending)
        assert "Deployment/alice/connector: 0/1 updated, 0/1 available" in text
        assert "Available=False MinimumReplicasUnavailable" in text and "Progressing=True ReplicaSetUpdated" in text


def test_a_failed_seed_job_is_reported_with_its_condition(sim, api):
    objects = participant_objects()
    job = next(o for o in objects if o["kind"] == "Job")
    job["metadata"]["annotations"][FAIL_ANNOTATION] = "true"
    W.apply(api, objects)
    (failed,) = settle(api, objects, timeout_seconds=30).failed
    assert "Job/alice/seed-assets" in failed.describe() and "BackoffLimitExceeded" in failed.describe()


def test_delete_namespace_removes_everything_and_is_idempotent(sim, api):
    objects = participant_objects()
    W.apply(api, objects)
    assert W.delete_namespace(api, "alice") is True
    assert W.observe(api, "alice", DATASPACE) == []
    assert W.list_objects(api, "Deployment", "alice") == []
    assert W.delete_namespace(api, "alice") is False


def test_unknown_kind_and_rejected_objects_are_user_errors(sim, api):
    with pytest.raises(MvdError, match="kind 'CronJob'"):
        W.apply(api, [{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x", "namespace": "alice"}}])
    W.apply(api, participant_objects()[:1])
    bad = deployment("alice", "broken")
    bad["spec"]["template"]["metadata"]["labels"] = {"other": "labels"}
    with pytest.raises(ExternalError, match=r"422 .*selector. does not match template .labels."):
        W.apply(api, [bad])


def test_retries_are_bounded_and_the_error_names_the_call(tmp_path, monkeypatch):
    from mvd_core.platforms.kubernetes import client as kc

    monkeypatch.setattr(kc, "MAX_ATTEMPTS", 3)
    with SimulatorServer(tmp_path / "down.db", faults=Faults(error_rate=1.0, seed=3)) as sim:
        sim.store.ensure_cluster("alice")
        api = api_client_for_url(sim.cluster_url("alice"))
        with pytest.raises(ExternalError, match=r"read Namespace/alice: 50[03] injected fault"):
            W.apply(api, participant_objects()[:1])
        assert sim.requests("alice")["fault"] == 3


def test_a_sidecar_another_manager_adds_is_kept_and_is_not_drift(sim, api):
    """Containers are an associative list (by name): server-side apply merges them item by
    item, as a real API server does, so an injected sidecar is neither drift nor removed."""
    objects = participant_objects()
    _provision(api, objects)
    sidecar = {"name": "mesh-proxy", "image": "example/proxy:1"}
    k8s.AppsV1Api(api).patch_namespaced_deployment(
        "connector", "alice", {"spec": {"template": {"spec": {"containers": [sidecar]}}}}, field_manager="injector")
    observed = W.read(api, "Deployment", "alice", "connector")
    assert [c["name"] for c in observed["spec"]["template"]["spec"]["containers"]] == ["connector", "mesh-proxy"]
    connector = next(o for o in objects if object_key(o) == "Deployment/alice/connector")
    assert W.drift(connector, observed) == []
    sim.reset_counts()
    assert W.apply(api, objects).writes == 0

    # A hand-deleted port of ours is drift, named by its key; a reset puts it back, sidecar kept.
    k8s.AppsV1Api(api).patch_namespaced_deployment("connector", "alice", {"spec": {"template": {"spec": {
        "containers": [{"name": "connector", "ports": None}]}}}})
    assert W.drift(connector, W.read(api, "Deployment", "alice", "connector")) == [
        "spec.template.spec.containers[name=connector].ports"]
    assert W.apply(api, objects).updated == ["Deployment/alice/connector"]
    repaired = W.read(api, "Deployment", "alice", "connector")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c.get("ports")) for c in repaired] == [
        ("connector", [{"containerPort": 8080, "protocol": "TCP"}]), ("mesh-proxy", None)]


def test_items_the_manager_stops_declaring_are_removed_others_stay(sim, api):
    objects = participant_objects()
    W.apply(api, objects)
    apps = k8s.AppsV1Api(api)
    apps.patch_namespaced_deployment("connector", "alice", {"spec": {"template": {"spec": {"containers": [
        {"name": "connector", "env": [{"name": "DEBUG", "value": "1"}]}]}}}}, field_manager="ops")
    changed = [L.with_spec_hash(o) for o in participant_objects()]
    dep = next(o for o in changed if object_key(o) == "Deployment/alice/connector")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    container["ports"] = [{"containerPort": 9090}]
    container["env"] = []
    W.apply(api, changed)
    out = W.read(api, "Deployment", "alice", "connector")
    (only,) = out["spec"]["template"]["spec"]["containers"]
    assert only["ports"] == [{"containerPort": 9090, "protocol": "TCP"}]  # 8080 was ours and is gone
    assert only["env"] == [{"name": "DEBUG", "value": "1"}]  # ops' variable stays, ours is gone
    ours = next(e for e in out["metadata"]["managedFields"] if e["operation"] == "Apply")
    item = ours["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"connector"}']
    assert 'k:{"containerPort":9090,"protocol":"TCP"}' in item["f:ports"]


def test_a_stateful_set_rolls_out_restarts_and_reports_its_revision(sim, api):
    """Data planes run as a StatefulSet: applied, ready only once every replica is on the update
    revision, restarted by a reset like a Deployment."""
    stateful = deployment("alice", "dataplane", replicas=3)
    stateful["kind"] = "StatefulSet"
    stateful["spec"]["serviceName"] = "dataplane"
    objects = [participant_objects()[0], stateful]
    W.apply(api, objects)
    first = W.rollout_status(api, objects)
    assert not first.ready and first.pending[0].key == "StatefulSet/alice/dataplane"
    assert settle(api, objects).ready
    live = W.read(api, "StatefulSet", "alice", "dataplane")
    assert live["status"]["readyReplicas"] == 3 and live["status"]["currentRevision"] == live["status"]["updateRevision"]

    assert W.restart(api, objects, token="reset-1") == ["StatefulSet/alice/dataplane"]
    rolling = W.read(api, "StatefulSet", "alice", "dataplane")
    assert rolling["status"]["currentRevision"] != rolling["status"]["updateRevision"]
    assert not W.evaluate(rolling, "StatefulSet/alice/dataplane").ready  # old pods still counted ready
    assert settle(api, objects).ready
    assert W.restart(api, objects, token="reset-1") == []
    assert W.apply(api, objects).writes == 0
