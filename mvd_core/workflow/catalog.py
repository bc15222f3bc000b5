"""Imports every orchestrator and activity module so ``mvd_core.workflow.functions`` is full.

Both hosts import this before reading ORCHESTRATORS and ACTIVITIES."""

from mvd_core.workflow import activities, orchestrators  # noqa: F401
from mvd_core.workflow.functions import ACTIVITIES, ORCHESTRATORS

__all__ = ["ACTIVITIES", "ORCHESTRATORS"]
