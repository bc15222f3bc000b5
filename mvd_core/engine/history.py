"""History events in the JSON shape the Durable Functions Python SDK replays.

The SDK's ``HistoryEvent`` takes ``EventType``, ``EventId``, ``IsPlayed`` and ``Timestamp`` plus
per-type fields (``TaskScheduledId``, ``TimerId``, ``Result``, ``Reason``...). Scheduling events
(TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated) carry the task's sequence number
as ``EventId``; completions point back at it. ``IsPlayed`` is filled in at replay time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from azure.durable_functions.models.history import HistoryEventType as T

Event = dict[str, Any]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event(kind: T, event_id: int = -1, ts: datetime | None = None, **fields: Any) -> Event:
    return {"EventType": int(kind), "EventId": event_id, "Timestamp": iso(ts or utcnow()), **fields}


def orchestrator_started(ts: datetime) -> Event:
    return _event(T.ORCHESTRATOR_STARTED, ts=ts)


def orchestrator_completed() -> Event:
    return _event(T.ORCHESTRATOR_COMPLETED)


def execution_started(name: str, input_json: str | None) -> Event:
    # ``Version`` must be present: the SDK reads it off ExecutionStarted unconditionally.
    return _event(T.EXECUTION_STARTED, Name=name, Input=input_json, Version=None)


def execution_completed(result_json: str | None, failed: bool, error: str | None) -> Event:
    status = "Failed" if failed else "Completed"
    return _event(T.EXECUTION_COMPLETED, OrchestrationStatus=status, Result=result_json, FailureDetails=error)


def execution_terminated(reason: str) -> Event:
    return _event(T.EXECUTION_TERMINATED, Input=reason)


def task_scheduled(event_id: int, name: str, input_json: str | None) -> Event:
    return _event(T.TASK_SCHEDULED, event_id, Name=name, Input=input_json)


def task_completed(scheduled_id: int, result_json: str) -> Event:
    return _event(T.TASK_COMPLETED, TaskScheduledId=scheduled_id, Result=result_json)


def task_failed(scheduled_id: int, reason: str, details: str) -> Event:
    return _event(T.TASK_FAILED, TaskScheduledId=scheduled_id, Reason=reason, Details=details)


def timer_created(event_id: int, fire_at: datetime) -> Event:
    return _event(T.TIMER_CREATED, event_id, FireAt=iso(fire_at))


def timer_fired(timer_id: int, fire_at: str) -> Event:
    return _event(T.TIMER_FIRED, TimerId=timer_id, FireAt=fire_at)


def sub_orchestration_created(event_id: int, name: str, instance_id: str, input_json: str | None) -> Event:
    return _event(
        T.SUB_ORCHESTRATION_INSTANCE_CREATED,
        event_id,
        Name=name,
        InstanceId=instance_id,
        Input=input_json,
    )


def sub_orchestration_completed(scheduled_id: int, result_json: str | None) -> Event:
    return _event(T.SUB_ORCHESTRATION_INSTANCE_COMPLETED, TaskScheduledId=scheduled_id, Result=result_json)


def sub_orchestration_failed(scheduled_id: int, reason: str, details: str) -> Event:
    return _event(
        T.SUB_ORCHESTRATION_INSTANCE_FAILED,
        TaskScheduledId=scheduled_id,
        Reason=reason,
        Details=details,
    )


def event_raised(name: str, input_json: str | None) -> Event:
    return _event(T.EVENT_RAISED, Name=name, Input=input_json)


SCHEDULING_TYPES = frozenset({int(T.TASK_SCHEDULED), int(T.TIMER_CREATED), int(T.SUB_ORCHESTRATION_INSTANCE_CREATED)})
EXECUTION_STARTED = int(T.EXECUTION_STARTED)
ORCHESTRATOR_STARTED = int(T.ORCHESTRATOR_STARTED)
