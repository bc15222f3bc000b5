"""Port allocation: recorded once, the same ever after, never in the ephemeral range, never a
port something listens on, never one another runtime of this state directory has."""

from __future__ import annotations

import json
import socket
import stat
import threading

import pytest

from mvd_core.errors import MvdError
from mvd_core.platforms.processes import ProcessPlatform, ports
from mvd_core.state import DamagedState
from tests.platforms.processes.conftest import home

WANTED = {"connector": ["default", "management", "protocol", "control"], "identityhub": ["default", "did"]}


def test_ports_are_recorded_and_stay_the_same_for_later_calls_and_processes():
    first = ProcessPlatform(home()).allocate_ports("alpha", WANTED)
    again = ProcessPlatform(home()).allocate_ports("alpha", WANTED)
    grown = ProcessPlatform(home()).allocate_ports("alpha", {**WANTED, "dataplane-0": ["default", "public"]})

    assert again == first
    assert {k: grown[k] for k in WANTED} == first
    path = home() / "runtimes" / "alpha" / "ports.json"
    assert json.loads(path.read_text())["runtimes"] == grown
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ProcessPlatform(home()).allocate_ports("alpha", {"identityhub": ["did"]}) == {
        "identityhub": {"did": first["identityhub"]["did"]}
    }


def test_ports_are_distinct_across_runtimes_and_participants_and_below_the_ephemeral_range():
    platform = ProcessPlatform(home())
    allocated = [
        port
        for p in ("alpha", "beta", "gamma")
        for apis in platform.allocate_ports(p, WANTED).values()
        for port in apis.values()
    ]

    assert len(allocated) == len(set(allocated)) == 18
    low, _ = ports.ephemeral_range()
    assert all(1024 < port < low for port in allocated)


def _two_free_ports() -> int:
    for port in range(21000, 29000, 2):
        if ports.is_free(port) and ports.is_free(port + 1):
            return port
    raise AssertionError("no two adjacent free ports")


def test_a_port_something_listens_on_is_skipped():
    port = _two_free_ports()
    with socket.create_server(("127.0.0.1", port)):
        got = ProcessPlatform(home()).allocate_ports("alpha", {"connector": ["default"]}, pool=range(port, port + 2))
    assert got == {"connector": {"default": port + 1}}


def test_an_exhausted_pool_is_a_clear_error_and_records_nothing():
    port = _two_free_ports()
    platform = ProcessPlatform(home())
    with pytest.raises(MvdError) as refused:
        platform.allocate_ports(
            "alpha", {"connector": ["default", "management", "protocol"]}, pool=range(port, port + 2)
        )
    assert str(refused.value) == f"no free port left in {port}-{port + 1}"
    assert refused.value.status == 503
    assert not (home() / "runtimes" / "alpha" / "ports.json").exists()


def test_concurrent_allocations_never_hand_out_one_port_twice():
    start = _two_free_ports()
    pool = range(start, start + 48)
    taken = [p for p in pool if not ports.is_free(p)]
    results: list[dict[str, dict[str, int]]] = []

    def allocate(participant: str) -> None:
        results.append(ProcessPlatform(home()).allocate_ports(participant, {"connector": list("abcde")}, pool=pool))

    threads = [threading.Thread(target=allocate, args=(f"p{i}",)) for i in range((len(pool) - len(taken)) // 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    handed_out = [port for r in results for apis in r.values() for port in apis.values()]
    assert len(results) == len(threads)
    assert len(handed_out) == len(set(handed_out))


@pytest.mark.parametrize(
    ("ephemeral", "pool"),
    [
        ((32768, 60999), range(20000, 30000)),
        ((25000, 60999), range(20000, 25000)),
        ((10000, 60999), range(61000, 65536)),
    ],
)
def test_the_pool_stays_out_of_the_kernels_ephemeral_range(monkeypatch, ephemeral, pool):
    from mvd_core.settings import get_settings

    monkeypatch.delenv("MVD_RUNTIME_PORTS", raising=False)  # set by tests/conftest.py on xdist's workers
    get_settings.cache_clear()
    monkeypatch.setattr(ports, "ephemeral_range", lambda: ephemeral)
    assert ports.default_pool() == pool


def test_a_damaged_port_file_is_named_not_replaced():
    path = home() / "runtimes" / "alpha" / "ports.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(DamagedState) as damaged:
        ProcessPlatform(home()).allocate_ports("alpha", WANTED)
    assert str(damaged.value).startswith("$MVD_HOME/runtimes/alpha/ports.json is not a port allocation file; ")
    assert path.read_text() == "{not json"


def test_mvd_runtime_ports_is_where_new_ports_come_from(monkeypatch):
    from mvd_core.settings import get_settings

    port = _two_free_ports()
    monkeypatch.setenv("MVD_RUNTIME_PORTS", f" {port} - {port + 1} ")
    get_settings.cache_clear()
    assert ports.default_pool() == range(port, port + 2)
    platform = ProcessPlatform(home())
    got = platform.allocate_ports("alpha", {"connector": ["default", "management"]})
    assert sorted(got["connector"].values()) == [port, port + 1]
    with pytest.raises(MvdError) as refused:
        platform.allocate_ports("beta", {"connector": ["default"]})
    assert str(refused.value) == f"no free port left in {port}-{port + 1}"


@pytest.mark.parametrize("value", ["25000", "25000-", "26000-25000", "80-2000", "60000-70000", "a-b", "1e4-2e4"])
def test_a_malformed_mvd_runtime_ports_is_named_and_refused(monkeypatch, value):
    from pydantic import ValidationError

    from mvd_core.settings import Settings, describe_invalid

    monkeypatch.setenv("MVD_RUNTIME_PORTS", value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert describe_invalid(refused.value) == (
        "invalid settings: MVD_RUNTIME_PORTS (Value error, the runtime ports are not LOW-HIGH with "
        "1024 <= LOW <= HIGH <= 65535)"
    )


def test_mvd_runtime_ports_in_the_ephemeral_range_is_refused_and_allocates_nothing(monkeypatch):
    from mvd_core.settings import get_settings

    monkeypatch.setattr(ports, "ephemeral_range", lambda: (32768, 60999))
    monkeypatch.setenv("MVD_RUNTIME_PORTS", "30000-33000")
    get_settings.cache_clear()
    with pytest.raises(MvdError) as refused:
        ProcessPlatform(home()).allocate_ports("alpha", WANTED)
    assert str(refused.value).startswith(
        "MVD_RUNTIME_PORTS 30000-33000 reaches into the kernel's ephemeral port range 32768-60999"
    )
    assert not (home() / "runtimes" / "alpha" / "ports.json").exists()
