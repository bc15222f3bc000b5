"""The nightly reset: a timer that only enqueues (the same path as POST /api/dataspace/reset).

The schedule is fixed when the app is indexed: ``MVD_RESET_SCHEDULE`` when set (infra/ sets
it), else the blueprint's ``schedule.reset`` (``MVD_DATASPACE_FILE`` or the packaged
default). A schedule or blueprint that does not validate stops indexing with its problem
named, rather than resetting at a wrong time."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from blueprints import _runtime
from mvd_core.logs import get_logger

log = get_logger(__name__)

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)
SCHEDULE = _runtime.reset_schedule()


@bp.function_name("nightly_reset")
# A storage hiccup at midnight should not skip a night: the host retries the timer function.
@bp.retry(strategy="exponential_backoff", max_retry_count="5", minimum_interval="00:00:10",
          maximum_interval="00:05:00")
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, run_on_startup=False, use_monitor=True)
@bp.durable_client_input(client_name="client")
async def nightly_reset(timer: func.TimerRequest, client) -> None:
    if timer.past_due:
        log.warning("nightly reset timer is past due; resetting now")
    # The same path as the API's POST /api/dataspace/reset (source "timer").
    accepted = await _runtime.backend(client).submit("reset", "timer", [])
    log.info("nightly reset: run %s (coalesced=%s)", accepted.run_id, accepted.coalesced)
