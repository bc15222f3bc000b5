"""The nightly reset: a timer that only enqueues (the same path as POST /api/dataspace/reset).

The schedule is fixed when the app is indexed, from ``mvd_core.host.schedule`` as the local host
reads it: the blueprint's ``schedule`` (``MVD_DATASPACE_FILE`` or the packaged default), with
``reset`` from ``MVD_RESET_SCHEDULE`` when set (infra/ sets it), in UTC. A schedule or
blueprint that does not validate, or a time zone other than UTC, stops indexing with its
problem named, rather than resetting at a wrong time."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from blueprints import _runtime
from mvd_core.commands import RunInProgress
from mvd_core.host.schedule import RETRY_COUNT, RETRY_MAX_SECONDS, RETRY_MIN_SECONDS
from mvd_core.logs import get_logger

log = get_logger(__name__)

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)
SCHEDULE = _runtime.reset_schedule()


def _interval(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@bp.function_name("nightly_reset")
# A storage hiccup at midnight, or another command's run still going, should not skip a night:
# the host retries the timer function (the local scheduler retries the same way).
@bp.retry(
    strategy="exponential_backoff",
    max_retry_count=str(RETRY_COUNT),
    minimum_interval=_interval(RETRY_MIN_SECONDS),
    maximum_interval=_interval(RETRY_MAX_SECONDS),
)
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, run_on_startup=False, use_monitor=True)
@bp.durable_client_input(client_name="client")
async def nightly_reset(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    if timer.past_due:
        log.warning("nightly reset timer is past due; resetting now")
    # The same path as the API's POST /api/dataspace/reset (source "timer").
    try:
        accepted = await _runtime.backend(client).submit("reset", "timer", [])
    except RunInProgress as exc:
        log.warning("nightly reset refused: %s; the host tries again (retry policy)", exc.message)
        raise
    log.info("nightly reset: run %s (coalesced=%s)", accepted.run_id, accepted.coalesced)
