"""The runtimes die with the mvd process that runs them, however it ends, and another mvd
process adopts the ones still running (verified by pid and start time) or restarts them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.fixtures.polling import until
from tests.platforms.processes.conftest import gone, home, make_spec, settle

ROOT = Path(__file__).resolve().parents[3]


class Supervisor:
    def __init__(self, specs_file: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.platforms.processes.supervise", str(specs_file)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the child's settle() has its own deadline
        assert line, f"supervisor exited with {self.proc.wait()}"
        self.pids: dict[str, int] = json.loads(line)


@pytest.fixture
def supervisor(platform, tmp_path) -> Iterator[Supervisor]:
    specs = [
        make_spec(platform, "connector"),
        make_spec(platform, "identityhub"),
        make_spec(platform, "dataplane-0", start_after=["connector"]),
    ]
    specs_file = tmp_path / "specs.json"
    specs_file.write_text(json.dumps([s.model_dump(mode="json") for s in specs]))
    running = Supervisor(specs_file)
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
    running.proc.wait()


@pytest.mark.parametrize("end", ["SIGKILL", "exit"])
def test_runtimes_die_with_the_mvd_process_that_started_them(supervisor, end):
    runtimes = [psutil.Process(pid) for pid in supervisor.pids.values()]
    assert all(p.ppid() == supervisor.proc.pid for p in runtimes)
    assert all(os.getpgid(p.pid) == p.pid for p in runtimes)  # each its own process group

    if end == "SIGKILL":
        supervisor.proc.send_signal(signal.SIGKILL)
    else:
        supervisor.proc.stdin.close()  # it returns from main and exits normally
    supervisor.proc.wait()

    until("no runtime left", lambda: all(gone(p.pid) for p in runtimes), timeout=10)


def test_after_a_sigkill_the_next_mvd_process_restarts_them_on_the_same_ports(supervisor, platform):
    before = {s.name: s for s in platform.status("alpha")}
    supervisor.proc.send_signal(signal.SIGKILL)
    supervisor.proc.wait()
    until("no runtime left", lambda: all(gone(pid) for pid in supervisor.pids.values()), timeout=10)

    dead = {s.name: s for s in platform.status("alpha")}
    assert {s.state for s in dead.values()} == {"failed"}
    assert dead["connector"].detail == (
        f"connector is no longer running: the mvd process that started it "
        f"(pid {supervisor.proc.pid}) has exited, which stops its runtimes"
    )

    results = platform.recover()

    assert sorted(results["alpha"].started) == ["connector", "identityhub"]
    assert results["alpha"].waiting == ["dataplane-0"]
    after = settle(platform)
    assert {n: s.ports for n, s in after.items()} == {n: s.ports for n, s in before.items()}
    assert all(psutil.Process(s.pid).ppid() == os.getpid() for s in after.values())


def test_another_mvd_process_adopts_running_runtimes_and_can_stop_them(supervisor, platform):
    specs = [
        make_spec(platform, name, start_after=["connector"] if name.startswith("dataplane") else ())
        for name in ("connector", "identityhub", "dataplane-0")
    ]

    states = settle(platform)
    assert {n: s.pid for n, s in states.items()} == supervisor.pids
    result = platform.apply(specs)
    assert result.started == [] and sorted(result.unchanged) == ["connector", "dataplane-0", "identityhub"]
    assert platform.recover()["alpha"].started == []

    assert sorted(platform.stop("alpha")) == ["connector", "dataplane-0", "identityhub"]

    until("adopted runtimes stopped", lambda: all(gone(pid) for pid in supervisor.pids.values()), timeout=10)
    assert supervisor.proc.poll() is None  # only its runtimes were stopped
    assert home().is_dir()
