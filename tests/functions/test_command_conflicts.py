"""A different command while a run is going, through the Functions app on Azurite: the HTTP
function answers 409 naming the run, the timer is refused (and raises, so the host's retry
policy tries again); only the same command joins the run."""

from __future__ import annotations

import asyncio
import logging

import pytest
from azure.functions.timer import TimerRequest

from mvd_core.commands import RunInProgress, parse_command
from mvd_core.host.schedule import retry_delays
from tests.commands.support import drain
from tests.commands.test_handler import StandInStarter
from tests.functions.support import by_name
from tests.functions.test_invoke import call, http, user_code


def test_a_different_command_is_409_and_the_same_one_joins(storage):
    registry, queue = storage
    status, first = call("dataspace_command", http("POST", "/api/dataspace/provision", {"action": "provision"}))
    assert status == 202 and first["coalesced"] is False
    for action, body in (("teardown", b""), ("reset", b""), ("provision", b'{"rotateKeys": ["space-enforcer"]}')):
        status, refused = call("dataspace_command", http("POST", f"/api/dataspace/{action}", {"action": action}, body))
        assert status == 409, refused
        assert refused["error"].startswith(f"run {first['runId']} (provision) is in progress; ")
    status, same = call("dataspace_command", http("POST", "/api/dataspace/provision", {"action": "provision"}))
    assert status == 202 and same["coalesced"] is True and same["runId"] == first["runId"]
    assert [parse_command(m).run_id for m in drain(queue)] == [first["runId"]]
    assert registry.get(first["runId"]).coalesced == 1


def test_the_nightly_timer_during_a_provision_is_refused_for_the_retry_policy(storage, caplog):
    _, queue = storage
    _, first = call("dataspace_command", http("POST", "/api/dataspace/provision", {"action": "provision"}))
    logger = logging.getLogger("mvd")
    logger.addHandler(caplog.handler)
    try:
        with pytest.raises(RunInProgress) as refused:
            asyncio.run(user_code("nightly_reset")(timer=TimerRequest(past_due=False), client=StandInStarter()))
    finally:
        logger.removeHandler(caplog.handler)
    assert refused.value.run_id == first["runId"] and refused.value.action == "provision"
    assert f"nightly reset refused: run {first['runId']} (provision) is in progress" in caplog.text
    assert [parse_command(m).action for m in drain(queue)] == ["provision"]
    # the host retries it with the policy the local scheduler follows too
    retry = by_name()["nightly_reset"].get_settings_dict("retry_policy")
    assert (int(retry["max_retry_count"]), retry["minimum_interval"], retry["maximum_interval"]) == \
        (len(retry_delays()), "00:00:10", "00:05:00")
    assert retry_delays() == (10, 20, 40, 80, 160)
