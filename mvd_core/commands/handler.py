"""Start the run a command carries, keep a poisoned command, release a run whose orchestration
ended without recording it: all through the orchestration port.

``handle_command`` is idempotent: a message delivered twice (queue at-least-once) finds
the orchestration instance already there and does nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re

from pydantic import ValidationError

from mvd_core.commands.models import Command
from mvd_core.commands.orchestrations import Orchestrations
from mvd_core.logs import get_logger, log_context
from mvd_core.runs import PoisonCommand, RunRegistry, notify, utcnow
from mvd_core.workflow.functions import DATASPACE_ORCHESTRATOR

log = get_logger(__name__)


def parse_command(message: str | bytes) -> Command:
    """A queue message as a Command; ValueError names what is wrong."""
    try:
        return Command.model_validate_json(message)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"not a valid command: {problems}") from None


async def handle_command(message: str | bytes, orchestrations: Orchestrations, registry: RunRegistry) -> str | None:
    """The queue trigger: start the dataspace orchestration for the command's run. Returns the
    instance id started, or None when there was nothing to do."""
    try:
        command = parse_command(message)
    except ValueError as exc:
        # Retrying cannot fix a malformed message: keep it as poison right away.
        poison_id = _message_id(message)
        poison = PoisonCommand(id=poison_id, received_at=utcnow(), reason=str(exc))
        await asyncio.to_thread(registry.record_poison, poison)
        log.error("command %s dropped to poison: %s", poison_id, exc)
        return None
    return await start_run(command, orchestrations, registry)


async def start_run(command: Command, orchestrations: Orchestrations, registry: RunRegistry) -> str | None:
    """Start the dataspace orchestration for the command's run (the queue trigger on Azure, the
    local host directly), once. Returns the instance id started, or None when there was
    nothing to do."""
    with log_context(run_id=command.run_id):
        record = await asyncio.to_thread(registry.get, command.run_id)
        if record is not None and record.finished:
            log.info("run already %s; command %s ignored", record.status, command.id)
            return None
        if await orchestrations.status(command.run_id) is not None:
            log.info("orchestration already exists; command %s is a redelivery", command.id)
            await asyncio.to_thread(registry.mark_running, command.run_id)
            return None
        await orchestrations.start(DATASPACE_ORCHESTRATOR, command.run_id, command.wire())
        await asyncio.to_thread(registry.mark_running, command.run_id)
        log.info("%s orchestration started for %s", command.action, command.dataspace)
        return command.run_id


def handle_poison(message: str | bytes, registry: RunRegistry, dequeue_count: int | None = None) -> PoisonCommand:
    """A command the queue gave up on: keep it (shown on the status API) and fail its run,
    which releases the dataspace for the next command."""
    attempts = f" after {dequeue_count} attempts" if dequeue_count else ""
    try:
        command = parse_command(message)
    except ValueError as exc:
        poison = PoisonCommand(id=_message_id(message), received_at=utcnow(), reason=str(exc))
    else:
        reason = f"{command.action} command from {command.source} could not be processed{attempts}"
        poison = PoisonCommand(id=command.id, received_at=utcnow(), reason=reason)
        record = registry.get(command.run_id)
        if record is not None and not record.finished:
            notify.fail_run(registry, command.run_id, reason)
    registry.record_poison(poison)
    log.error("poison command %s: %s", poison.id, poison.reason)
    return poison


def _message_id(message: str | bytes) -> str:
    """The command id when one can be read, else a digest of the message."""
    try:
        data = json.loads(message)
    except (ValueError, TypeError):
        data = None
    command_id = data.get("id") if isinstance(data, dict) else None
    # a command id is token_hex; isalnum() would also take any Unicode letter or digit
    if isinstance(command_id, str) and re.fullmatch(r"[0-9A-Za-z-]{1,64}", command_id):
        return command_id

    raw = message if isinstance(message, bytes) else message.encode("utf-8", "replace")
    return "msg-" + hashlib.sha256(raw).hexdigest()[:16]


async def release_if_ended(registry: RunRegistry, run_id: str, orchestrations: Orchestrations) -> bool:
    """A run whose orchestration ended without recording its result (crash, terminate)
    would hold the dataspace forever: mark it failed. True when it was released."""
    record = await asyncio.to_thread(registry.get, run_id)
    if record is None or record.finished or record.status == "pending":
        return False  # pending runs are the queue's business (retries, then poison)
    status = await orchestrations.status(run_id)
    if status is None or not status.ended:
        return False
    reason = f"the orchestration ended ({status.runtime_status}) without recording its result"
    await asyncio.to_thread(notify.fail_run, registry, run_id, f"{reason}: {status.error}" if status.error else reason)
    log.warning("run %s: orchestration %s without a summary; released", run_id, status.runtime_status)
    return True
