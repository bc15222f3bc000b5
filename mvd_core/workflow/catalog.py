"""Imports every orchestrator and activity module so ``mvd_core.workflow.registry`` is full.

Both hosts import this before reading the registry."""

from mvd_core.workflow import activities, orchestrators  # noqa: F401
from mvd_core.workflow.registry import ACTIVITIES, ORCHESTRATORS

__all__ = ["ACTIVITIES", "ORCHESTRATORS"]
