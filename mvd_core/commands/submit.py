"""The one path every command takes in: claim the dataspace's run, then enqueue or coalesce."""

from __future__ import annotations

import secrets

from mvd_core.api.models import RunAccepted
from mvd_core.commands.models import Command, CommandRequest, new_run_id, utcnow
from mvd_core.commands.queue import CommandQueue
from mvd_core.commands.registry import RunRegistry
from mvd_core.errors import MvdError
from mvd_core.logs import get_logger, log_context

log = get_logger(__name__)


def status_url(run_id: str) -> str:
    return f"/api/runs/{run_id}"


def submit(request: CommandRequest, registry: RunRegistry, queue: CommandQueue) -> RunAccepted:
    """Claim a run for the dataspace; enqueue its command if it is new, else answer with the
    run that is already going (and count the coalesced command)."""
    run_id, created = registry.claim(request.dataspace, new_run_id(request.dataspace), request.action, request.source)
    with log_context(run_id=run_id):
        if not created:
            registry.add_coalesced(run_id)
            current = registry.get(run_id)
            log.info("%s from %s coalesced into the running run", request.action, request.source)
            return RunAccepted(
                run_id=run_id,
                action=current.action if current else request.action,
                status_url=status_url(run_id),
                coalesced=True,
            )
        command = Command(
            id=secrets.token_hex(8),
            run_id=run_id,
            action=request.action,
            dataspace=request.dataspace,
            source=request.source,
            requested_at=utcnow(),
            rotate_keys=request.rotate_keys,
            delivery_id=request.delivery_id,
        )
        try:
            queue.enqueue(command)
        except Exception as exc:
            # Release the claim, or the dataspace would wait forever on a run that never starts.
            reason = exc.message if isinstance(exc, MvdError) else f"enqueue failed ({type(exc).__name__})"
            registry.fail(run_id, reason)
            raise
        log.info("%s from %s accepted", request.action, request.source)
        return RunAccepted(run_id=run_id, action=request.action, status_url=status_url(run_id), coalesced=False)
