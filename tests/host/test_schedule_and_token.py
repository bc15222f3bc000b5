"""The local host's nightly schedule (NCRONTAB like the Functions timer) and its API token."""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from mvd_core.errors import MvdError
from mvd_core.host import token
from mvd_core.host.schedule import Scheduler, next_fire
from mvd_core.settings import Settings
from tests.fixtures.polling import until


def test_midnight_utc_is_the_next_midnight():
    after = datetime(2026, 11, 29, 1, 45, tzinfo=UTC)
    assert next_fire("0 0 0 * * *", "UTC", after) == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def test_the_blueprint_time_zone_is_honoured():
    after = datetime(2026, 11, 29, 1, 45, tzinfo=UTC)
    # 00:00 in Berlin is 23:00 UTC in winter
    assert next_fire("0 0 0 * * *", "Europe/Berlin", after) == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)


def test_seconds_come_first_as_in_ncrontab():
    after = datetime(2026, 11, 29, 1, 45, 0, tzinfo=UTC)
    assert next_fire("30 */5 * * * *", "UTC", after) == datetime(2026, 11, 29, 1, 45, 30, tzinfo=UTC)


@pytest.mark.parametrize(("schedule", "zone", "message"), [
    ("0 0 * * *", "UTC", "6 fields"),
    ("0 0 25 * * *", "UTC", "not valid NCRONTAB"),
    ("0 0 0 * * *", "Mars/Olympus", "unknown time zone"),
])
def test_bad_schedules_are_named(schedule, zone, message):
    with pytest.raises(MvdError, match=message):
        next_fire(schedule, zone, datetime.now(UTC))


def test_the_scheduler_fires_and_stops():
    fired = threading.Event()
    scheduler = Scheduler("* * * * * *", "UTC", fired.set)  # every second
    scheduler.start()
    try:
        assert fired.wait(5), "the scheduler did not fire within 5 s"
    finally:
        scheduler.stop()
    assert not scheduler._thread.is_alive()


def test_token_is_generated_once_and_kept_0600(tmp_path):
    settings = Settings(home=tmp_path / "home")
    first, created = token.load_or_create(settings)
    assert created and len(first) >= 40
    path = settings.home / token.TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created_again = token.load_or_create(settings)
    assert (again, created_again) == (first, False)
    assert token.read(settings) == first


def test_a_configured_token_wins_and_nothing_is_written(tmp_path):
    settings = Settings(home=tmp_path / "home", api_token=SecretStr("configured-token"))
    assert token.load_or_create(settings) == ("configured-token", False)
    assert not (settings.home / token.TOKEN_FILE).exists()


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Bearer wrong", "Basic configured-token", "Bearerconfigured-token",
    "Bearer configured-token\xa0", "Bearer \xa0configured-token", "Bearer configured-token\t",
    "Bearer configured-token ", "Bearer Configured-token", "Bearer configured-toke", "Bearer configured-token2",
])
def test_only_the_exact_bearer_token_matches(header):
    """The token is compared character for character: nothing around it is stripped."""
    assert not token.matches("configured-token", header)


@pytest.mark.parametrize("header", ["Bearer configured-token", "bearer configured-token", "BEARER configured-token",
                                    "Bearer  configured-token"])
def test_the_scheme_is_case_insensitive(header):
    assert token.matches("configured-token", header)


def test_an_empty_expected_token_matches_nothing():
    assert not token.matches("", "Bearer ")


def test_a_scheduled_reset_refused_by_another_run_is_tried_again():
    """As the Functions timer's retry policy: a reset refused because another command's run is
    going is tried again after each retry delay, and given up after the last."""
    import logging

    from mvd_core.errors import Conflict

    calls: list[int] = []
    succeed_on = {3}

    def fire():
        calls.append(1)
        if len(calls) not in succeed_on:
            raise Conflict("run mvd-x (provision) is in progress; reset was not started")

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("mvd")
    logger.addHandler(handler)
    scheduler = Scheduler("0 0 0 1 1 *", "UTC", fire, retries=(0.01, 0.01, 0.01))
    try:
        scheduler._fire_with_retries()  # one occurrence
        assert len(calls) == 3  # refused twice, then accepted: no further attempt
        messages = [r.getMessage() for r in records]
        assert sum("scheduled reset refused: run mvd-x (provision) is in progress" in m for m in messages) == 2
        succeed_on.clear()
        calls.clear()
        records.clear()
        scheduler._fire_with_retries()
        assert len(calls) == 4  # the first attempt and 3 retries, then given up
        assert "scheduled reset given up after 4 attempts" in records[-1].getMessage()
        assert all(r.levelno == logging.WARNING and r.exc_info is None for r in records)
    finally:
        logger.removeHandler(handler)


def test_the_scheduler_retries_on_its_own_thread():
    from mvd_core.errors import Conflict

    calls: list[int] = []

    def fire():
        calls.append(1)
        if len(calls) == 1:
            raise Conflict("a provision is going")

    scheduler = Scheduler("* * * * * *", "UTC", fire, retries=(0.01,))
    scheduler.start()
    try:
        until("a second scheduled call", lambda: len(calls) >= 2, timeout=10)
    finally:
        scheduler.stop()
