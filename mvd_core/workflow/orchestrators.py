"""The two orchestrators, written once in the Durable Functions style and hosted both by
Azure Functions and by the local engine.

``dataspace_orchestrator``: load the baseline, fan out one participant sub-orchestrator per
participant, verify the dataspace, record the run. ``participant_orchestrator``: the
per-participant steps, in the order of the table of steps (``steps.STEPS``). A participant
that fails returns its failure instead of raising, so the others go on and the run lists
every failure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from azure.durable_functions import DurableOrchestrationContext
from azure.durable_functions.models.Task import TaskBase

from mvd_core.workflow.functions import (
    DATASPACE_ORCHESTRATOR,
    PARTICIPANT_ORCHESTRATOR,
    Orchestration,
    orchestrator,
)
from mvd_core.workflow.progress import Tracker, failure_of, failure_reason
from mvd_core.workflow.steps import STEPS, Call, Operation, Step, WaitReady

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


def _wait(context: DurableOrchestrationContext, seconds: float) -> TaskBase:
    return context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))


def _input(context: DurableOrchestrationContext) -> dict[str, Any]:
    data = context.get_input()
    if not isinstance(data, dict):
        raise TypeError(f"orchestration input is {type(data).__name__}, expected a JSON object")
    return data


def call(context: DurableOrchestrationContext, activity: str, data: Any) -> Orchestration:
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
def dataspace_orchestrator(context: DurableOrchestrationContext) -> Orchestration:
    command = _input(context)
    run_id = context.instance_id
    started = context.current_utc_datetime
    status: dict[str, Any] = {"runId": run_id, "action": command["action"], "participants": {}}
    try:
        baseline = yield from call(context, "load_baseline", command)
    except Exception as exc:  # noqa: BLE001 - a run always ends with a record
        reason = failure_reason(exc)
        summary = {
            "command": command,
            "startedAt": started.isoformat(),
            "finishedAt": context.current_utc_datetime.isoformat(),
            "results": {},
            "failures": [{"participant": "*", "step": "baseline", "reason": reason}],
        }
        yield from call(context, "record_run", summary)
        return summary
    ids: list[str] = baseline["participants"]
    removed: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    if command["action"] in ("reset", "teardown"):
        # Onboarded participants leave before the seed participants are reset, so no catalog
        # crawls them again and their credentials are revoked whatever the rest of the run does.
        try:
            removed = yield from call(context, "remove_onboarded", {"runId": run_id, "baseline": baseline})
        except Exception as exc:  # noqa: BLE001 - the seed participants are reset all the same
            failures.append({"participant": "*", "step": "offboard", "reason": failure_reason(exc)})
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
    failures += [f.wire() for f in map(failure_of, results) if f is not None]
    proved: list[str] = []
    if command["action"] != "teardown":
        skip = [f["participant"] for f in failures]
        verified = yield from call(context, "verify_dataspace", {"baseline": baseline, "skip": skip})
        failures += [{"participant": pid, "step": "verify", "reason": why} for pid, why in verified["problems"].items()]
        proved = verified.get("proved", [])
    status["participants"] = by_id
    context.set_custom_status(status)
    # The orchestration's clock, not the activity's: recording the run twice records the same.
    summary = {
        "command": command,
        "startedAt": started.isoformat(),
        "finishedAt": context.current_utc_datetime.isoformat(),
        "results": by_id,
        "failures": failures,
        "verified": proved,
        "removed": removed,
    }
    yield from call(context, "record_run", summary)
    return summary


def _call(context: DurableOrchestrationContext, track: Tracker, step: Call, work: dict[str, Any]) -> Orchestration:
    """A step that is one activity: mark it running, call it with retries, mark it done."""
    track.start(step.name)
    result = yield from call(context, step.activity, work)
    if result.get("skipped"):
        track.skip(step.name, result["detail"])
    else:
        track.done(step.name, result["detail"])


def _operation(
    context: DurableOrchestrationContext, track: Tracker, step: Operation, work: dict[str, Any]
) -> Orchestration:
    """Start a long cloud operation (creating a cluster) and poll it with durable timers. What
    its last answer hands on (``work``: the runtimes' vault identity) goes to every later step."""
    track.start(step.name)
    op = yield from call(context, step.begin, work)
    delay = POLL_MIN
    while not op["done"]:
        yield _wait(context, op.get("pollAfterSeconds") or delay)
        delay = min(delay * 2, POLL_MAX)
        op = yield from call(context, step.poll, {**work, "token": op.get("token")})
    work.update(op.get("work") or {})
    track.done(step.name, op["description"])


def _wait_ready(
    context: DurableOrchestrationContext, track: Tracker, step: WaitReady, work: dict[str, Any]
) -> Orchestration:
    """Wait for Deployments (or seed Jobs) to be ready: non-blocking checks between durable
    timers, up to a deadline that names what is still not ready."""
    track.start(step.name)
    deadline = context.current_utc_datetime + ROLLOUT_DEADLINE
    delay = POLL_MIN
    while True:
        rollout = yield from call(context, step.activity, {**work, "kinds": list(step.kinds)})
        if rollout["ready"] or context.current_utc_datetime >= deadline:
            break
        yield _wait(context, delay)
        delay = min(delay * 2, 5.0)
    if not rollout["ready"]:
        raise RuntimeError(f"not ready after {ROLLOUT_DEADLINE}: {rollout['detail']}")
    if rollout["total"] == 0:
        track.skip(step.name, rollout["detail"])
    else:
        track.done(step.name, rollout["detail"])


def _run(context: DurableOrchestrationContext, track: Tracker, step: Step, work: dict[str, Any]) -> Orchestration:
    match step:
        case Call():
            yield from _call(context, track, step, work)
        case Operation():
            yield from _operation(context, track, step, work)
        case WaitReady():
            yield from _wait_ready(context, track, step, work)


@orchestrator(PARTICIPANT_ORCHESTRATOR)
def participant_orchestrator(context: DurableOrchestrationContext) -> Orchestration:
    data = _input(context)
    command, pid = data["command"], data["participant"]
    action = command["action"]
    work = {
        "runId": command["runId"],
        "action": action,
        "participant": pid,
        "baseline": data["baseline"],
        "rotateKey": pid in command.get("rotateKeys", []),
    }
    steps = STEPS[action]
    track = Tracker(context, pid, steps)
    track.publish()
    try:
        for step in steps:
            yield from _run(context, track, step, work)
    except Exception as exc:  # noqa: BLE001 - a participant's failure is its result
        track.fail(failure_reason(exc))
    return track.finish()
