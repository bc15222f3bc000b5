"""The names and functions both hosts register: Azure Functions (blueprints/orchestration.py)
and the local engine (mvd_core/engine). Orchestrators are Durable Functions generator
functions taking a ``DurableOrchestrationContext``; activities take and return JSON values.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from azure.durable_functions import DurableOrchestrationContext
from azure.durable_functions.models.Task import TaskBase

# An orchestrator, or a part of one used with ``yield from``: it yields Durable tasks, is sent
# their results, and returns its own.
Orchestration = Generator[TaskBase, Any, Any]
OrchestratorFn = Callable[[DurableOrchestrationContext], Orchestration]
ActivityFn = Callable[[Any], Any]

DATASPACE_ORCHESTRATOR = "dataspace_orchestrator"
PARTICIPANT_ORCHESTRATOR = "participant_orchestrator"

ORCHESTRATORS: dict[str, OrchestratorFn] = {}
ACTIVITIES: dict[str, ActivityFn] = {}


def orchestrator(name: str) -> Callable[[OrchestratorFn], OrchestratorFn]:
    def register(fn: OrchestratorFn) -> OrchestratorFn:
        ORCHESTRATORS[name] = fn
        return fn

    return register


def activity(name: str) -> Callable[[ActivityFn], ActivityFn]:
    def register(fn: ActivityFn) -> ActivityFn:
        ACTIVITIES[name] = fn
        return fn

    return register
