"""Every activity run twice with the same input: the same state, and the second run writes
nothing (Durable runs an activity at least once: a crash after its side effect and before its
result is recorded runs it again). Real parts: the simulated clusters over HTTP, the file
vault, the local did:web host resolved over HTTP, the run registry."""

from __future__ import annotations

from typing import Any

from mvd_core.k8s.objects import object_key
from mvd_core.platforms.kubernetes import workloads as W
from mvd_core.platforms.kubernetes.client import api_client_for_url
from mvd_core.platforms.kubernetes.simulator import shared_simulator
from mvd_core.workflow.catalog import ACTIVITIES
from mvd_core.workflow.orchestrators import participant_slice

RUN_ID = "mvd-mvd-20261129T000000-0a1b2c"
PID = "galactic-turbine"


def _command(action: str) -> dict[str, Any]:
    return {"runId": RUN_ID, "action": action, "dataspace": "mvd", "source": "cli",
            "requestedAt": "2026-11-29T00:00:00+00:00", "rotateKeys": []}


def _work(baseline: dict[str, Any], action: str) -> dict[str, Any]:
    return {"runId": RUN_ID, "action": action, "participant": PID, "baseline": participant_slice(baseline, PID),
            "rotateKey": False}


def _state(plane) -> dict[str, Any]:
    """What a side effect could change: the cluster's objects, the vault, the did.json, the runs."""
    sim = shared_simulator()
    objects = []
    if PID in sim.store.clusters():
        api = api_client_for_url(sim.cluster_url(PID))
        # Without status and resourceVersion: the simulated controllers move those on their own.
        objects = sorted(([object_key(o), {k: v for k, v in o.items() if k != "status"}]
                          for o in W.observe(api, PID, "mvd")), key=lambda pair: pair[0])
        for _, obj in objects:
            obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    home = plane.settings.home
    vault = {p.name: p.read_bytes() for p in sorted((home / "vaults").rglob("*")) if p.is_file()}
    did = home / "dids" / PID / "did.json"
    runs = [r.model_dump() for r in plane.host.registry.recent(50)]
    return {"objects": objects, "vault": vault, "runs": runs,
            "did": (did.read_bytes(), did.stat().st_mtime_ns) if did.exists() else None}


def _twice(plane, name: str, data: dict[str, Any]) -> tuple[Any, Any]:
    """Run ``name`` twice; the second run must leave every piece of state as the first left it."""
    first = ACTIVITIES[name](data)
    before = _state(plane)
    sim = shared_simulator()
    sim.reset_counts()
    second = ACTIVITIES[name](data)
    assert sim.writes(PID) == 0, (name, sim.requests(PID))
    assert _state(plane) == before, name
    return first, second


def test_each_activity_twice_changes_nothing_the_second_time(plane):
    baseline, again = _twice(plane, "load_baseline", _command("provision"))
    assert again == baseline
    provision = _work(baseline, "provision")

    first, second = _twice(plane, "begin_cluster", provision)
    assert first["done"] and second["done"]
    first, second = _twice(plane, "ensure_key", provision)
    assert first["kid"] == second["kid"]
    first, second = _twice(plane, "publish_did", provision)
    assert first["written"] and not second["written"]
    first, second = _twice(plane, "apply_workloads", provision)
    assert first["writes"] > 0 and second["writes"] == 0
    _twice(plane, "check_rollout", {**provision, "kinds": ["Deployment"]})
    _twice(plane, "prune_workloads", provision)

    reset = _work(baseline, "reset")
    first, second = _twice(plane, "restart_runtimes", reset)
    assert first == second  # the restart is keyed by the run id: the retry finds it done

    run_id, created = plane.host.registry.claim("mvd", RUN_ID, "provision", "cli")
    assert created
    summary = {"command": _command("provision"), "startedAt": "2026-11-29T00:00:00+00:00",
               "finishedAt": "2026-11-29T00:00:03+00:00", "results": {}, "failures": []}
    _twice(plane, "record_run", summary)
    record = plane.host.registry.get(run_id)
    assert record.finished and record.summary["durationMs"] == 3000

    # a reset's first step: the onboarded participants removed and revoked, once
    from mvd_core.onboarding import Onboarded, open_store
    from mvd_core.runs.models import utcnow

    store = open_store(plane.settings)
    store.add(Onboarded(did="did:web:guest.example.org", participant_id="guest-example-org",
                        protocol_url="https://guest.example.org/api/dsp/2025-1",
                        credential_service="https://guest.example.org/api/credentials", joined_at=utcnow(),
                        source_address="192.0.2.1", invite_id=None), cap=5, invite_token=None)
    first, second = _twice(plane, "remove_onboarded", {"runId": RUN_ID, "baseline": baseline})
    assert first == second and [r["did"] for r in first] == ["did:web:guest.example.org"]
    assert store.active() == [] and store.unrevoked() == []

    teardown = _work(baseline, "teardown")
    first, second = _twice(plane, "delete_workloads", teardown)
    assert second["detail"] == "namespace already gone"
    first, second = _twice(plane, "remove_did", teardown)
    assert second["detail"] == "no did.json to remove"

