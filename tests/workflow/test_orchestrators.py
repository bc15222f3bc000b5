"""The real orchestrators, replayed by the real azure-functions-durable code inside the
local engine, with stand-in activities: step order, polling with durable timers, retries,
and one participant's failure not stopping the others."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from mvd_core.engine import Engine
from mvd_core.workflow import orchestrators
from mvd_core.workflow.catalog import ORCHESTRATORS
from mvd_core.workflow.functions import DATASPACE_ORCHESTRATOR

PARTICIPANTS = ["alpha", "beta", "gamma"]
COMMAND = {"runId": "mvd-t-20261129T000000-abcdef", "action": "provision", "dataspace": "t", "source": "cli",
           "requestedAt": "2026-11-29T00:00:00+00:00", "rotateKeys": []}


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch):
    """Retries wait 0.05 s, 0.1 s, 0.2 s here instead of 1 s, 2 s, 4 s."""
    monkeypatch.setattr(orchestrators, "RETRY_FIRST_SECONDS", 0.05)


class Activities:
    """Stand-ins that record every call; ``fail`` makes an activity raise for a participant."""

    def __init__(self, fail: dict[tuple[str, str], int] | None = None, cluster_polls: int = 0) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.fail = dict(fail or {})
        self.cluster_polls = cluster_polls
        self.recorded: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def _call(self, name: str, data: dict[str, Any]) -> None:
        pid = data.get("participant", "*")
        with self._lock:
            self.calls[(name, pid)] += 1
            left = self.fail.get((name, pid), 0)
            if left:
                self.fail[(name, pid)] = left - 1
                raise RuntimeError(f"{name} broke for {pid}")

    def table(self) -> dict[str, Any]:
        def step(name: str, result: Any = None):
            def fn(data: dict[str, Any]) -> Any:
                self._call(name, data)
                return result(data) if callable(result) else (result or {"detail": name})
            return fn

        def poll(data: dict[str, Any]) -> dict[str, Any]:
            self._call("poll_cluster", data)
            n = self.calls[("poll_cluster", data["participant"])]
            return {"done": n >= self.cluster_polls, "pollAfterSeconds": 0.01, "token": "op", "description": "polled"}

        def record(summary: dict[str, Any]) -> dict[str, Any]:
            self.recorded.append(summary)
            return summary

        return {
            "load_baseline": step("load_baseline", lambda d: {
                "participants": PARTICIPANTS, "dids": {},
                "dataspace": {"participants": [{"id": p} for p in PARTICIPANTS]}}),
            "begin_cluster": step("begin_cluster", {"done": self.cluster_polls == 0, "pollAfterSeconds": 0.01,
                                                    "token": "op", "description": "simulated"}),
            "poll_cluster": poll,
            "ensure_key": step("ensure_key"),
            "publish_did": step("publish_did"),
            "apply_workloads": step("apply_workloads"),
            "restart_runtimes": step("restart_runtimes"),
            "check_rollout": step("check_rollout", lambda d: {"ready": True, "total": 1 if "Deployment" in d["kinds"] else 0, "detail": "ok"}),
            "enroll_identity": step("enroll_identity"),
            "prune_workloads": step("prune_workloads"),
            "delete_workloads": step("delete_workloads"),
            "remove_did": step("remove_did"),
            "remove_onboarded": step("remove_onboarded", lambda d: [{"did": "did:web:guest.example", "participantId": "guest-example", "joinedAt": "2026-12-01T10:00:00+00:00", "removedAt": "2026-12-02T00:00:00+00:00", "revoked": True}]),
            "verify_dataspace": step("verify_dataspace", {"problems": {}}),
            "record_run": record,
        }


def run(tmp_path, activities: Activities, action: str = "provision", rotate: list[str] | None = None) -> dict[str, Any]:
    engine = Engine(tmp_path / "engine.db", ORCHESTRATORS, activities.table(), workers=3)
    engine.start()
    try:
        command = {**COMMAND, "action": action, "rotateKeys": rotate or []}
        iid = engine.start_new(DATASPACE_ORCHESTRATOR, command, command["runId"])
        status = engine.wait_for_completion(iid, 60)
        assert status.runtime_status.value == "Completed", status.error
        children = {p: engine.get_status(f"{iid}--{p}") for p in PARTICIPANTS}
        return {"output": status.output, "children": children}
    finally:
        engine.stop()


def test_provision_runs_every_step_once_per_participant(tmp_path):
    acts = Activities()
    result = run(tmp_path, acts)
    for p in PARTICIPANTS:
        steps = [s["name"] for s in result["children"][p].custom_status["steps"]]
        assert steps == ["cluster", "vault", "did", "workloads", "rollout", "identity", "seed", "prune"]
        states = {s["name"]: s["status"] for s in result["children"][p].custom_status["steps"]}
        assert states == {**{s: "done" for s in steps}, "seed": "skipped"}
        for name in ("begin_cluster", "ensure_key", "publish_did", "apply_workloads", "prune_workloads"):
            assert acts.calls[(name, p)] == 1
        assert acts.calls[("restart_runtimes", p)] == 0
    assert result["output"]["failures"] == []
    [summary] = acts.recorded
    assert set(summary["results"]) == set(PARTICIPANTS)


def test_reset_restarts_and_teardown_only_removes(tmp_path):
    acts = Activities()
    run(tmp_path / "r", acts, "reset")
    assert all(acts.calls[("restart_runtimes", p)] == 1 for p in PARTICIPANTS)
    acts = Activities()
    result = run(tmp_path / "t", acts, "teardown")
    assert {n for n, _ in acts.calls} == {"load_baseline", "remove_onboarded", "delete_workloads", "remove_did"}
    assert [s["name"] for s in result["children"]["alpha"].custom_status["steps"]] == ["workloads", "did"]


def test_reset_removes_onboarded_participants_once_and_records_them(tmp_path):
    acts = Activities()
    result = run(tmp_path, acts, "reset")
    assert acts.calls[("remove_onboarded", "*")] == 1
    [summary] = acts.recorded
    assert [r["did"] for r in summary["removed"]] == ["did:web:guest.example"]
    assert result["output"]["failures"] == []
    acts = Activities()
    run(tmp_path / "p", acts, "provision")
    assert acts.calls[("remove_onboarded", "*")] == 0
    assert acts.recorded[0]["removed"] == []


def test_a_reset_whose_removal_fails_still_resets_the_seed_participants(tmp_path):
    acts = Activities(fail={("remove_onboarded", "*"): 99})
    result = run(tmp_path, acts, "reset")
    assert acts.calls[("remove_onboarded", "*")] == 4  # tried with backoff, then its error stands
    assert all(acts.calls[("restart_runtimes", p)] == 1 for p in PARTICIPANTS)
    assert [(f["participant"], f["step"]) for f in result["output"]["failures"]] == [("*", "offboard")]
    assert "remove_onboarded broke" in result["output"]["failures"][0]["reason"]


def test_long_cluster_operation_is_polled_with_durable_timers(tmp_path):
    acts = Activities(cluster_polls=3)
    result = run(tmp_path, acts)
    assert all(acts.calls[("poll_cluster", p)] == 3 for p in PARTICIPANTS)
    history = result["children"]["alpha"]
    assert history.custom_status["steps"][0]["detail"] == "polled"


def test_transient_failures_are_retried(tmp_path):
    acts = Activities(fail={("publish_did", "beta"): 2})
    result = run(tmp_path, acts)
    assert acts.calls[("publish_did", "beta")] == 3
    assert result["output"]["failures"] == []


def _retry_waits(history: list[dict[str, Any]]) -> list[float]:
    """Seconds each retry timer waited: its FireAt minus the orchestrator time that created it
    (the last OrchestratorStarted before it)."""
    waits, now = [], None
    for event in history:
        if event["EventType"] == 12:  # OrchestratorStarted: the replay's current_utc_datetime
            now = datetime.fromisoformat(event["Timestamp"])
        elif event["EventType"] == 10:  # TimerCreated
            waits.append(round((datetime.fromisoformat(event["FireAt"]) - now).total_seconds(), 3))
    return waits


def test_retries_back_off_exponentially_on_durable_timers(tmp_path):
    acts = Activities(fail={("apply_workloads", "beta"): 99})
    engine = Engine(tmp_path / "engine.db", ORCHESTRATORS, acts.table(), workers=3)
    engine.start()
    try:
        iid = engine.start_new(DATASPACE_ORCHESTRATOR, COMMAND, COMMAND["runId"])
        engine.wait_for_completion(iid, 60)
        history = engine.get_status(f"{iid}--beta", show_history=True).history
    finally:
        engine.stop()
    assert acts.calls[("apply_workloads", "beta")] == orchestrators.RETRY_ATTEMPTS
    assert _retry_waits(history) == [0.05, 0.1, 0.2]


def test_one_participant_failing_does_not_stop_the_others(tmp_path):
    acts = Activities(fail={("apply_workloads", "beta"): 99})
    result = run(tmp_path, acts)
    assert acts.calls[("apply_workloads", "beta")] == orchestrators.RETRY_ATTEMPTS
    [failure] = result["output"]["failures"]
    assert failure["participant"] == "beta" and failure["step"] == "workloads"
    assert "apply_workloads broke for beta" in failure["reason"]
    beta = result["children"]["beta"].custom_status
    assert beta["status"] == "failed"
    assert {s["name"]: s["status"] for s in beta["steps"]}["rollout"] == "skipped"
    for p in ("alpha", "gamma"):
        assert result["children"][p].custom_status["status"] == "done"
        assert acts.calls[("prune_workloads", p)] == 1
    assert acts.calls[("prune_workloads", "beta")] == 0


def test_each_participant_gets_only_its_own_slice_of_the_baseline(tmp_path):
    seen: dict[str, list[str]] = {}
    acts = Activities()
    table = acts.table()
    original = table["ensure_key"]

    def ensure_key(data):
        seen[data["participant"]] = [p["id"] for p in data["baseline"]["dataspace"]["participants"]]
        return original(data)

    table["ensure_key"] = ensure_key
    acts.table = lambda: table  # type: ignore[method-assign]
    run(tmp_path, acts)
    assert seen == {p: [p] for p in PARTICIPANTS}


@pytest.mark.parametrize("action", ["provision", "reset", "teardown"])
def test_steps_run_and_show_in_the_order_of_the_one_table(tmp_path, action):
    """What a participant runs and what its progress lists both follow STEPS[action]."""
    from mvd_core.workflow.steps import STEPS, Call, Operation, WaitReady

    acts = Activities()
    engine = Engine(tmp_path / "engine.db", ORCHESTRATORS, acts.table(), workers=3)
    engine.start()
    try:
        command = {**COMMAND, "action": action}
        iid = engine.start_new(DATASPACE_ORCHESTRATOR, command, command["runId"])
        engine.wait_for_completion(iid, 60)
        child = engine.get_status(f"{iid}--alpha", show_history=True)
    finally:
        engine.stop()
    table = STEPS[action]
    assert [s["name"] for s in child.custom_status["steps"]] == [s.name for s in table]
    scheduled = [e["Name"] for e in child.history if e["EventType"] == 4]  # TaskScheduled
    expected = [s.begin if isinstance(s, Operation) else s.activity for s in table
                if isinstance(s, Call | Operation | WaitReady)]
    assert scheduled == expected


def test_a_failure_names_the_step_that_failed_and_its_reason(tmp_path):
    """The run's failure carries the failed step's name and error as the participant's
    progress recorded them, also when the reason itself contains ': '."""
    acts = Activities()
    table = acts.table()
    original = table["begin_cluster"]

    def begin_cluster(data):
        if data["participant"] == "gamma":
            acts._call("begin_cluster", data)
            raise RuntimeError("workloads: not really: the cluster quota is used up")
        return original(data)

    table["begin_cluster"] = begin_cluster
    acts.table = lambda: table  # type: ignore[method-assign]
    result = run(tmp_path, acts)
    [failure] = result["output"]["failures"]
    assert failure["participant"] == "gamma" and failure["step"] == "cluster"
    gamma = result["children"]["gamma"].custom_status
    assert failure["reason"] == gamma["steps"][0]["error"]
    assert "workloads: not really: the cluster quota is used up" in failure["reason"]
    assert gamma["error"] == f"cluster: {failure['reason']}"
    assert [s["status"] for s in gamma["steps"]] == ["failed"] + ["skipped"] * 7
