"""Commands on the local host: a second command while the first is between its claim and
its start joins the first run (found by CI as a race: 20 resets once made 3 runs)."""

from __future__ import annotations

import threading

import pytest

from mvd_core.host.local import LocalHost
from mvd_core.settings import get_settings


def test_a_command_during_a_slow_start_joins_the_run(tmp_path):
    host = LocalHost(get_settings())
    claimed, release = threading.Event(), threading.Event()
    start_run = host.queue.fn

    def slow_start(command):
        claimed.set()
        assert release.wait(10)
        start_run(command)

    host.queue.fn = slow_start
    first: dict = {}
    worker = threading.Thread(target=lambda: first.setdefault("accepted", host.submit("reset", "api")))
    worker.start()
    assert claimed.wait(10)
    second = host.submit("reset", "api")  # arrives while the first run is claimed, not yet started
    release.set()
    worker.join(10)
    assert second.coalesced and second.run_id == first["accepted"].run_id
    assert [r.id for r in host.registry.recent(10, host.dataspace.name)] == [second.run_id]
    assert host.engine.get_status(second.run_id) is not None


def test_a_run_claimed_but_never_started_is_closed_at_start_up(tmp_path):
    host = LocalHost(get_settings())
    host.queue.fn = lambda command: None  # the process "dies" between claim and start
    lost = host.submit("provision", "api")
    restarted = LocalHost(get_settings())
    restarted.start()
    try:
        record = restarted.registry.get(lost.run_id)
        assert record.status == "failed" and "stopped before the run started" in record.error
        assert not restarted.submit("reset", "api").coalesced
    finally:
        restarted.stop()


def test_a_different_command_during_a_run_is_refused_naming_it(tmp_path):
    from mvd_core.commands import RunInProgress

    host = LocalHost(get_settings())
    host.queue.fn = lambda command: None  # the run stays claimed: "going" for this test
    reset = host.submit("reset", "timer")
    for action, rotate in (("teardown", None), ("provision", None), ("reset", ["space-enforcer"])):
        with pytest.raises(RunInProgress) as refused:
            host.submit(action, "cli", rotate)
        assert refused.value.status == 409 and refused.value.run_id == reset.run_id
        assert refused.value.message.startswith(f"run {reset.run_id} (reset) is in progress; ")
    assert host.submit("reset", "webhook").coalesced
    [record] = host.registry.recent(10, host.dataspace.name)
    assert record.id == reset.run_id and record.action == "reset" and record.coalesced == 1


def test_a_run_whose_orchestration_ended_without_recording_is_released_as_on_azure(tmp_path):
    """The local engine is the same orchestration port as the Durable client: an orchestration
    that ended without recording its run releases the dataspace, and the run says how it ended."""
    from mvd_core.workflow.functions import DATASPACE_ORCHESTRATOR

    host = LocalHost(get_settings())
    host.queue.fn = lambda command: None  # claimed; the orchestration is started by hand below
    first = host.submit("reset", "api")
    host.engine.start_singleton(DATASPACE_ORCHESTRATOR, first.run_id, {})
    host.registry.mark_running(first.run_id)
    host.engine.terminate(first.run_id, "stopped by hand")
    # A different command would be refused while the first run held the dataspace.
    second = host.submit("teardown", "api")
    assert not second.coalesced and second.run_id != first.run_id
    record = host.registry.get(first.run_id)
    assert record.status == "failed"
    assert record.error == ("the orchestration ended (Terminated) without recording its result: "
                            "terminated: stopped by hand")
    assert host.run(first.run_id).failures[0].reason == record.error
