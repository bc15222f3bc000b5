"""Registers every orchestrator and activity of ``mvd_core.workflow.functions`` with Durable
Functions, under their names: the same functions the local engine runs."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import azure.durable_functions as df
import azure.functions as func

import mvd_core.workflow.catalog  # noqa: F401  (fills ORCHESTRATORS and ACTIVITIES)
from mvd_core.logs import log_context
from mvd_core.workflow.functions import ACTIVITIES, ORCHESTRATORS, ActivityFn


def _context(name: str, payload: Any) -> AbstractContextManager[None]:
    """The log context the local engine gives an activity (its run id, the activity's name as
    the step), here from the payload (an activity binding carries nothing else): ``runId`` or
    ``command.runId``, and ``participant`` when it names one."""
    data: dict[str, Any] = payload if isinstance(payload, dict) else {}
    command = data.get("command")
    run_id = data.get("runId") or (command.get("runId") if isinstance(command, dict) else None)
    participant = data.get("participant")
    return log_context(
        run_id=run_id if isinstance(run_id, str) else None,
        participant=participant if isinstance(participant, str) else None,
        step=name,
    )


def _activity(name: str, fn: ActivityFn) -> Any:
    # The binding parameter must be called "payload" whatever the registered function calls it.
    activity: Callable[[Any], Any]
    if inspect.iscoroutinefunction(fn):

        async def call_async(payload: Any) -> Any:
            with _context(name, payload):
                return await fn(payload)

        activity = call_async
    else:

        def call(payload: Any) -> Any:
            with _context(name, payload):
                return fn(payload)

        activity = call
    activity.__name__ = name
    activity.__qualname__ = name
    return activity


def make_blueprint() -> df.Blueprint:
    bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)
    for name, fn in sorted(ORCHESTRATORS.items()):
        # Durable wraps fn in a handler whose parameter is "context".
        bp.function_name(name)(bp.orchestration_trigger(context_name="context", orchestration=name)(fn))
    for name, fn in sorted(ACTIVITIES.items()):
        bp.function_name(name)(bp.activity_trigger(input_name="payload", activity=name)(_activity(name, fn)))
    return bp


bp = make_blueprint()
