"""SIGKILL `mvd serve` in the middle of a reset; after a restart the run completes and every
side effect happened exactly once."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from azure.durable_functions.models.history import HistoryEventType
from kubernetes import client as k8s

from mvd_core.k8s import labels as L
from mvd_core.onboarding import Onboarded, OnboardingStore
from mvd_core.platforms.clusters.simulated import SimulatedClusterSource
from mvd_core.platforms.kubernetes.simulator import stop_shared_simulators
from mvd_core.runs.models import utcnow
from mvd_core.settings import Settings

PARTICIPANTS = ("galactic-turbine", "space-enforcer", "interstellar-assembly")


def deployments(home) -> dict[str, tuple[int, str | None]]:
    """Every Deployment's generation and restart annotation, read from the persisted clusters."""
    settings = Settings(home=home)
    out = {}
    try:
        for pid in PARTICIPANTS:
            api = k8s.AppsV1Api(SimulatedClusterSource(pid, settings).api_client())
            for d in api.list_namespaced_deployment(pid).items:
                annotations = d.spec.template.metadata.annotations or {}
                out[f"{pid}/{d.metadata.name}"] = (d.metadata.generation, annotations.get(L.RESTARTED_AT_KEY))
    finally:
        stop_shared_simulators()
    return out


def completions_per_task(home, run_id: str) -> Counter[tuple[str, int]]:
    """How often each scheduled activity of the reset completed, from the engine's history."""
    with sqlite3.connect(home / "engine.db") as db:
        rows = db.execute("SELECT instance_id, event FROM history WHERE instance_id LIKE ?", (f"{run_id}%",)).fetchall()
    done: Counter[tuple[str, int]] = Counter()
    for iid, raw in rows:
        event = json.loads(raw)
        if event["EventType"] == HistoryEventType.TASK_COMPLETED:
            done[(iid, event["TaskScheduledId"])] += 1
    return done


def test_sigkill_mid_reset_resumes_and_applies_each_side_effect_once(serve_process):
    sp = serve_process
    sp.start()
    run_id = sp.api("POST", "/api/dataspace/provision").json()["runId"]
    assert sp.wait_run(run_id, lambda r: r["status"] in ("completed", "failed"))["status"] == "completed"
    sp.stop()
    before = deployments(sp.home)
    assert len(before) == 10
    # a newcomer that joined since (what a join leaves in the store): the reset removes it first
    guest = "did:web:guest.example.org"
    OnboardingStore.in_home(sp.home).add(
        Onboarded(did=guest, participant_id="guest-example-org", protocol_url="https://guest.example.org/api/dsp/2025-1",
                  credential_service="https://guest.example.org/api/credentials", joined_at=utcnow(),
                  source_address="192.0.2.1", invite_id=None),
        cap=5, invite_token=None)

    sp.start()
    reset_id = sp.api("POST", "/api/dataspace/reset").json()["runId"]

    def restarted_somewhere(run: dict) -> bool:
        steps = [s for p in run["participants"].values() for s in p["steps"]]
        return any(s["name"] == "restart" and s["status"] == "done" for s in steps) and run["status"] == "running"

    sp.wait_run(reset_id, restarted_somewhere)
    sp.kill()
    middle = deployments(sp.home)
    assert any(ann == reset_id for _, ann in middle.values()), "the kill came before any restart"

    sp.start()
    run = sp.wait_run(reset_id, lambda r: r["status"] in ("completed", "failed"))
    assert run["status"] == "completed", run["failures"]
    assert all(p["status"] == "done" for p in run["participants"].values())
    assert [(r["did"], r["revoked"]) for r in run["removed"]] == [(guest, True)]
    sp.stop()
    store = OnboardingStore.in_home(sp.home)
    assert store.active() == [] and [(e.did, e.removed_by) for e in store.removed()] == [(guest, reset_id)]

    completions = completions_per_task(sp.home, reset_id)
    assert completions and max(completions.values()) == 1, "an activity completed twice in the history"
    after = deployments(sp.home)
    for name, (generation, annotation) in after.items():
        assert annotation == reset_id, name
        assert generation == before[name][0] + 1, f"{name} was restarted {generation - before[name][0]} times"
