"""The one path every command takes in: claim the dataspace's run, then enqueue, join the same
command's run, or refuse a different command while a run is going."""

from __future__ import annotations

import secrets

from mvd_core.commands.models import Command, CommandRequest
from mvd_core.commands.queue import CommandQueue
from mvd_core.errors import Conflict, ExternalError, MvdError
from mvd_core.logs import get_logger, log_context
from mvd_core.runs import RunAccepted, RunRecord, RunRegistry, describe_command, new_run_id, notify, utcnow

log = get_logger(__name__)

# A claim answered with a run that has finished by the time it is read is tried again.
_CLAIM_ATTEMPTS = 5


class RunInProgress(Conflict):
    """A command that differs from the run going (another action, or other keys to rotate):
    refused, naming that run, rather than answered with it and never carried out."""

    def __init__(self, running: RunRecord, request: CommandRequest) -> None:
        self.run_id, self.action = running.id, running.action
        super().__init__(
            f"run {running.id} ({running.describe()}) is in progress; "
            f"{describe_command(request.action, request.rotate_keys)} was not started: send it again when that run has finished"
        )


def status_url(run_id: str) -> str:
    return f"/api/runs/{run_id}"


def submit(request: CommandRequest, registry: RunRegistry, queue: CommandQueue) -> RunAccepted:
    """Claim a run for the dataspace and enqueue its command. While a run is going, the same
    command (same action, same set of keys to rotate) joins it and is counted as coalesced;
    a different one is refused with ``RunInProgress`` (409)."""
    for _ in range(_CLAIM_ATTEMPTS):
        run_id, created = registry.claim(
            request.dataspace, new_run_id(request.dataspace), request.action, request.source, request.rotate_keys
        )
        if created:
            return _enqueue(request, run_id, registry, queue)
        running = registry.get(run_id)
        if running is None or running.finished:
            continue  # it ended between the claim and the read: claim again
        with log_context(run_id=run_id):
            if not running.same_command(request.action, request.rotate_keys):
                log.info(
                    "%s from %s refused: %s is in progress",
                    describe_command(request.action, request.rotate_keys),
                    request.source,
                    running.describe(),
                )
                raise RunInProgress(running, request)
            registry.add_coalesced(run_id)
            log.info("%s from %s coalesced into the running run", request.action, request.source)
        return RunAccepted(run_id=run_id, action=running.action, status_url=status_url(run_id), coalesced=True)
    raise ExternalError(f"the run registry kept answering with finished runs for {request.dataspace!r}; try again")


def _enqueue(request: CommandRequest, run_id: str, registry: RunRegistry, queue: CommandQueue) -> RunAccepted:
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
    with log_context(run_id=run_id):
        try:
            queue.enqueue(command)
        except Exception as exc:
            # Release the claim, or the dataspace would wait forever on a run that never starts.
            reason = exc.message if isinstance(exc, MvdError) else f"enqueue failed ({type(exc).__name__})"
            notify.fail_run(registry, run_id, reason)
            raise
        log.info("%s from %s accepted", request.action, request.source)
    return RunAccepted(run_id=run_id, action=request.action, status_url=status_url(run_id), coalesced=False)
