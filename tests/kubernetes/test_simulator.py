"""The simulated API server speaks the API the official client expects: bodies, errors, watch."""

from __future__ import annotations

import json

import pytest
from kubernetes import client as k8s
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from mvd_core.platforms.kubernetes import workloads as W
from mvd_core.platforms.kubernetes.client import api_client_for_url
from mvd_core.platforms.kubernetes.simulator import Faults, SimulatorServer
from tests.kubernetes.objects import deployment, participant_objects
from tests.kubernetes.rollout import settle

APPLY = "application/apply-patch+yaml"


def _status(exc: ApiException) -> dict:
    body = json.loads(exc.body)
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["code"] == exc.status
    return body


def test_status_bodies_for_404_409_422(sim, api):
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("nope", "alice")
    assert err.value.status == 404 and _status(err.value)["reason"] == "NotFound"
    assert _status(err.value)["message"] == 'deployments.apps "nope" not found'

    ns = k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="alice"))
    created = core.create_namespace(ns)
    assert created.status.phase == "Active" and created.metadata.uid
    with pytest.raises(ApiException) as err:
        core.create_namespace(ns)
    assert err.value.status == 409 and _status(err.value)["reason"] == "AlreadyExists"

    bad = deployment("alice", "bad")
    del bad["spec"]["selector"]
    with pytest.raises(ApiException) as err:  # the typed create would refuse it client-side; apply sends it
        apps.patch_namespaced_deployment("bad", "alice", bad, field_manager="m", _content_type=APPLY)
    body = _status(err.value)
    assert err.value.status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "spec.selector"

    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment("missing-ns", deployment("missing-ns", "x"))
    assert err.value.status == 404 and 'namespaces "missing-ns" not found' in _status(err.value)["message"]


def test_typed_models_deserialize(sim, api):
    W.apply(api, participant_objects())
    dep = k8s.AppsV1Api(api).read_namespaced_deployment("data-plane", "alice")
    assert dep.spec.replicas == 3 and dep.metadata.managed_fields[0].manager == "mvd-control-plane"
    assert dep.metadata.managed_fields[0].operation == "Apply"
    svcs = k8s.CoreV1Api(api).list_namespaced_service("alice")
    assert [s.metadata.name for s in svcs.items] == ["connector"]
    job = k8s.BatchV1Api(api).read_namespaced_job("seed-assets", "alice")
    assert job.spec.template.spec.restart_policy == "Never"
    ing = k8s.NetworkingV1Api(api).read_namespaced_ingress("public", "alice")
    assert ing.spec.rules[0].host == "alice.example.com"


def test_resource_version_and_generation(sim, api):
    apps = k8s.AppsV1Api(api)
    W.apply(api, participant_objects()[:1])
    dep = deployment("alice", "web")
    first = apps.patch_namespaced_deployment("web", "alice", dep, field_manager="m", _content_type=APPLY)
    assert first.metadata.generation == 1
    assert settle(api, [dep], timeout_seconds=30).ready  # the readiness update is a write of its own
    ready = apps.read_namespaced_deployment("web", "alice")
    same = apps.patch_namespaced_deployment("web", "alice", dep, field_manager="m", _content_type=APPLY)
    assert same.metadata.resource_version == ready.metadata.resource_version  # a no-op is not a write
    labelled = apps.patch_namespaced_deployment("web", "alice", {"metadata": {"labels": {"extra": "1"}}})
    assert labelled.metadata.generation == 1  # metadata is not spec
    assert int(labelled.metadata.resource_version) > int(first.metadata.resource_version)
    scaled = apps.patch_namespaced_deployment("web", "alice", {"spec": {"replicas": 2}})
    assert scaled.metadata.generation == 2
    # Optimistic concurrency on replace.
    stale = apps.read_namespaced_deployment("web", "alice")
    stale.metadata.resource_version = first.metadata.resource_version
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment("web", "alice", stale)
    assert err.value.status == 409 and _status(err.value)["reason"] == "Conflict"


def test_server_side_apply_ownership(sim, api):
    apps = k8s.AppsV1Api(api)
    W.apply(api, participant_objects()[:1])
    dep = deployment("alice", "web")
    dep["metadata"]["labels"]["tier"] = "front"
    apps.patch_namespaced_deployment("web", "alice", dep, field_manager="me", _content_type=APPLY)
    # Another manager changes a field "me" owns: apply without force conflicts, with force wins.
    apps.patch_namespaced_deployment("web", "alice", {"spec": {"replicas": 4}}, field_manager="kubectl-edit")
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment("web", "alice", dep, field_manager="me", _content_type=APPLY)
    assert err.value.status == 409 and "kubectl-edit" in _status(err.value)["message"]
    apps.patch_namespaced_deployment("web", "alice", dep, field_manager="me", force=True, _content_type=APPLY)
    # A field the manager stops declaring is removed; a field someone else added stays.
    apps.patch_namespaced_deployment("web", "alice", {"metadata": {"labels": {"owner": "ops"}}}, field_manager="ops")
    del dep["metadata"]["labels"]["tier"]
    out = apps.patch_namespaced_deployment("web", "alice", dep, field_manager="me", force=True, _content_type=APPLY)
    assert out.spec.replicas == 1 and "tier" not in out.metadata.labels and out.metadata.labels["owner"] == "ops"


def test_label_and_field_selectors(sim, api):
    W.apply(api, participant_objects())
    core = k8s.CoreV1Api(api)
    names = lambda **kw: sorted(d.metadata.name for d in k8s.AppsV1Api(api).list_namespaced_deployment("alice", **kw).items)
    assert names(label_selector="app.kubernetes.io/name in (connector,data-plane)") == ["connector", "data-plane"]
    assert names(label_selector="app.kubernetes.io/name!=connector,mvd.dataspace/participant=alice") == [
        "connector-ui", "data-plane"]
    assert names(label_selector="!app.kubernetes.io/name") == []
    assert names(field_selector="metadata.name=connector") == ["connector"]
    assert [n.metadata.name for n in core.list_namespace(label_selector="kubernetes.io/metadata.name=alice").items] == ["alice"]


def test_watch_streams_readiness_and_deletion(tmp_path):
    sim = SimulatorServer(tmp_path / "w.db", ready_delay=0.5).start()
    sim.store.ensure_cluster("alice")
    api = api_client_for_url(sim.cluster_url("alice"))
    objects = participant_objects(with_job=False)
    W.apply(api, objects)
    apps = k8s.AppsV1Api(api)
    seen = []
    w = watch.Watch()
    for event in w.stream(apps.list_namespaced_deployment, "alice", field_selector="metadata.name=connector",
                          timeout_seconds=10):
        seen.append((event["type"], event["object"].status.ready_replicas))
        if event["object"].status.ready_replicas == 1:
            w.stop()
    assert seen[0] == ("ADDED", None) and seen[-1] == ("MODIFIED", 1)
    rv = apps.list_namespaced_deployment("alice").metadata.resource_version
    apps.delete_namespaced_deployment("connector", "alice")
    # only the connector: the other Deployments may still turn ready after ``rv`` on a busy machine
    events = [e["type"] for e in watch.Watch().stream(apps.list_namespaced_deployment, "alice",
                                                      field_selector="metadata.name=connector",
                                                      resource_version=rv, timeout_seconds=1)]
    assert events == ["DELETED"]
    sim.stop()


def test_namespace_delete_removes_its_objects(sim, api):
    W.apply(api, participant_objects())
    k8s.CoreV1Api(api).delete_namespace("alice")
    for kind in ("ConfigMap", "Secret", "Service", "Deployment", "Job", "Ingress"):
        assert W.list_objects(api, kind, "alice") == [], kind


def test_state_persists_and_is_shared_between_servers(tmp_path):
    db = tmp_path / "clusters" / "simulated.db"
    with SimulatorServer(db, ready_delay=0) as first:
        first.store.ensure_cluster("alice")
        W.apply(api_client_for_url(first.cluster_url("alice")), participant_objects())
        # A second process (e.g. `mvd plan` while `mvd serve` runs) serves the same clusters.
        with SimulatorServer(db, ready_delay=0) as second:
            api2 = api_client_for_url(second.cluster_url("alice"))
            assert len(W.observe(api2, "alice", "mvd-test")) == len(participant_objects())
            assert settle(api2, participant_objects(), timeout_seconds=30).ready
            assert W.apply(api2, participant_objects()).writes == 0
            assert second.writes("alice") == 0
    with SimulatorServer(db) as later:
        assert later.store.clusters() == ["alice"]
        assert W.rollout_status(api_client_for_url(later.cluster_url("alice")), participant_objects()).ready


def test_unknown_cluster_and_path(sim):
    api = api_client_for_url(sim.cluster_url("nobody"))
    with pytest.raises(ApiException) as err:
        k8s.CoreV1Api(api).list_namespace()
    assert err.value.status == 404 and "simulated cluster" in _status(err.value)["message"]


def test_fault_injection_answers_5xx_status_and_is_counted(tmp_path):
    with SimulatorServer(tmp_path / "f.db", faults=Faults(error_rate=1.0, seed=1)) as sim:
        sim.store.ensure_cluster("alice")
        api = api_client_for_url(sim.cluster_url("alice"))
        with pytest.raises(ApiException) as err:
            k8s.CoreV1Api(api).list_namespace()
        assert err.value.status in (500, 503) and "injected" in _status(err.value)["message"]
        assert sim.requests("alice") == {"fault": 1}


def test_request_counts_by_verb_and_resource(sim, api):
    W.apply(api, participant_objects()[:5])
    counts = sim.requests("alice")
    assert counts["patch namespaces"] == 1 and counts["patch deployments"] == 1 and counts["get deployments"] == 1
    assert sim.writes("alice") == 5
    http = api.rest_client.pool_manager.request("GET", f"{sim.cluster_url('alice')}/_sim/requests")
    assert json.loads(http.data)["patch services"] == 1


def test_create_on_a_cluster_wide_path_is_not_allowed(sim, api):
    """Namespaced objects are created under their namespace; the cluster-wide path only lists."""
    k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="alice")))
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    http = api.rest_client.pool_manager.request(
        "POST", f"{sim.cluster_url('alice')}/api/v1/configmaps", body=body, headers={"Content-Type": "application/json"}
    )
    status = json.loads(http.data)
    assert http.status == 405 and status["reason"] == "MethodNotAllowed"
    assert k8s.CoreV1Api(api).list_config_map_for_all_namespaces().items == []
