"""Issue 5's end-to-end promises on the embedded default, through the HTTP API."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
from kubernetes import client as k8s

from mvd_core.api.webhooks import signed_headers
from mvd_core.identity import keys
from mvd_core.identity.resolver import resolve
from mvd_core.k8s import labels as L
from mvd_core.platforms.kubernetes.simulator import shared_simulator
from mvd_core.workflow import connect

SEED_DEPLOYMENTS = {
    "galactic-turbine": {"identityhub": 1, "connector": 1, "catalog": 1, "connector-ui": 1},
    "space-enforcer": {"identityhub": 1, "connector": 1, "connector-ui": 1},
    "interstellar-assembly": {"identityhub": 1, "connector": 1, "connector-ui": 1},
}
# the data planes of each participant: one StatefulSet
SEED_DATA_PLANES = {"galactic-turbine": 3, "space-enforcer": 1, "interstellar-assembly": 3}


def provision(plane) -> dict:
    resp = plane.post("provision", headers={"X-MVD-Source": "button"})
    assert resp.status_code == 202, resp.text
    run = plane.wait(resp.json()["runId"])
    assert run["status"] == "completed", run["failures"]
    return run


def apps(plane, pid: str) -> k8s.AppsV1Api:
    p = plane.host.dataspace.participant(pid)
    return k8s.AppsV1Api(connect.cluster_source(p, plane.settings).api_client())


def test_provision_converges_every_participant_and_dids_resolve_over_http(plane):
    run = provision(plane)
    assert run["source"] == "button"
    for pid, expected in SEED_DEPLOYMENTS.items():
        progress = run["participants"][pid]
        assert progress["status"] == "done"
        statuses = {s["name"]: s["status"] for s in progress["steps"]}
        # no identity hub runs on a simulated cluster; the seed step waits for the Job seed-offers
        assert statuses == {**dict.fromkeys(["cluster", "vault", "did", "workloads", "rollout", "seed", "prune"], "done"),
                            "identity": "skipped"}
        deployments = apps(plane, pid).list_namespaced_deployment(pid).items
        assert {d.metadata.name: d.spec.replicas for d in deployments} == expected
        assert all(d.status.ready_replicas == d.spec.replicas for d in deployments)
        data_planes = apps(plane, pid).read_namespaced_stateful_set("dataplane", pid)
        assert data_planes.spec.replicas == data_planes.status.ready_replicas == SEED_DATA_PLANES[pid]
    for p in plane.host.dataspace.participants:
        jwk = keys.public_key(connect.secret_store(p, plane.settings), p.id)
        doc = resolve(f"did:web:localhost%3A{plane.settings.port}:dids:{p.id}", allow_http_loopback=True, allow_private=True)
        assert doc["id"] == f"did:web:localhost%3A{plane.settings.port}:dids:{p.id}"
        assert doc["verificationMethod"][0]["publicKeyJwk"] == jwk
    view = httpx.get(f"{plane.url}/api/dataspace", timeout=30).json()
    assert all(p["resolves"] for p in view["participants"])
    assert all(p["simulated"] for p in view["participants"])


def test_reset_restarts_every_runtime_and_writes_nothing_else(plane):
    provision(plane)
    sim = shared_simulator(plane.settings.home)
    sim.reset_counts()
    resp = plane.post("reset")
    run = plane.wait(resp.json()["runId"])
    assert run["status"] == "completed", run["failures"]
    total_deployments = 0
    for pid, expected in SEED_DEPLOYMENTS.items():
        writes = {k: v for k, v in sim.requests(pid).items() if k.split(" ")[0] not in ("get", "list", "watch")}
        # the restart, and the offers Job run again (deleted, then created by server-side apply)
        expected_writes = {"patch deployments": len(expected), "patch statefulsets": 1, "delete jobs": 1, "patch jobs": 1}
        assert writes == expected_writes, (pid, writes)
        assert sim.writes(pid) == len(expected) + 3
        for d in [*apps(plane, pid).list_namespaced_deployment(pid).items,
                  *apps(plane, pid).list_namespaced_stateful_set(pid).items]:
            assert d.spec.template.metadata.annotations[L.RESTARTED_AT_KEY] == run["id"]
        total_deployments += len(expected) + 1  # and the data planes
    assert total_deployments == 13


def test_twenty_concurrent_resets_make_one_run_and_everyone_gets_its_id(plane):
    provision(plane)
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: plane.post("reset"), range(20)))
    assert {a.status_code for a in answers} == {202}
    ids = {a.json()["runId"] for a in answers}
    assert len(ids) == 1
    assert sum(1 for a in answers if not a.json()["coalesced"]) == 1
    [run_id] = ids
    plane.wait(run_id)
    resets = [r for r in httpx.get(f"{plane.url}/api/runs", timeout=10).json()["runs"] if r["action"] == "reset"]
    assert [r["id"] for r in resets] == [run_id]
    assert resets[0]["coalesced"] == 19


def test_drift_shows_in_the_plan_and_a_reset_removes_it(plane):
    provision(plane)
    pid = "interstellar-assembly"
    apps(plane, pid).patch_namespaced_stateful_set("dataplane", pid, {"spec": {"replicas": 1}})  # kubectl edit
    core = k8s.CoreV1Api(connect.cluster_source(plane.host.dataspace.participant(pid), plane.settings).api_client())
    labels = {L.MANAGED_BY_KEY: L.MANAGED_BY_VALUE, L.PART_OF_KEY: "mvd", L.PARTICIPANT_KEY: pid}
    core.create_namespaced_config_map(pid, {"metadata": {"name": "onboarded-late", "labels": labels}, "data": {"x": "1"}})
    plan = httpx.get(f"{plane.url}/api/dataspace/plan", timeout=30).json()["participants"]
    assert plan[pid]["create"] == []
    assert plan[pid]["update"] == [{"object": f"StatefulSet/{pid}/dataplane",
                                    "fields": [{"path": "spec.replicas", "observed": 1, "desired": 3}]}]
    assert plan[pid]["delete"] == [f"ConfigMap/{pid}/onboarded-late"]
    assert all(not (v["create"] or v["update"] or v["delete"]) for k, v in plan.items() if k != pid)
    run = plane.wait(plane.post("reset").json()["runId"])
    assert run["status"] == "completed"
    plan = httpx.get(f"{plane.url}/api/dataspace/plan", timeout=30).json()["participants"]
    assert all(not (v["create"] or v["update"] or v["delete"]) for v in plan.values()), plan


def test_bad_webhooks_are_refused_and_start_nothing(plane):
    url = f"{plane.url}/api/webhooks/ci"
    body = json.dumps({"action": "reset"}).encode()
    good = signed_headers("webhook-secret-1", body, "delivery-1")
    bad = {**good, "X-MVD-Signature": "sha256=" + "0" * 64}
    assert httpx.post(url, content=body, headers=bad).status_code == 401
    huge = b'{"action": "reset", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert httpx.post(url, content=huge, headers=signed_headers("webhook-secret-1", huge, "delivery-2")).status_code == 413
    assert httpx.get(f"{plane.url}/api/runs", timeout=10).json()["runs"] == []
    first = httpx.post(url, content=body, headers=good)
    assert first.status_code == 202
    plane.wait(first.json()["runId"])
    replay = httpx.post(url, content=body, headers=good)
    assert replay.status_code == 409 and "delivery-1" in replay.json()["error"]
    runs = httpx.get(f"{plane.url}/api/runs", timeout=10).json()["runs"]
    assert [(r["action"], r["source"]) for r in runs] == [("reset", "webhook")]


def test_mutating_calls_need_the_token(plane):
    resp = httpx.post(f"{plane.url}/api/dataspace/provision", headers={"Authorization": "Bearer wrong"})
    assert resp.status_code == 401 and "token" in resp.json()["error"]
    assert httpx.post(f"{plane.url}/api/dataspace/provision").status_code == 401
    assert httpx.get(f"{plane.url}/api/runs", timeout=10).json()["runs"] == []
    unknown = plane.post("provision", json={"rotateKeys": ["nobody"]})
    assert unknown.status_code == 404 and "nobody" in unknown.json()["error"]


def test_hostile_did_paths_are_not_served(plane):
    provision(plane)
    for path in ("/dids/../api-token", "/dids/%2e%2e/api-token", "/dids/galactic-turbine/../../api-token",
                 "/dids/galactic-turbine/secret.txt"):
        resp = httpx.get(f"{plane.url}{path}")
        assert resp.status_code == 404, path
        assert "e2e-token" not in resp.text
    ok = httpx.get(f"{plane.url}/dids/galactic-turbine/did.json")
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/did+json")
    assert ok.headers["access-control-allow-origin"] == "*"


def test_teardown_removes_workloads_and_dids_but_keeps_keys(plane):
    provision(plane)
    before = {p.id: keys.public_key(connect.secret_store(p, plane.settings), p.id) for p in plane.host.dataspace.participants}
    run = plane.wait(plane.post("teardown").json()["runId"])
    assert run["status"] == "completed", run["failures"]
    for p in plane.host.dataspace.participants:
        assert httpx.get(f"{plane.url}/dids/{p.id}/did.json").status_code == 404
        assert apps(plane, p.id).list_namespaced_deployment(p.id).items == []
        assert keys.public_key(connect.secret_store(p, plane.settings), p.id) == before[p.id]
    again = plane.wait(plane.post("provision").json()["runId"])
    assert again["status"] == "completed"


def test_rotating_a_key_changes_only_that_did_document(plane):
    provision(plane)
    port = plane.settings.port
    resolve_all = lambda: {
        p.id: resolve(f"did:web:localhost%3A{port}:dids:{p.id}", allow_http_loopback=True, allow_private=True)
        for p in plane.host.dataspace.participants
    }
    before = resolve_all()
    resp = plane.post("reset", json={"rotateKeys": ["space-enforcer"]})
    assert resp.status_code == 202
    run = plane.wait(resp.json()["runId"])
    assert run["status"] == "completed", run["failures"]
    vault_step = {s["name"]: s for s in run["participants"]["space-enforcer"]["steps"]}["vault"]
    assert vault_step["detail"].startswith("rotated to")
    after = resolve_all()
    assert after["space-enforcer"]["verificationMethod"] != before["space-enforcer"]["verificationMethod"]
    assert after["space-enforcer"]["id"] == before["space-enforcer"]["id"]  # the DID stays
    assert {k: v for k, v in after.items() if k != "space-enforcer"} == {
        k: v for k, v in before.items() if k != "space-enforcer"}
    new_kid = after["space-enforcer"]["verificationMethod"][0]["publicKeyJwk"]["kid"]
    p = plane.host.dataspace.participant("space-enforcer")
    assert keys.public_key(connect.secret_store(p, plane.settings), p.id)["kid"] == new_kid
    # a plain reset afterwards keeps the rotated key
    plane.wait(plane.post("reset").json()["runId"])
    assert resolve_all() == after
