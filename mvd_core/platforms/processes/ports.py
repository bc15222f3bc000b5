"""Ports of local runtimes: allocated once, recorded, and the same ever after.

A runtime's ports end up in published DID documents (the identity hub's DID context) and in
every other participant's configuration, so a port, once given to ``<runtime>.<api>``, stays
with it across restarts of the runtime and of ``mvd serve``: it is recorded in
``$MVD_HOME/runtimes/<participant>/ports.json`` (0600) and read back before anything new is
picked.

New ports come from below the kernel's ephemeral range (``net.ipv4.ip_local_port_range``,
32768-60999 by default): a port inside it can be taken at any moment by an outgoing
connection, which made a runtime's readiness poll fail in the lab. A candidate is used only
when nothing listens on it (a bind check) and no participant of this state directory has it
recorded. Allocation holds ``$MVD_HOME/runtimes/.ports.lock`` so two processes never hand out
the same port.
"""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, ValidationError

from mvd_core.errors import MvdError
from mvd_core.platforms.processes.records import check_segment, locked, runtimes_root
from mvd_core.settings import get_settings
from mvd_core.state import DamagedState, write_private

# Lowest port handed out: clear of the well-known and most registered service ports.
POOL_START = 20000
POOL_END = 30000
PORTS_FILE = "ports.json"


class PortFile(BaseModel):
    """``ports.json``: runtime name -> API name -> port."""

    runtimes: dict[str, dict[str, int]] = {}


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (inclusive)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def default_pool() -> range:
    """Where new ports come from: ``MVD_RUNTIME_PORTS`` when set (refused when it reaches into
    the ephemeral range), else 20000-29999, or, when the ephemeral range reaches down into that,
    the ports between 20000 and the range's start (else above its end)."""
    low, high = ephemeral_range()
    configured = get_settings().runtime_port_range
    if configured is not None:
        if configured.start <= high and low < configured.stop:
            raise MvdError(
                f"MVD_RUNTIME_PORTS {configured.start}-{configured.stop - 1} reaches into the kernel's ephemeral "
                f"port range {low}-{high} (net.ipv4.ip_local_port_range), where outgoing connections take ports",
                status=500,
            )
        return configured
    if low >= POOL_END:
        return range(POOL_START, POOL_END)
    if low > POOL_START + 1000:
        return range(POOL_START, low)
    return range(high + 1, 65536)


def is_free(port: int) -> bool:
    """Whether a server could listen on ``port`` on every interface now. ``SO_REUSEADDR`` as
    Jetty sets it, so the TIME_WAIT connections a just-stopped runtime left do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _path(home: Path, participant: str) -> Path:
    return runtimes_root(home) / check_segment(participant, "participant") / PORTS_FILE


def read_ports(home: Path, participant: str) -> dict[str, dict[str, int]]:
    """The ports recorded for a participant's runtimes (empty when none are)."""
    path = _path(home, participant)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        return PortFile.model_validate(json.loads(raw)).runtimes
    except (ValueError, ValidationError):
        raise DamagedState(
            path,
            "is not a port allocation file",
            "restore it from a backup, or delete it (runtimes get new ports and DIDs change)",
        ) from None


def _all_recorded(home: Path) -> set[int]:
    root = runtimes_root(home)
    used: set[int] = set()
    if root.is_dir():
        for child in root.iterdir():
            if (child / PORTS_FILE).is_file():
                for apis in read_ports(home, child.name).values():
                    used.update(apis.values())
    return used


def allocate(
    home: Path,
    participant: str,
    wanted: Mapping[str, Iterable[str]],
    *,
    pool: range | None = None,
) -> dict[str, dict[str, int]]:
    """A port for each ``runtime -> api`` in ``wanted``: the recorded one when there is one,
    else a new one (recorded before it is returned). Returns exactly what was asked for."""
    check_segment(participant, "participant")
    for runtime in wanted:
        check_segment(runtime, "runtime name")
    pool = pool if pool is not None else default_pool()
    with locked(runtimes_root(home) / ".ports.lock"):
        recorded = read_ports(home, participant)
        used = _all_recorded(home)
        answer: dict[str, dict[str, int]] = {}
        changed = False
        start = random.randrange(len(pool))
        candidates = (pool[(start + i) % len(pool)] for i in range(len(pool)))
        for runtime, apis in wanted.items():
            answer[runtime] = {}
            for api in apis:
                port = recorded.get(runtime, {}).get(api)
                if port is None:
                    port = next((p for p in candidates if p not in used and is_free(p)), None)
                    if port is None:
                        raise MvdError(f"no free port left in {pool.start}-{pool.stop - 1}", status=503)
                    used.add(port)
                    recorded.setdefault(runtime, {})[api] = port
                    changed = True
                answer[runtime][api] = port
        if changed:
            write_private(_path(home, participant), PortFile(runtimes=recorded).model_dump_json(indent=2).encode())
    return answer
