"""The ``processes`` platform: a participant's EDC runtimes as supervised local processes
(``supervisor.py``), on ports that never change (``ports.py``), tracked by pid and start time
(``records.py``), forked from one long-lived thread so they die with ``mvd`` (``launcher.py``)."""

from mvd_core.platforms.processes.supervisor import (
    ApplyResult,
    Command,
    JavaCommand,
    ProcessPlatform,
    RuntimeState,
    find_java,
)

__all__ = ["ApplyResult", "Command", "JavaCommand", "ProcessPlatform", "RuntimeState", "find_java"]
