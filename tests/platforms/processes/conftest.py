"""The processes platform against a real stand-in runtime (``standin.py``): real child
processes, real ports, real signals."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil
import pytest

from mvd_core.platforms.processes import ProcessPlatform, RuntimeState
from mvd_core.runtimes.spec import ApiEndpoint, RuntimeSpec
from tests.fixtures.polling import until

STANDIN = Path(__file__).with_name("standin.py")


def standin_command(spec: RuntimeSpec, config: Path) -> list[str]:
    return [sys.executable, str(STANDIN), str(config)]


def home() -> Path:
    return Path(os.environ["MVD_HOME"])


@pytest.fixture
def platform() -> Iterator[ProcessPlatform]:
    platform = ProcessPlatform(home(), command=standin_command, stop_grace=5)
    yield platform
    for participant in platform.participants():
        platform.stop(participant)


def make_spec(
    platform: ProcessPlatform,
    name: str,
    participant: str = "alpha",
    *,
    settings: dict[str, str] | None = None,
    start_after: Sequence[str] = (),
) -> RuntimeSpec:
    port = platform.allocate_ports(participant, {name: ["default"]})[name]["default"]
    return RuntimeSpec(
        participant=participant,
        name=name,
        kind="connector",
        settings=settings or {},
        apis={"default": ApiEndpoint(name="default", port=port, path="/api")},
        start_after=list(start_after),
    )


def settle(
    platform: ProcessPlatform, participant: str = "alpha", want: str = "ready", timeout: float = 30
) -> dict[str, RuntimeState]:
    """Each runtime's state once all are ``want`` (ready by default), failing with the states
    when that does not happen in time. Starts waiting runtimes (``advance``) meanwhile."""
    last: dict[str, RuntimeState] = {}

    def check() -> bool:
        platform.advance(participant)
        last.clear()
        last.update({s.name: s for s in platform.status(participant)})
        return bool(last) and all(s.state == want for s in last.values())

    try:
        until(f"all runtimes {want}", check, timeout=timeout)
    except AssertionError:
        raise AssertionError(f"not all {want}: {[(s.name, s.state, s.detail, s.log_tail) for s in last.values()]}")
    return dict(last)


def gone(pid: int) -> bool:
    """Whether no process (not even a zombie) has ``pid`` any more."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
