"""Local host for the Durable Functions orchestrators: SQLite history, work queue and timers."""

from mvd_core.engine.engine import Engine, read_status
from mvd_core.engine.models import InstanceStatus, RuntimeStatus

__all__ = ["Engine", "InstanceStatus", "RuntimeStatus", "read_status"]
