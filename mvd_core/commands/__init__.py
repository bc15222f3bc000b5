"""Commands (provision, reset, teardown): submit -> queue -> start the dataspace's single run.

Both hosts use ``submit``; the Functions app enqueues on the ``mvd-commands`` storage queue
and starts runs from its queue trigger (``handle_command``), the local host hands commands
to its engine through a ``CallbackCommandQueue``.
"""

from __future__ import annotations

from mvd_core.commands.handler import (
    Starter,
    handle_command,
    handle_poison,
    parse_command,
    release_if_ended,
)
from mvd_core.commands.models import (
    RUN_ID_PATTERN,
    Command,
    CommandRequest,
    RunRecord,
    check_run_id,
    new_run_id,
)
from mvd_core.commands.queue import AzureStorageCommandQueue, CallbackCommandQueue, CommandQueue
from mvd_core.commands.registry import DELIVERY_TTL, RunRegistry, SqliteRunRegistry
from mvd_core.commands.submit import RunInProgress, status_url, submit

__all__ = [
    "DELIVERY_TTL",
    "RUN_ID_PATTERN",
    "AzureStorageCommandQueue",
    "CallbackCommandQueue",
    "Command",
    "CommandQueue",
    "CommandRequest",
    "RunRecord",
    "RunInProgress",
    "RunRegistry",
    "SqliteRunRegistry",
    "Starter",
    "check_run_id",
    "handle_command",
    "handle_poison",
    "new_run_id",
    "open_queue",
    "open_registry",
    "parse_command",
    "release_if_ended",
    "status_url",
    "submit",
]


def _account_urls(account: str) -> tuple[str, str]:
    return f"https://{account}.table.core.windows.net", f"https://{account}.queue.core.windows.net"


def open_registry() -> RunRegistry:
    """The registry for this process: Table Storage when ``MVD_STORAGE_CONNECTION`` (a
    connection string) or ``MVD_STORAGE_ACCOUNT`` (managed identity) is set, as on Azure;
    else SQLite under ``MVD_HOME``."""
    from mvd_core.settings import get_settings

    settings = get_settings()
    if settings.storage_connection is not None:
        from mvd_core.commands.table_registry import TableRunRegistry

        return TableRunRegistry(settings.storage_connection.get_secret_value())
    if settings.storage_account:
        from azure.identity import DefaultAzureCredential

        from mvd_core.commands.table_registry import TableRunRegistry

        table_url, _ = _account_urls(settings.storage_account)
        return TableRunRegistry(account_url=table_url, credential=DefaultAzureCredential())
    return SqliteRunRegistry.in_home(settings.home)


def open_queue() -> AzureStorageCommandQueue:
    """The Azure command queue from settings (Functions app): ``MVD_STORAGE_CONNECTION``, or
    ``MVD_STORAGE_ACCOUNT`` with the managed identity."""
    from mvd_core.errors import MvdError
    from mvd_core.settings import get_settings

    settings = get_settings()
    if settings.storage_connection is not None:
        return AzureStorageCommandQueue(settings.storage_connection.get_secret_value(), settings.command_queue)
    if settings.storage_account:
        from azure.identity import DefaultAzureCredential

        _, queue_url = _account_urls(settings.storage_account)
        return AzureStorageCommandQueue(
            queue_name=settings.command_queue, account_url=queue_url, credential=DefaultAzureCredential()
        )
    raise MvdError(
        "no command queue: set MVD_STORAGE_CONNECTION (connection string) or MVD_STORAGE_ACCOUNT (managed identity)"
    )
