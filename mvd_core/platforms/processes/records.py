"""What the processes platform keeps on disk about each runtime, and how it tells a live one.

``$MVD_HOME/runtimes/<participant>/runtimes.json`` (0600, directory 0700) holds one record per
runtime: its spec and spec hash, whether it should run, and the process it runs as, named
by pid **and** the process's start time (``/proc/<pid>/stat`` field 22, clock ticks since
boot). A pid alone can be reused by any later process; the pair names one process for good,
so a restarted ``mvd serve`` adopts (reports on, stops) a runtime only when both still match,
and never signals a stranger that happens to have the recorded pid.

Changes go through ``locked(<participant dir>/.lock)`` (``flock``), so two ``mvd`` processes,
or two threads of one, never start the same runtime twice; reads need no lock (files are
replaced atomically).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from mvd_core.dataspace.models import DNS1123_LABEL, show
from mvd_core.errors import MvdError
from mvd_core.runtimes.spec import RuntimeSpec
from mvd_core.state import DamagedState, private_dir, private_file, write_private

RECORDS_FILE = "runtimes.json"


def check_segment(value: str, what: str) -> str:
    """``value`` when it can name a file of the state directory (a DNS label, as participant
    ids are), else a one-line error naming it."""
    if not DNS1123_LABEL.fullmatch(value):
        raise MvdError(
            f"{what} {show(value)} is not a DNS label (lowercase letters, digits and '-', "
            "up to 63, starting and ending with a letter or digit)"
        )
    return value


def runtimes_root(home: Path) -> Path:
    return Path(home) / "runtimes"


def participant_dir(home: Path, participant: str) -> Path:
    return runtimes_root(home) / check_segment(participant, "participant")


def log_path(home: Path, participant: str, name: str) -> Path:
    return (
        Path(home) / "logs" / check_segment(participant, "participant") / f"{check_segment(name, 'runtime name')}.log"
    )


def config_path(home: Path, participant: str, name: str) -> Path:
    return participant_dir(home, participant) / f"{check_segment(name, 'runtime name')}.properties"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created 0600) for the duration of the block."""
    private_file(path)
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class RuntimeRecord(BaseModel):
    spec: RuntimeSpec
    spec_hash: str
    desired: Literal["running", "stopped"] = "running"
    pid: int | None = None
    start_ticks: int | None = None
    started_at: datetime | None = None
    # the mvd process the runtime was forked from (its parent, whose death kills it)
    owner_pid: int | None = None
    owner_start_ticks: int | None = None
    # where this start's lines begin in the runtime's log
    log_offset: int = 0
    # why the runtime could not be started (a port in use, a missing dependency); shown as failed
    failure: str | None = None


class RecordFile(BaseModel):
    runtimes: dict[str, RuntimeRecord] = {}


def read_records(home: Path, participant: str) -> dict[str, RuntimeRecord]:
    path = participant_dir(home, participant) / RECORDS_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        return RecordFile.model_validate(json.loads(raw)).runtimes
    except (ValueError, ValidationError):
        raise DamagedState(
            path,
            "is not a runtime record file",
            "stop the participant's runtimes by hand, delete the file and provision again",
        ) from None


def write_records(home: Path, participant: str, records: dict[str, RuntimeRecord]) -> None:
    directory = private_dir(participant_dir(home, participant))
    write_private(directory / RECORDS_FILE, RecordFile(runtimes=records).model_dump_json(indent=2).encode())


def participants(home: Path) -> list[str]:
    """Every participant with runtime records in this state directory."""
    root = runtimes_root(home)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / RECORDS_FILE).is_file())


@dataclass(frozen=True)
class ProcStat:
    """The parts of ``/proc/<pid>/stat`` that identify a process and say whether it lives."""

    state: str
    ppid: int
    pgrp: int
    start_ticks: int

    @property
    def zombie(self) -> bool:
        return self.state in ("Z", "X", "x")


def proc_stat(pid: int) -> ProcStat | None:
    """``/proc/<pid>/stat`` of a process, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # the command name (field 2) is in parentheses and may itself hold spaces and ')'
    fields = raw[raw.rindex(")") + 2 :].split()
    return ProcStat(state=fields[0], ppid=int(fields[1]), pgrp=int(fields[2]), start_ticks=int(fields[19]))


def same_process(pid: int | None, start_ticks: int | None) -> ProcStat | None:
    """The process recorded as (pid, start time) when it still runs (not a zombie), else None."""
    if pid is None or start_ticks is None:
        return None
    stat = proc_stat(pid)
    if stat is None or stat.start_ticks != start_ticks or stat.zombie:
        return None
    return stat
