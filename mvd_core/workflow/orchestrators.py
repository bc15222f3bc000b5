"""The two orchestrators, written once in the Durable Functions style and hosted both by
Azure Functions and by the local engine.

``dataspace_orchestrator``: load the baseline, fan out one participant sub-orchestrator per
participant, verify the dataspace, record the run. ``participant_orchestrator``: the
per-participant steps (see ``progress.steps_for``). A participant that fails returns its
failure instead of raising, so the others go on and the run lists every failure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any


from mvd_core.workflow.progress import Tracker, failure_reason, steps_for
from mvd_core.workflow.functions import (
    DATASPACE_ORCHESTRATOR,
    PARTICIPANT_ORCHESTRATOR,
    orchestrator,
)

# An activity that fails is tried again after 1 s, 2 s and 4 s, then its error stands.
RETRY_ATTEMPTS = 4
RETRY_FIRST_SECONDS = 1.0
RETRY_BACKOFF = 2.0
ROLLOUT_DEADLINE = timedelta(minutes=15)
POLL_MIN, POLL_MAX = 0.25, 15.0


def child_instance_id(run_id: str, participant: str) -> str:
    return f"{run_id}--{participant}"


def participant_slice(baseline: dict[str, Any], participant: str) -> dict[str, Any]:
    """The baseline a participant's steps need: the dataspace with only that participant,
    and every DID (for the participant list). Keeps each activity's input, and so the
    history, independent of the number of participants."""
    dataspace = baseline["dataspace"]
    own = [p for p in dataspace["participants"] if p["id"] == participant]
    return {"dataspace": {**dataspace, "participants": own}, "dids": baseline["dids"]}


def _wait(context: Any, seconds: float) -> Any:
    return context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))


def call(context: Any, activity: str, data: Any):  # type: ignore[no-untyped-def]
    """``yield from call(...)``: an activity, retried with exponential backoff on durable timers.

    Written out rather than ``call_activity_with_retry``: the Python SDK's ``RetryOptions``
    has no backoff coefficient, so Durable would wait the same interval before every retry.
    The waits are timers in the history, so a replay (or a restart) keeps its place."""
    delay = RETRY_FIRST_SECONDS
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            return (yield context.call_activity(activity, data))
        except Exception:
            if attempt == RETRY_ATTEMPTS:
                raise
        yield _wait(context, delay)
        delay *= RETRY_BACKOFF


@orchestrator(DATASPACE_ORCHESTRATOR)
def dataspace_orchestrator(context: Any):  # type: ignore[no-untyped-def]
    command: dict[str, Any] = context.get_input()
    run_id = context.instance_id
    started = context.current_utc_datetime
    status: dict[str, Any] = {"runId": run_id, "action": command["action"], "participants": {}}
    try:
        baseline = yield from call(context, "load_baseline", command)
    except Exception as exc:  # noqa: BLE001 - a run always ends with a record
        reason = failure_reason(exc)
        summary = {"command": command, "startedAt": started.isoformat(),
                   "finishedAt": context.current_utc_datetime.isoformat(), "results": {},
                   "failures": [{"participant": "*", "step": "baseline", "reason": reason}]}
        yield from call(context, "record_run", summary)
        return summary
    ids: list[str] = baseline["participants"]
    status["participants"] = {pid: {"participant": pid, "status": "pending", "steps": []} for pid in ids}
    status["children"] = {pid: child_instance_id(run_id, pid) for pid in ids}
    context.set_custom_status(status)

    tasks = [
        context.call_sub_orchestrator(
            PARTICIPANT_ORCHESTRATOR,
            {"command": command, "baseline": participant_slice(baseline, pid), "participant": pid},
            child_instance_id(run_id, pid),
        )
        for pid in ids
    ]
    results: list[dict[str, Any]] = yield context.task_all(tasks)
    by_id = {r["participant"]: r for r in results}
    failures = [
        {"participant": r["participant"], "step": (r.get("error") or "?").split(":", 1)[0],
         "reason": (r.get("error") or "").split(": ", 1)[-1]}
        for r in results if r.get("status") == "failed"
    ]
    if command["action"] != "teardown":
        skip = [f["participant"] for f in failures]
        verified = yield from call(context, "verify_dataspace", {"baseline": baseline, "skip": skip})
        failures += [{"participant": pid, "step": "verify", "reason": why} for pid, why in verified["problems"].items()]
    status["participants"] = by_id
    context.set_custom_status(status)
    # The orchestration's clock, not the activity's: recording the run twice records the same.
    summary = {"command": command, "startedAt": started.isoformat(),
               "finishedAt": context.current_utc_datetime.isoformat(), "results": by_id, "failures": failures}
    yield from call(context, "record_run", summary)
    return summary


def _step(context: Any, track: Tracker, name: str, activity: str, work: dict[str, Any]):  # type: ignore[no-untyped-def]
    """One step that is one activity: mark it running, call it with retries, mark it done."""
    track.start(name)
    result = yield from call(context, activity, work)
    track.done(name, result["detail"])
    return result


def _poll_cluster(context: Any, track: Tracker, work: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Create or find the cluster; a long cloud operation is polled with durable timers."""
    track.start("cluster")
    op = yield from call(context, "begin_cluster", work)
    delay = POLL_MIN
    while not op["done"]:
        yield _wait(context, op.get("pollAfterSeconds") or delay)
        delay = min(delay * 2, POLL_MAX)
        op = yield from call(context, "poll_cluster", {**work, "token": op.get("token")})
    track.done("cluster", op["description"])


def _wait_ready(context: Any, track: Tracker, name: str, kinds: list[str], work: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Wait for Deployments (or seed Jobs) to be ready: non-blocking checks between durable
    timers, up to a deadline that names what is still not ready."""
    track.start(name)
    deadline = context.current_utc_datetime + ROLLOUT_DEADLINE
    delay = POLL_MIN
    while True:
        rollout = yield from call(context, "check_rollout", {**work, "kinds": kinds})
        if rollout["ready"] or context.current_utc_datetime >= deadline:
            break
        yield _wait(context, delay)
        delay = min(delay * 2, 5.0)
    if not rollout["ready"]:
        raise RuntimeError(f"not ready after {ROLLOUT_DEADLINE}: {rollout['detail']}")
    if rollout["total"] == 0:
        track.skip(name, rollout["detail"])
    else:
        track.done(name, rollout["detail"])


@orchestrator(PARTICIPANT_ORCHESTRATOR)
def participant_orchestrator(context: Any):  # type: ignore[no-untyped-def]
    data: dict[str, Any] = context.get_input()
    command, pid = data["command"], data["participant"]
    action = command["action"]
    work = {"runId": command["runId"], "action": action, "participant": pid, "baseline": data["baseline"],
            "rotateKey": pid in command.get("rotateKeys", [])}
    track = Tracker(context, pid, steps_for(action))
    track.publish()
    try:
        if action == "teardown":
            yield from _step(context, track, "workloads", "delete_workloads", work)
            yield from _step(context, track, "did", "remove_did", work)
            return track.finish()
        yield from _poll_cluster(context, track, work)
        yield from _step(context, track, "vault", "ensure_key", work)
        yield from _step(context, track, "did", "publish_did", work)
        yield from _step(context, track, "workloads", "apply_workloads", work)
        if action == "reset":
            yield from _step(context, track, "restart", "restart_runtimes", work)
        yield from _wait_ready(context, track, "rollout", ["Deployment"], work)
        yield from _wait_ready(context, track, "seed", ["Job"], work)
        yield from _step(context, track, "prune", "prune_workloads", work)
    except Exception as exc:  # noqa: BLE001 - a participant's failure is its result
        track.fail(failure_reason(exc))
    return track.finish()
