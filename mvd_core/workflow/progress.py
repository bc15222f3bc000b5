"""Per-participant step progress, kept by the participant orchestrator as its custom status.

Pure and deterministic (timestamps come from the orchestration context), so it replays
to the same value every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from azure.durable_functions import DurableOrchestrationContext

from mvd_core.runs import Failure, ParticipantProgress, StepState, StepStatus
from mvd_core.workflow.steps import Step


def failure_reason(exc: BaseException) -> str:
    """The readable reason of a failed activity.

    Durable raises ``Exception(f"{reason} \\n {details}")``; Azure prefixes the reason with
    "Activity function 'x' failed: ". Keep the first meaningful line, short.
    """
    text = str(exc).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    if first.startswith("Activity function") and "failed:" in first:
        first = first.split("failed:", 1)[1].strip()
    return first[:500]


class Tracker:
    """Step bookkeeping for one participant; ``publish`` pushes it to the custom status."""

    def __init__(self, context: DurableOrchestrationContext, participant: str, steps: Sequence[Step]) -> None:
        self._context = context
        self.progress = ParticipantProgress(
            participant=participant, status="running", steps=[StepState(name=s.name) for s in steps]
        )

    def _step(self, name: str) -> StepState:
        return next(s for s in self.progress.steps if s.name == name)

    def _now(self) -> datetime:
        return self._context.current_utc_datetime

    def publish(self) -> None:
        self._context.set_custom_status(self.progress.wire())

    def start(self, name: str) -> None:
        step = self._step(name)
        step.status, step.started_at = "running", self._now()
        self.progress.current_step = name
        self.publish()

    def _end(self, name: str, status: StepStatus, detail: str | None = None, error: str | None = None) -> None:
        step = self._step(name)
        step.status, step.finished_at = status, self._now()
        if step.started_at is None:
            step.started_at = step.finished_at
        step.duration_ms = int((step.finished_at - step.started_at).total_seconds() * 1000)
        step.detail, step.error = detail, error
        self.progress.current_step = None

    def done(self, name: str, detail: str | None = None) -> None:
        self._end(name, "done", detail)
        self.publish()

    def skip(self, name: str, detail: str) -> None:
        self._end(name, "skipped", detail)
        self.publish()

    def fail(self, reason: str) -> None:
        """The running step failed (or the participant before any step started): that step
        is marked failed with the reason, the ones not started yet skipped."""
        name = self.progress.current_step or self.progress.steps[0].name
        self._end(name, "failed", error=reason)
        self.progress.status, self.progress.error = "failed", f"{name}: {reason}"
        for step in self.progress.steps:
            if step.status == "pending":
                step.status = "skipped"
        self.publish()

    def finish(self) -> dict[str, Any]:
        if self.progress.status != "failed":
            self.progress.status = "done"
        self.publish()
        return self.progress.wire()


def failure_of(result: dict[str, Any]) -> Failure | None:
    """A participant orchestrator's failure, read from its result: the step marked failed
    and that step's error."""
    progress = ParticipantProgress.model_validate(result)
    failed = next((s for s in progress.steps if s.status == "failed"), None)
    if progress.status != "failed" or failed is None:
        return None
    return Failure(participant=progress.participant, step=failed.name, reason=failed.error or "")
