"""What a run is: actions, run ids, records and summaries, per-participant progress and steps,
poison commands, and the run registry that keeps them (SQLite locally, Table Storage on
Azure). The bottom of the run path: it knows nothing of commands, orchestrations or HTTP."""

from __future__ import annotations

from mvd_core.runs.models import (
    FINISHED,
    RUN_ID_PATTERN,
    Action,
    Failure,
    ParticipantProgress,
    PoisonCommand,
    Run,
    RunAccepted,
    RunRecord,
    RunStatus,
    RunSummary,
    Source,
    StepState,
    StepStatus,
    Wire,
    check_run_id,
    describe_command,
    new_run_id,
    utcnow,
)
from mvd_core.runs.registry import DELIVERY_TTL, RunRegistry, account_url
from mvd_core.runs.sqlite_registry import SqliteRunRegistry
from mvd_core.settings import get_settings

__all__ = [
    "DELIVERY_TTL",
    "FINISHED",
    "RUN_ID_PATTERN",
    "Action",
    "Failure",
    "ParticipantProgress",
    "PoisonCommand",
    "Run",
    "RunAccepted",
    "RunRecord",
    "RunRegistry",
    "RunStatus",
    "RunSummary",
    "Source",
    "SqliteRunRegistry",
    "StepState",
    "StepStatus",
    "Wire",
    "account_url",
    "check_run_id",
    "describe_command",
    "new_run_id",
    "open_registry",
    "utcnow",
]


def open_registry() -> RunRegistry:
    """The registry for this process: Table Storage when ``MVD_STORAGE_CONNECTION`` (a
    connection string) or ``MVD_STORAGE_ACCOUNT`` (managed identity) is set, as on Azure;
    else SQLite under ``MVD_HOME``."""
    settings = get_settings()
    settings.require_resolved("storage_connection")
    # Imported here: the local host never needs the storage SDK, and it is slow to import.
    if settings.storage_connection is not None:
        from mvd_core.runs.table_registry import TableRunRegistry

        return TableRunRegistry(settings.storage_connection.get_secret_value())
    if settings.storage_account:
        from azure.identity import DefaultAzureCredential

        from mvd_core.runs.table_registry import TableRunRegistry

        return TableRunRegistry(
            account_url=account_url(settings.storage_account, "table"), credential=DefaultAzureCredential()
        )
    return SqliteRunRegistry.in_home(settings.home)
