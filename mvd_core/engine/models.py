"""Pydantic models the engine hands out: an instance's status as callers see it."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel


class RuntimeStatus(str, Enum):
    """The Durable Functions runtime statuses the engine uses."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    TERMINATED = "Terminated"

    @property
    def is_terminal(self) -> bool:
        return self in (RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED)


TERMINAL_STATUSES = tuple(s.value for s in RuntimeStatus if s.is_terminal)


class InstanceStatus(BaseModel):
    """One orchestration instance, shaped like Durable Functions' status query answer."""

    instance_id: str
    name: str
    runtime_status: RuntimeStatus
    input: Any = None
    output: Any = None
    custom_status: Any = None
    created_at: datetime
    last_updated_at: datetime
    error: str | None = None
    parent_instance_id: str | None = None
    history: list[dict[str, Any]] | None = None

    @property
    def is_terminal(self) -> bool:
        return self.runtime_status.is_terminal
