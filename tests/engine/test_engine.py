"""The engine hosts Durable Functions orchestrators with the SDK's replay: results, retries,
sub-orchestrations, timers, events, status, termination and persistence across restarts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.durable_functions.models.history import HistoryEventType as T

from mvd_core.engine import Engine, RuntimeStatus
from mvd_core.errors import Conflict, MvdError, NotFound
from tests.engine.orchestrators import ORCHESTRATORS, Calls, make_activities

WAIT = 30.0


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def engine(tmp_path: Path, calls: Calls) -> Iterator[Engine]:
    eng = Engine(tmp_path / "engine.db", ORCHESTRATORS, make_activities(calls), workers=4)
    eng.start()
    yield eng
    eng.stop()


def _types(history: list[dict]) -> list[int]:
    return [e["EventType"] for e in history]


def test_sequential_activities_chain_results(engine: Engine, calls: Calls) -> None:
    iid = engine.start_new("sequential", {"n": 6})
    status = engine.wait_for_completion(iid, WAIT)
    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == sum(range(6))
    assert status.input == {"n": 6}
    # Each activity ran once although the orchestrator was replayed after every one of them.
    assert all(count == 1 for count in calls.counts.values()) and len(calls.counts) == 6
    history = engine.get_status(iid, show_history=True).history
    assert _types(history).count(T.TASK_SCHEDULED) == 6
    assert (
        _types(history).count(T.ORCHESTRATOR_STARTED) == 7
    )  # one replay per completion + the start


def test_fan_out_returns_results_in_order(engine: Engine) -> None:
    iid = engine.start_new("fan_out", {"n": 25})
    status = engine.wait_for_completion(iid, WAIT)
    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == [2 * i for i in range(25)]
    scheduled = [
        e["EventId"]
        for e in engine.get_status(iid, show_history=True).history
        if e["EventType"] == T.TASK_SCHEDULED
    ]
    assert scheduled == list(range(25))


def test_retry_reschedules_after_a_durable_timer_until_success(
    engine: Engine, calls: Calls
) -> None:
    iid = engine.start_new("with_retry", {"key": "k1", "fail": 2, "attempts": 4, "interval_ms": 30})
    status = engine.wait_for_completion(iid, WAIT)
    assert status.output == {"value": "k1 ok after 3"}
    assert calls.counts["flaky:k1"] == 3
    types = [
        t
        for t in _types(engine.get_status(iid, show_history=True).history)
        if t in (T.TASK_SCHEDULED, T.TASK_FAILED, T.TASK_COMPLETED, T.TIMER_CREATED, T.TIMER_FIRED)
    ]
    # The shape Durable Functions writes: each failure is followed by a backoff timer, then a new schedule.
    assert types == [
        T.TASK_SCHEDULED,
        T.TASK_FAILED,
        T.TIMER_CREATED,
        T.TIMER_FIRED,
        T.TASK_SCHEDULED,
        T.TASK_FAILED,
        T.TIMER_CREATED,
        T.TIMER_FIRED,
        T.TASK_SCHEDULED,
        T.TASK_COMPLETED,
    ]


def test_retry_gives_up_after_max_attempts_with_the_activity_error(
    engine: Engine, calls: Calls
) -> None:
    iid = engine.start_new(
        "with_retry", {"key": "k2", "fail": 99, "attempts": 3, "interval_ms": 10}
    )
    status = engine.wait_for_completion(iid, WAIT)
    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert calls.counts["flaky:k2"] == 3
    assert "ConnectionError: attempt 3 of k2 failed" in status.output["error"]
    assert "flaky" in status.output["error"]


def test_activity_failure_is_an_exception_the_orchestrator_can_catch(engine: Engine) -> None:
    status = engine.wait_for_completion(engine.start_new("catches_failure"), WAIT)
    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output["recovered"] == 2
    assert "ValueError: kaput" in status.output["caught"]


def test_orchestrator_exception_fails_the_instance(engine: Engine) -> None:
    status = engine.wait_for_completion(engine.start_new("raises"), WAIT)
    assert status.runtime_status is RuntimeStatus.FAILED
    assert status.error == "RuntimeError: orchestrator gave up"
    assert status.output is None


def test_unsupported_api_fails_with_a_clear_error(engine: Engine) -> None:
    status = engine.wait_for_completion(engine.start_new("uses_entity"), WAIT)
    assert status.runtime_status is RuntimeStatus.FAILED
    assert "CallHttpAction" in status.error


def test_sub_orchestrators_fan_out_and_report_to_the_parent(engine: Engine) -> None:
    iid = engine.start_new("parent", {"children": ["alpha", "be"]}, instance_id="ds-1")
    status = engine.wait_for_completion(iid, WAIT)
    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == [{"name": "alpha", "value": 105}, {"name": "be", "value": 102}]
    assert status.custom_status == {"phase": "done"}
    child = engine.get_status("ds-1:alpha")
    assert child.runtime_status is RuntimeStatus.COMPLETED and child.parent_instance_id == "ds-1"


def test_a_failing_sub_orchestrator_fails_the_parents_task(engine: Engine) -> None:
    iid = engine.start_new("parent", {"children": ["good", "bad"]}, instance_id="ds-2")
    status = engine.wait_for_completion(iid, WAIT)
    assert status.output["error"].startswith("ValueError: child bad")
    assert "ds-2:bad" in status.output["error"]
    assert engine.get_status("ds-2:bad").runtime_status is RuntimeStatus.FAILED
    assert engine.wait_for_completion("ds-2:good", WAIT).runtime_status is RuntimeStatus.COMPLETED


def test_sub_orchestrator_with_retry_reruns_the_child(engine: Engine, calls: Calls) -> None:
    iid = engine.start_new("sub_with_retry", {"key": "s1", "fail": 1})
    status = engine.wait_for_completion(iid, WAIT)
    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == "s1 ok after 2"
    assert calls.counts["flaky:s1"] == 2


def test_timer_event_and_custom_status_while_running(engine: Engine) -> None:
    iid = engine.start_new("timer_then_event", {"timer_ms": 50})
    # The orchestration parks on the external event; its custom status is visible meanwhile.
    status = engine.wait_until(iid, lambda s: s.custom_status == "waiting for approval", WAIT)
    assert status.runtime_status is RuntimeStatus.RUNNING
    assert status.custom_status == "waiting for approval"
    engine.raise_event(iid, "approval", {"by": "ops"})
    status = engine.wait_for_completion(iid, WAIT)
    assert status.output == {"approved": {"by": "ops"}, "waited": True}
    history = engine.get_status(iid, show_history=True).history
    assert T.EVENT_RAISED in _types(history) and T.TIMER_FIRED in _types(history)


def test_is_replaying_is_false_on_the_newest_step(engine: Engine) -> None:
    status = engine.wait_for_completion(engine.start_new("replay_aware", instance_id="rp"), WAIT)
    assert status.output == {"last_is_replaying": False, "instance_id": "rp"}


def test_terminate_stops_the_run_and_its_children(engine: Engine) -> None:
    iid = engine.start_new("timer_then_event", {"timer_ms": 60_000})
    engine.terminate(iid, "operator said so")
    status = engine.get_status(iid)
    assert status.runtime_status is RuntimeStatus.TERMINATED
    assert "operator said so" in status.error
    engine.terminate(iid, "again")  # idempotent
    assert engine.run_until_idle(WAIT)  # its timer is gone
    with pytest.raises(Conflict):
        engine.raise_event(iid, "approval", 1)


def test_start_new_rejects_bad_input(engine: Engine) -> None:
    with pytest.raises(NotFound, match="no orchestrator named 'nope'"):
        engine.start_new("nope")
    with pytest.raises(MvdError, match="not JSON-serialisable"):
        engine.start_new("sequential", {"n": object()})
    with pytest.raises(NotFound):
        engine.wait_for_completion("missing", 1)
    assert engine.get_status("missing") is None


def test_start_new_refuses_a_running_id_but_reuses_a_finished_one(engine: Engine) -> None:
    engine.start_new("timer_then_event", {"timer_ms": 60_000}, instance_id="same")
    with pytest.raises(Conflict):
        engine.start_new("sequential", {"n": 1}, instance_id="same")
    engine.terminate("same", "done with it")
    engine.start_new("sequential", {"n": 2}, instance_id="same")
    status = engine.wait_for_completion("same", WAIT)
    assert status.name == "sequential" and status.output == 1


def test_start_singleton_is_race_free_across_threads(engine: Engine) -> None:
    results: list[tuple[str, bool]] = []
    barrier = threading.Barrier(20)

    def request() -> None:
        barrier.wait()
        results.append(
            engine.start_singleton("timer_then_event", "dataspace", {"timer_ms": 60_000})
        )

    threads = [threading.Thread(target=request) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(created for _, created in results) == [False] * 19 + [True]
    assert [s.instance_id for s in engine.list_instances(name="timer_then_event")] == ["dataspace"]


def test_list_instances_filters_by_name(engine: Engine) -> None:
    a = engine.start_new("sequential", {"n": 1})
    engine.start_new("fan_out", {"n": 1})
    assert [s.instance_id for s in engine.list_instances(name="sequential")] == [a]
    assert len(engine.list_instances()) == 2


def test_instances_survive_an_engine_restart(tmp_path: Path, calls: Calls) -> None:
    db = tmp_path / "restart.db"
    first = Engine(db, ORCHESTRATORS, make_activities(calls))
    iid = first.start_new("sequential", {"n": 3})  # queued while no engine runs
    assert first.run_until_idle(WAIT)
    assert first.get_status(iid).output == 3
    waiting = first.start_new("timer_then_event", {"timer_ms": 10})
    first.start()
    with pytest.raises(Conflict, match="another engine"):
        Engine(db, ORCHESTRATORS, make_activities(calls)).start()
    first.stop()
    second = Engine(db, ORCHESTRATORS, make_activities(calls))
    second.start()
    try:
        second.raise_event(waiting, "approval", "yes")
        assert second.wait_for_completion(waiting, WAIT).output["approved"] == "yes"
    finally:
        second.stop()
    assert all(count == 1 for count in calls.counts.values())


def test_workers_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(MvdError, match="at least one worker"):
        Engine(tmp_path / "x.db", {}, {}, workers=0)


def test_start_singleton_is_race_free_across_processes(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    db = tmp_path / "shared.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.engine.singleton_app", str(db)],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    flags = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        flags += out.split()
    assert sorted(flags) == ["False"] * 19 + ["True"]


def test_pending_events_are_batched_into_one_replay(tmp_path: Path, calls: Calls) -> None:
    eng = Engine(tmp_path / "batch.db", ORCHESTRATORS, make_activities(calls))
    iid = eng.start_new("three_events")
    for name in ("a", "b", "c"):
        eng.raise_event(iid, name, name.upper())
    assert eng.run_until_idle(WAIT)
    status = eng.get_status(iid, show_history=True)
    assert status.output == ["A", "B", "C"]
    # Start and all three events went through a single replay.
    assert _types(status.history).count(T.ORCHESTRATOR_STARTED) == 1


def test_an_activity_in_flight_at_a_crash_runs_again_and_completes_once(tmp_path: Path) -> None:
    db = tmp_path / "inflight.db"
    entered = threading.Event()
    release = threading.Event()
    runs: list[str] = []

    def stuck(arg: str) -> str:
        runs.append("first")
        entered.set()
        release.wait(WAIT)
        return "from the dead engine"

    def quick(arg: str) -> str:
        runs.append("second")
        return "from the new engine"

    first = Engine(db, ORCHESTRATORS, {"work": stuck})
    first.start()
    iid = first.start_new("one_activity", {"activity": "work"})
    assert entered.wait(WAIT)
    old_threads = list(first._threads)
    first.stop(timeout=0.05)  # the worker is still inside the activity, as if the process died
    second = Engine(db, ORCHESTRATORS, {"work": quick})
    second.start()
    try:
        status = second.wait_for_completion(iid, WAIT)
        release.set()  # the old worker finishes late: its result must be dropped
        for thread in old_threads:
            thread.join(WAIT)
        assert not any(t.is_alive() for t in old_threads)
        assert second.run_until_idle(WAIT)
    finally:
        second.stop()
    assert status.output == "from the new engine"
    assert runs == ["first", "second"]
    history = second.get_status(iid, show_history=True).history
    assert _types(history).count(T.TASK_COMPLETED) == 1


def test_fan_out_of_retried_activities_keeps_task_ids_consistent(
    engine: Engine, calls: Calls
) -> None:
    keys = [f"f{i}" for i in range(7)]
    status = engine.wait_for_completion(engine.start_new("fan_out_retries", {"keys": keys}), WAIT)
    assert status.runtime_status is RuntimeStatus.COMPLETED, status.error
    assert status.output["first"] == [f"{k} ok after {i % 3 + 1}" for i, k in enumerate(keys)]
    assert status.output["after"] == 7
    assert "attempt 3 of never failed" in status.output["error"]
    assert calls.counts["flaky:never"] == 3
    history = engine.get_status(status.instance_id, show_history=True).history
    ids = [e["EventId"] for e in history if e["EventType"] in (T.TASK_SCHEDULED, T.TIMER_CREATED)]
    assert len(ids) == len(set(ids))  # every scheduled task got its own sequence number


def test_continue_as_new_restarts_with_fresh_history(engine: Engine, calls: Calls) -> None:
    status = engine.wait_for_completion(engine.start_new("counter", {"n": 0}), WAIT)
    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == 3 and status.input == {"n": 2}
    assert [k for k in calls.counts] == ["add:0:1", "add:1:1", "add:2:1"]
    history = engine.get_status(status.instance_id, show_history=True).history
    assert _types(history).count(T.TASK_SCHEDULED) == 1  # only the last generation's history
