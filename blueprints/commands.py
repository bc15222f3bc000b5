"""Queue triggers: ``mvd-commands`` starts the dataspace's run; ``mvd-commands-poison``
(where the host moves a message after maxDequeueCount failures) keeps it and fails the run."""

from __future__ import annotations

import asyncio

import azure.durable_functions as df
import azure.functions as func

from blueprints import _runtime
from mvd_core.commands import handle_command, handle_poison

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)
# Indexing reads no secret (IndexingSettings): a secret App Service cannot resolve fails where it is used.
QUEUE = _runtime.indexing_settings().command_queue
POISON_QUEUE = f"{QUEUE}-poison"
# The app setting holding the storage connection string; the enqueuing side reads the same
# setting (MVD_STORAGE_CONNECTION), so both ends use one queue by construction.
CONNECTION = "MVD_STORAGE_CONNECTION"


@bp.function_name("command_received")
@bp.queue_trigger(arg_name="msg", queue_name=QUEUE, connection=CONNECTION)
@bp.durable_client_input(client_name="client")
async def command_received(msg: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    await handle_command(msg.get_body(), _runtime.DurableOrchestrations(client), _runtime.registry())


@bp.function_name("command_poisoned")
@bp.queue_trigger(arg_name="msg", queue_name=POISON_QUEUE, connection=CONNECTION)
async def command_poisoned(msg: func.QueueMessage) -> None:
    await asyncio.to_thread(handle_poison, msg.get_body(), _runtime.registry(), getattr(msg, "dequeue_count", None))
