"""The nightly reset: when it runs (one answer for both hosts) and, on the local host, a
thread that sleeps until the next occurrence (checking the wall clock once a minute).

The blueprint's ``schedule`` (``reset``, a six-field NCRONTAB as Azure Functions' timer
trigger reads it, and ``timezone``) is the source; ``MVD_RESET_SCHEDULE``, when set, replaces
its ``reset`` (in the same time zone) on both hosts. The local scheduler (``mvd serve``/
``mvd up``) and the Azure Functions timer (``blueprints/schedule.py``, whose NCRONTAB is fixed
when the app is indexed) both call ``reset_schedule``, and ``GET /api/dataspace`` shows it.
The Functions timer on Flex Consumption fires in UTC only (``WEBSITE_TIME_ZONE`` is not
supported there), so the Functions app refuses another time zone at indexing
(``functions_timer``), as ``infra/`` refuses it at plan time, rather than reset at another hour.

A reset refused because another command's run is going (``Conflict``) is tried again with
the Functions timer's retry policy (``RETRY_*``, which ``blueprints/schedule.py`` registers):
after 10 s, 20 s, 40 s, 80 s and 160 s; then that night's reset is given up, with a warning."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, croniter
from pydantic import ValidationError

from mvd_core.dataspace import Dataspace
from mvd_core.dataspace.models import Schedule
from mvd_core.errors import Conflict, MvdError
from mvd_core.logs import get_logger, log_context
from mvd_core.settings import IndexingSettings, Settings

log = get_logger(__name__)

OVERRIDE = "MVD_RESET_SCHEDULE"

# The Functions timer's retry policy, and the local scheduler's: exponential from 10 s, at most 5 min.
RETRY_COUNT = 5
RETRY_MIN_SECONDS = 10
RETRY_MAX_SECONDS = 300


def retry_delays(
    count: int = RETRY_COUNT, first: float = RETRY_MIN_SECONDS, most: float = RETRY_MAX_SECONDS
) -> tuple[float, ...]:
    """The waits before each retry, as the Functions host's ``exponential_backoff`` spaces them."""
    return tuple(min(first * 2**i, most) for i in range(count))


def reset_schedule(dataspace: Dataspace, settings: Settings | IndexingSettings) -> Schedule:
    """The schedule both hosts reset on: the blueprint's, with ``reset`` from
    ``MVD_RESET_SCHEDULE`` when that is set (checked as the blueprint's field is)."""
    override = settings.reset_schedule
    if override is None:
        return dataspace.schedule
    try:
        return Schedule(reset=override.strip(), timezone=dataspace.schedule.timezone)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise MvdError(f"{OVERRIDE}: {reason}") from None


def describe(schedule: Schedule, settings: Settings) -> str:
    """``0 0 0 * * * (UTC)``, saying when the NCRONTAB comes from the setting."""
    origin = f", from {OVERRIDE}" if settings.reset_schedule is not None else ""
    return f"{schedule.reset} ({schedule.timezone}{origin})"


def functions_timer(dataspace: Dataspace, settings: Settings | IndexingSettings) -> str:
    """The NCRONTAB the Functions timer is registered with: ``reset_schedule``'s, which must
    be in UTC there."""
    schedule = reset_schedule(dataspace, settings)
    if schedule.timezone.upper() != "UTC":
        raise MvdError(
            f"schedule.timezone is {schedule.timezone!r}: the Azure Functions timer (Flex Consumption) fires "
            "in UTC only; write the blueprint's schedule (or MVD_RESET_SCHEDULE) in UTC with timezone: UTC"
        )
    return schedule.reset


def next_fire(ncrontab: str, timezone: str, after: datetime) -> datetime:
    """The next time a six-field NCRONTAB (sec min hour day month weekday) fires, in UTC."""
    fields = ncrontab.split()
    if len(fields) != 6:
        raise MvdError(f"schedule {ncrontab!r} must have 6 fields (sec min hour day month weekday)")
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise MvdError(f"unknown time zone {timezone!r}") from None
    # croniter puts the seconds field last.
    expr = " ".join(fields[1:] + fields[:1])
    try:
        it = croniter(expr, after.astimezone(tz))
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise MvdError(f"schedule {ncrontab!r} is not valid NCRONTAB: {exc}") from None
    return it.get_next(datetime).astimezone(UTC)


class Scheduler:
    """Calls ``fire`` at every occurrence of the schedule until stopped."""

    def __init__(
        self, ncrontab: str, timezone: str, fire: Callable[[], None], *, retries: tuple[float, ...] | None = None
    ) -> None:
        next_fire(ncrontab, timezone, datetime.now(UTC))  # fail early on a bad schedule
        self.ncrontab, self.timezone, self._fire = ncrontab, timezone, fire
        self.retries = retry_delays() if retries is None else retries
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mvd-scheduler", daemon=True)
        self.next_at: datetime | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.next_at = next_fire(self.ncrontab, self.timezone, datetime.now(UTC))
            log.info("next scheduled reset at %s", self.next_at.isoformat())
            while not self._stop.is_set():
                remaining = (self.next_at - datetime.now(UTC)).total_seconds()
                if remaining <= 0:
                    break
                # Re-read the wall clock every minute: a laptop that slept through midnight
                # fires on waking (the monotonic wait does not count the sleep).
                self._stop.wait(min(remaining, 60))
            if self._stop.is_set():
                return
            with log_context(step="schedule"):
                self._fire_with_retries()

    def _fire_with_retries(self) -> None:
        for attempt, wait in enumerate((0.0, *self.retries)):
            if wait and self._stop.wait(wait):
                return
            try:
                self._fire()
                return
            except Conflict as exc:
                if attempt == len(self.retries):
                    log.warning("scheduled reset given up after %d attempts: %s", attempt + 1, exc.message)
                else:
                    log.warning(
                        "scheduled reset refused: %s; trying again in %.0f s", exc.message, self.retries[attempt]
                    )
            except MvdError as exc:
                log.error("scheduled reset could not be submitted: %s", exc.message)
                return
            except Exception:
                log.exception("scheduled reset could not be submitted")
                return
