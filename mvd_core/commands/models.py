"""The command that travels through the queue, and what a caller asks for before it has a run."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from mvd_core.runs.models import RUN_ID_PATTERN, Action, Source, Wire


class CommandRequest(BaseModel):
    """What a caller (timer, button, webhook, CLI) asks for, before it has a run id."""

    action: Action
    dataspace: str
    source: Source
    rotate_keys: list[str] = Field(default_factory=list)
    delivery_id: str | None = None


class Command(Wire):
    """The queue message (camelCase JSON) and the dataspace orchestrator's input."""

    id: str
    run_id: str
    action: Action
    dataspace: str
    source: Source
    requested_at: datetime
    rotate_keys: list[str] = Field(default_factory=list)
    delivery_id: str | None = None

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value: str) -> str:
        if not RUN_ID_PATTERN.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not a run id")
        return value
