"""When the nightly reset runs: one answer, read the same way by both hosts.

The blueprint's ``schedule`` (``reset``, a six-field NCRONTAB, and ``timezone``) is the source;
``MVD_RESET_SCHEDULE``, when set, replaces its ``reset`` (in the same time zone) on both
hosts. The local host's scheduler (``mvd serve``/``mvd up``) and the Azure Functions timer
(``blueprints/schedule.py``, whose NCRONTAB is fixed when the app is indexed) both call
``reset_schedule``, and ``GET /api/dataspace`` shows what it returns.

The Functions timer on Flex Consumption fires in UTC only (``WEBSITE_TIME_ZONE`` is not
supported there), so the Functions app refuses a schedule in another time zone at indexing
(``functions_timer``), as ``infra/`` refuses it at plan time, rather than reset at another hour.
"""

from __future__ import annotations

from pydantic import ValidationError

from mvd_core.blueprint import Dataspace
from mvd_core.blueprint.models import Schedule
from mvd_core.errors import MvdError
from mvd_core.settings import Settings

OVERRIDE = "MVD_RESET_SCHEDULE"


def reset_schedule(dataspace: Dataspace, settings: Settings) -> Schedule:
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


def functions_timer(dataspace: Dataspace, settings: Settings) -> str:
    """The NCRONTAB the Functions timer is registered with: ``reset_schedule``'s, which must
    be in UTC there."""
    schedule = reset_schedule(dataspace, settings)
    if schedule.timezone.upper() != "UTC":
        raise MvdError(
            f"schedule.timezone is {schedule.timezone!r}: the Azure Functions timer (Flex Consumption) fires "
            "in UTC only; write the blueprint's schedule (or MVD_RESET_SCHEDULE) in UTC with timezone: UTC"
        )
    return schedule.reset
