"""The nightly reset: a timer at the blueprint's ``schedule.reset`` that only enqueues.

The schedule is read from the blueprint (``MVD_DATASPACE_FILE`` or the packaged default)
when the app is indexed, so the timer and the blueprint cannot disagree; a blueprint that
does not load stops indexing with its problems listed rather than running at a wrong time."""

from __future__ import annotations

import asyncio

import azure.durable_functions as df
import azure.functions as func

from blueprints import _runtime
from mvd_core.commands import CommandRequest, submit
from mvd_core.logs import get_logger

log = get_logger(__name__)

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)
SCHEDULE = _runtime.dataspace().schedule.reset


@bp.function_name("nightly_reset")
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, run_on_startup=False, use_monitor=True)
async def nightly_reset(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.warning("nightly reset timer is past due; resetting now")
    request = CommandRequest(action="reset", dataspace=_runtime.dataspace().name, source="timer")
    accepted = await asyncio.to_thread(submit, request, _runtime.registry(), _runtime.queue())
    log.info("nightly reset: run %s (coalesced=%s)", accepted.run_id, accepted.coalesced)
