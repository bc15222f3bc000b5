"""A starting `mvd serve`/`mvd up` adopts the runtimes still running, restarts the dead ones, and
submits a provision (source "recovery") so their lost state is re-created, unless a run is going.

Real child processes (the processes platform's stand-in runtime, no JVM) on the embedded target;
java is off PATH, so the provision run a recovery submits fails at its first step and never
replaces the stand-ins."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from mvd_core.host.local import LocalHost
from mvd_core.host.recovery import provision_if_needed, restart_runtimes
from mvd_core.platforms.processes import ProcessPlatform
from mvd_core.settings import get_settings
from tests.fixtures.emulators import free_port
from tests.fixtures.polling import until
from tests.platforms.processes.conftest import gone, make_spec, settle, standin_command

PID = "space-enforcer"


@pytest.fixture
def platform(monkeypatch, tmp_path) -> Iterator[ProcessPlatform]:
    monkeypatch.setenv("MVD_TARGETS", "embedded")
    monkeypatch.setenv("MVD_PORT", str(free_port()))
    (tmp_path / "no-java").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-java"))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    get_settings.cache_clear()
    platform = ProcessPlatform(get_settings().home, command=standin_command, stop_grace=5)
    yield platform
    for participant in platform.participants():
        platform.stop(participant)


@pytest.fixture
def host(platform) -> Iterator[LocalHost]:
    host = LocalHost(get_settings())
    yield host
    host.stop()


def run_runtimes(platform: ProcessPlatform, participant: str = PID) -> dict[str, int]:
    specs = [make_spec(platform, "identityhub", participant), make_spec(platform, "connector", participant),
             make_spec(platform, "dataplane-0", participant, start_after=["connector"])]
    platform.apply(specs)
    return {name: state.pid for name, state in settle(platform, participant).items()}


def kill(pids: dict[str, int]) -> None:
    """What a SIGKILLed `mvd serve` leaves: its runtimes gone with it."""
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    until("runtimes gone", lambda: all(gone(pid) for pid in pids.values()), timeout=10)


def test_dead_runtimes_are_restarted_on_their_ports_and_a_recovery_provision_is_submitted(platform, host):
    pids = run_runtimes(platform)
    ports = {s.name: s.ports for s in platform.status(PID)}
    other = run_runtimes(platform, "alpha")  # not a participant of this dataspace
    kill(pids | {f"alpha/{k}": v for k, v in other.items()})

    recovery = restart_runtimes(host, platform)
    host.start()
    recovery = provision_if_needed(host, recovery)

    assert recovery.restarted == {PID: ["connector", "dataplane-0", "identityhub"]}
    assert recovery.adopted == {} and recovery.failed == {} and recovery.error is None
    assert recovery.run is not None and not recovery.run.coalesced
    record = host.registry.get(recovery.run.run_id)
    assert (record.action, record.source) == ("provision", "recovery")
    assert recovery.lines() == [
        f"runtimes of {PID} restarted: connector, dataplane-0, identityhub",
        (f"recovery: started a provision run, {recovery.run.run_id}, to re-create their identity contexts and "
         "credentials"),
    ]
    after = settle(platform, PID)  # the data plane, waiting for its connector, starts once that is ready
    assert {name: s.ports for name, s in after.items()} == ports
    assert all(s.pid not in pids.values() for s in after.values())
    assert {s.state for s in platform.status("alpha")} == {"failed"}  # left alone


def test_runtimes_still_running_are_adopted_and_nothing_is_submitted(platform, host):
    pids = run_runtimes(platform)

    recovery = provision_if_needed(host, restart_runtimes(host, platform))

    assert recovery.adopted == {PID: ["connector", "dataplane-0", "identityhub"]}
    assert recovery.restarted == {} and recovery.run is None and recovery.run_going is None
    assert {s.name: s.pid for s in platform.status(PID)} == pids
    assert host.registry.current(host.dataspace.name) is None
    assert recovery.lines() == [f"runtimes of {PID} adopted (still running): connector, dataplane-0, identityhub"]


def test_a_run_going_is_left_to_converge_them(platform, host):
    kill(run_runtimes(platform))
    recovery = restart_runtimes(host, platform)
    host.start()
    going = host.submit("reset", "cli")  # retrying its first step (no java) for seconds

    recovery = provision_if_needed(host, recovery)

    assert recovery.run is None and recovery.run_going == going.run_id
    assert [r.id for r in host.registry.recent(5, host.dataspace.name)] == [going.run_id]
    assert recovery.lines()[-1] == f"recovery: run {going.run_id} is going; it converges the restarted runtimes"


def test_nothing_recorded_nothing_said(platform, host):
    recovery = provision_if_needed(host, restart_runtimes(host, platform))
    assert recovery.lines() == [] and recovery.run is None
