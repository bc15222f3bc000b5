"""Commands (provision, reset, teardown): submit -> queue -> start the dataspace's single run.

Both hosts use ``submit``; the Functions app enqueues on the ``mvd-commands`` storage queue
and starts runs from its queue trigger (``handle_command``), the local host starts them
(``start_run``) through a ``CallbackCommandQueue``. Runs start through the orchestration port
(``Orchestrations``).
"""

from __future__ import annotations

from mvd_core.commands.handler import handle_command, handle_poison, parse_command, release_if_ended, start_run
from mvd_core.commands.models import Command, CommandRequest
from mvd_core.commands.orchestrations import Orchestrations, Status
from mvd_core.commands.queue import AzureStorageCommandQueue, CallbackCommandQueue, CommandQueue
from mvd_core.commands.submit import RunInProgress, status_url, submit
from mvd_core.errors import MvdError
from mvd_core.runs import account_url
from mvd_core.settings import get_settings

__all__ = [
    "AzureStorageCommandQueue",
    "CallbackCommandQueue",
    "Command",
    "CommandQueue",
    "CommandRequest",
    "Orchestrations",
    "RunInProgress",
    "Status",
    "handle_command",
    "handle_poison",
    "open_queue",
    "parse_command",
    "release_if_ended",
    "start_run",
    "status_url",
    "submit",
]


def open_queue() -> AzureStorageCommandQueue:
    """The Azure command queue from settings (Functions app): ``MVD_STORAGE_CONNECTION``, or
    ``MVD_STORAGE_ACCOUNT`` with the managed identity."""
    settings = get_settings()
    settings.require_resolved("storage_connection")
    if settings.storage_connection is not None:
        return AzureStorageCommandQueue(settings.storage_connection.get_secret_value(), settings.command_queue)
    if settings.storage_account:
        from azure.identity import DefaultAzureCredential

        return AzureStorageCommandQueue(
            queue_name=settings.command_queue,
            account_url=account_url(settings.storage_account, "queue"),
            credential=DefaultAzureCredential(),
        )
    raise MvdError(
        "no command queue: set MVD_STORAGE_CONNECTION (connection string) or MVD_STORAGE_ACCOUNT (managed identity)"
    )
