"""One replay of an orchestrator over its history, through the Durable Functions SDK itself.

``Orchestrator(fn).handle(DurableOrchestrationContext.from_json(...))`` replays the generator
and returns the orchestrator state (done, output, error, custom status, actions). The ids the
SDK gives tasks are its own sequence numbers, assigned while it replays, and retries add
timer/reschedule tasks that never show up as actions. So rather than re-deriving those ids, the
engine reads the SDK's open tasks after the replay: every open task whose id has no scheduling
event in the history yet is a new decision, with exactly the id the next replay will look for.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions import Orchestrator
from azure.durable_functions.models.actions.ActionType import ActionType
from azure.durable_functions.models.actions.CallActivityAction import CallActivityAction
from azure.durable_functions.models.actions.CallActivityWithRetryAction import (
    CallActivityWithRetryAction,
)
from azure.durable_functions.models.actions.CallSubOrchestratorAction import (
    CallSubOrchestratorAction,
)
from azure.durable_functions.models.actions.CallSubOrchestratorWithRetryAction import (
    CallSubOrchestratorWithRetryAction,
)
from azure.durable_functions.models.actions.CreateTimerAction import CreateTimerAction
from azure.durable_functions.models.actions.NoOpAction import NoOpAction
from azure.durable_functions.models.actions.WaitForExternalEventAction import (
    WaitForExternalEventAction,
)
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.history import HistoryEvent
from azure.durable_functions.models.ReplaySchema import ReplaySchema
from azure.durable_functions.models.Task import AtomicTask, RetryAbleTask, TaskBase

from mvd_core.engine.history import SCHEDULING_TYPES, Event, utcnow

# What the engine hosts: a Durable Functions orchestrator, a generator over the SDK's context
# that yields its tasks.
OrchestratorFn = Callable[[DurableOrchestrationContext], Generator[TaskBase, Any, Any]]

_OUT_OF_PROC_LABEL = "$OutOfProcData$:"
# The SDK's metadata on the internal NoOp tasks its -WithRetry replay creates.
_RETRY_TIMER = "-WithRetry timer"
_RESCHEDULED = "rescheduled task"


@dataclass(frozen=True)
class ScheduleActivity:
    event_id: int
    name: str
    input_json: str | None


@dataclass(frozen=True)
class ScheduleTimer:
    event_id: int
    fire_at: datetime


@dataclass(frozen=True)
class ScheduleSubOrchestration:
    event_id: int
    name: str
    input_json: str | None
    instance_id: str | None


Decision = ScheduleActivity | ScheduleTimer | ScheduleSubOrchestration


@dataclass
class ReplayResult:
    done: bool = False
    failed: bool = False
    output: Any = None
    error: str | None = None
    custom_status: Any = None
    decisions: list[Decision] = field(default_factory=list)
    continue_as_new: bool = False
    new_input_json: str | None = None


class UnsupportedAction(Exception):
    """The orchestrator used a Durable Functions API the local engine does not host."""


class HistoryCache:
    """The SDK's parsed ``HistoryEvent`` objects of recent runs, so a replay parses only new events.

    Parsing dominates replay cost (the SDK runs dateutil on every timestamp), and a run's played
    history only ever grows at the end; the SDK never mutates these objects. Keyed by
    ``(instance_id, generation)``: a restarted or continued-as-new run gets a new generation.
    """

    def __init__(self, max_runs: int = 512) -> None:
        self._runs: OrderedDict[tuple[str, int], tuple[list[Event], list[HistoryEvent]]] = OrderedDict()
        self._max_runs = max_runs
        self._lock = threading.Lock()

    def load(
        self, key: tuple[str, int], fetch_from: Callable[[int], list[Event]]
    ) -> tuple[list[Event], list[HistoryEvent]]:
        """The run's history as stored events and parsed (played) SDK events; ``fetch_from(n)``
        reads the stored events from sequence number ``n`` on."""
        with self._lock:
            events, parsed = self._runs.pop(key, ([], []))
        more = fetch_from(len(events))
        events = events + more
        parsed = parsed + [HistoryEvent(**{**e, "IsPlayed": True}) for e in more]
        with self._lock:
            self._runs[key] = (events, parsed)
            while len(self._runs) > self._max_runs:
                self._runs.popitem(last=False)
        return events, parsed

    def forget(self, key: tuple[str, int]) -> None:
        with self._lock:
            self._runs.pop(key, None)


def replay(
    fn: OrchestratorFn,
    *,
    instance_id: str,
    parent_instance_id: str | None,
    input_json: str | None,
    past: list[Event],
    new: list[Event],
    played: list[HistoryEvent] | None = None,
) -> ReplayResult:
    """Replay ``fn`` over ``past`` (already played) + ``new`` events and return what it decided.

    ``played``, when given, is ``past`` already parsed into SDK events (see ``HistoryCache``).
    """
    events = [{**e, "IsPlayed": True} for e in past] + [{**e, "IsPlayed": False} for e in new]
    body = {
        # The context only reads the first OrchestratorStarted and ExecutionStarted itself; the
        # replay runs over ``_histories``, which we set below from the parsed events.
        "history": events[:2],
        "instanceId": instance_id,
        "isReplaying": False,
        "parentInstanceId": parent_instance_id,
        "input": input_json,
        "upperSchemaVersion": ReplaySchema.V2.value,
    }
    context = DurableOrchestrationContext.from_json(json.dumps(body))
    if played is None:
        played = [HistoryEvent(**e) for e in events[: len(past)]]
    context._histories = played + [HistoryEvent(**e) for e in events[len(past) :]]
    result = ReplayResult()
    try:
        state = json.loads(Orchestrator(fn).handle(context))
    except Exception as exc:  # noqa: BLE001 - the orchestrator raised: the SDK wraps it with the state attached
        text = str(exc)
        state = {}
        if _OUT_OF_PROC_LABEL in text:
            state = json.loads(text.split(_OUT_OF_PROC_LABEL, 1)[1])
        cause = exc.__cause__ or exc
        result.done = result.failed = True
        result.error = f"{type(cause).__name__}: {cause}" if not _is_task_failure(cause) else str(cause).strip()
        result.custom_status = state.get("customStatus")
        return result

    result.custom_status = state.get("customStatus")
    if state.get("isDone"):
        result.done = True
        result.output = state.get("output")
        if context.will_continue_as_new:
            result.continue_as_new = True
            result.new_input_json = _continue_as_new_input(state)
        return result
    scheduled = {e["EventId"] for e in past + new if e["EventType"] in SCHEDULING_TYPES}
    now = utcnow()
    decisions: list[Decision] = []
    for key, entry in list(context.open_tasks.items()):
        if not isinstance(key, int) or key in scheduled:
            continue  # external-event waits are keyed by name; scheduled tasks await completion
        for task in entry if isinstance(entry, list) else [entry]:
            decision = _decide(task, key, now)
            if decision is not None:
                decisions.append(decision)
    decisions.sort(key=lambda d: d.event_id)
    result.decisions = decisions
    return result


def _is_task_failure(exc: BaseException) -> bool:
    # A failed activity/sub-orchestration surfaces as a bare Exception("<Reason> \n <Details>").
    return type(exc) is Exception


def _continue_as_new_input(state: dict[str, Any]) -> str | None:
    for group in state.get("actions", []):
        for action in group if isinstance(group, list) else [group]:
            if action.get("actionType") == ActionType.CONTINUE_AS_NEW:
                input_json: str | None = action.get("input")  # the SDK serialized it
                return input_json
    return None


def _decide(task: TaskBase, event_id: int, now: datetime) -> Decision | None:
    if not isinstance(task, AtomicTask):
        return None
    action = task._get_action()
    if isinstance(action, NoOpAction):
        parent = task.parent
        if not isinstance(parent, RetryAbleTask):
            return None
        if action.metadata == _RETRY_TIMER:
            # Durable's default backoff coefficient is 1: every retry waits the first interval.
            delay = timedelta(milliseconds=parent.retry_options.first_retry_interval_in_milliseconds)
            return ScheduleTimer(event_id, now + delay)
        if action.metadata == _RESCHEDULED:
            original = parent.actions[0] if isinstance(parent.actions, list) else parent.actions
            return _call(original, event_id)
        return None
    if isinstance(action, CreateTimerAction):
        return None if action.is_cancelled else ScheduleTimer(event_id, action.fire_at)
    if isinstance(action, WaitForExternalEventAction):
        return None
    return _call(action, event_id)


def _call(action: Any, event_id: int) -> Decision:
    if isinstance(action, (CallActivityAction, CallActivityWithRetryAction)):
        return ScheduleActivity(event_id, action.function_name, action.input_)
    if isinstance(action, (CallSubOrchestratorAction, CallSubOrchestratorWithRetryAction)):
        return ScheduleSubOrchestration(event_id, action.function_name, action._input, action.instance_id)
    raise UnsupportedAction(f"the local engine does not host {type(action).__name__} (task {event_id})")
