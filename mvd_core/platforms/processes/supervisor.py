"""The ``processes`` platform: a participant's runtimes as supervised child processes.

Every call returns promptly: ``apply`` starts what it can and says what waits; readiness is
one HTTP request per runtime in ``status``; the orchestrator polls with durable timers. Only
a stop waits, for at most ``stop_grace`` seconds (SIGTERM to the process group, SIGKILL after).

State directory layout (directories 0700, files 0600):

- ``runtimes/<participant>/runtimes.json``: records (``records.py``): spec, hash, pid + start time
- ``runtimes/<participant>/ports.json``: the ports (``ports.py``), stable for good
- ``runtimes/<participant>/<name>.properties``: the EDC settings, given by ``-Dedc.fs.config``
- ``logs/<participant>/<name>.log``: the runtime's stdout and stderr, one file per runtime
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx
from pydantic import BaseModel

from mvd_core.errors import MvdError
from mvd_core.logs import get_logger
from mvd_core.platforms.processes import ports as port_allocation
from mvd_core.platforms.processes.launcher import describe_exit, launcher
from mvd_core.platforms.processes.records import (
    RuntimeRecord,
    check_segment,
    config_path,
    locked,
    log_path,
    participant_dir,
    participants,
    proc_stat,
    read_records,
    same_process,
    write_records,
)
from mvd_core.runtimes import assembly
from mvd_core.runtimes.kinds import RuntimeKind
from mvd_core.runtimes.spec import RuntimeSpec
from mvd_core.settings import get_settings
from mvd_core.state import private_dir, private_file, write_private

log = get_logger(__name__)

Command = Callable[[RuntimeSpec, Path], list[str]]
"""The program line of a runtime, given its spec and its settings file (absolute program path first)."""

LOG_TAIL_LINES = 30
LOG_ROTATE_BYTES = 10 * 2**20
# What a runtime inherits from the environment: nothing of mvd's own (MVD_API_TOKEN, storage
# connection strings...), which EDC would otherwise also read as settings.
CHILD_ENV = ("PATH", "HOME", "TZ", "TMPDIR", "JAVA_HOME", "USER", "LOGNAME")
# Settings keys whose last segment says they hold a secret itself, not a vault alias of one.
SECRET_KEY_WORDS = {"password", "secret", "apikey", "api-key", "privatekey", "private-key", "clientsecret"}
# What EDC logs once every extension has started, which is after Jetty serves every web context.
# Nothing probes a runtime before its log says so: a request that lands while Jetty maps a context
# can leave that exact path answering 404 for good (EDC 0.15.1 on Jetty 12.1: the readiness path,
# polled from the start, stuck in about one start in four), and such a runtime never shows ready.
READY_LINE = re.compile(rb"Runtime \S+ ready")
# The (pid, start time) of runtimes whose log said so: read once per process, not per probe.
_logged_ready: set[tuple[int, int]] = set()


def find_java() -> str:
    """The ``java`` to run (``$JAVA_HOME/bin/java``, else java on PATH), or a one-line error."""
    java = assembly.java_executable()
    if java is None:
        raise MvdError(
            "java not found: set JAVA_HOME to a JDK 17+ or put java on PATH "
            "(Debian: apt-get install openjdk-17-jdk-headless)"
        )
    return str(Path(java).absolute())


class JavaCommand:
    """``assembly.java_command``: java + JVM flags + ``@<argfile>`` (the kind's assembled
    classpath) + ``-Dedc.fs.config=<settings file>`` + EDC's ``BaseRuntime``."""

    def __init__(self, argfiles: Mapping[RuntimeKind, Path]) -> None:
        self.argfiles = dict(argfiles)

    def __call__(self, spec: RuntimeSpec, config: Path) -> list[str]:
        java = find_java()
        argfile = self.argfiles.get(spec.kind)
        if argfile is None:
            raise MvdError(f"no assembled classpath for runtime kind {spec.kind!r}")
        return [java, *assembly.java_command(spec, argfile, config)[1:]]


def default_command() -> Command:
    """The java command over the runtimes' assembled classpaths (assembled on first use)."""
    return JavaCommand(assembly.assemble())


def properties(spec: RuntimeSpec) -> str:
    """The runtime's settings file: its settings with its API ports and paths
    (``web.http[.<api>].port/.path``, which must agree where the settings name them too).
    Refuses a value that is a secret (a PEM key, a key named ``...password``/``...secret``),
    naming the key, never the value."""
    settings = dict(spec.settings)
    for api, endpoint in spec.apis.items():
        prefix = "web.http" if api == "default" else f"web.http.{api}"
        for key, value in ((f"{prefix}.port", str(endpoint.port)), (f"{prefix}.path", endpoint.path)):
            if settings.setdefault(key, value) != value:
                raise MvdError(f"runtime {spec.name!r}: setting {key!r} contradicts its {api!r} API")
    for key, value in settings.items():
        if "PRIVATE KEY-----" in value or key.rsplit(".", 1)[-1].lower() in SECRET_KEY_WORDS:
            raise MvdError(
                f"runtime {spec.name!r}: setting {key!r} holds a secret; keep it in the vault and "
                "set its alias instead (settings files are not secret stores)"
            )
    return spec.model_copy(update={"settings": settings}).properties()


def _spec_hash(spec: RuntimeSpec, argv: list[str]) -> str:
    body = json.dumps({"spec": spec.model_dump(mode="json"), "argv": argv}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _child_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in CHILD_ENV if k in os.environ}
    env["LANG"] = "C.UTF-8"
    return env


class RuntimeState(BaseModel):
    participant: str
    name: str
    kind: RuntimeKind
    state: Literal["ready", "starting", "failed", "stopped"]
    detail: str = ""
    pid: int | None = None
    started_at: datetime | None = None
    ports: dict[str, int] = {}
    log: str
    # the last lines this start wrote to its log; only for a failed runtime
    log_tail: list[str] = []


class ApplyResult(BaseModel):
    participant: str
    started: list[str] = []
    # stopped because their spec changed (then started again, or waiting)
    restarted: list[str] = []
    unchanged: list[str] = []
    waiting: list[str] = []
    failed: list[str] = []


class ProcessPlatform:
    """Runs, watches and stops participants' runtimes as child processes of this ``mvd``
    process. Instances are cheap and share everything through the state directory and the
    process's one launcher thread, so an activity may create one per call."""

    def __init__(
        self,
        home: Path | None = None,
        *,
        command: Command | None = None,
        stop_grace: float = 20.0,
        readiness_timeout: float = 2.0,
    ) -> None:
        # Absolute: the runtimes get paths under it (settings file, vault) and do not share our
        # working directory's meaning of a relative MVD_HOME such as the default `.mvd`.
        self.home = (Path(home) if home is not None else get_settings().home).absolute()
        self._command = command
        self.stop_grace = stop_grace
        self.readiness_timeout = readiness_timeout

    # ---------------------------------------------------------------- ports

    def allocate_ports(
        self, participant: str, wanted: Mapping[str, Iterable[str]], *, pool: range | None = None
    ) -> dict[str, dict[str, int]]:
        """Ports for ``runtime -> [api...]``: the recorded ones, new ones recorded (``ports.py``)."""
        return port_allocation.allocate(self.home, participant, wanted, pool=pool)

    def recorded_ports(self, participant: str) -> dict[str, dict[str, int]]:
        """The ports recorded for the participant's runtimes, allocating none (empty before the first)."""
        return port_allocation.read_ports(self.home, participant)

    # ---------------------------------------------------------------- changes

    def apply(self, specs: Sequence[RuntimeSpec]) -> ApplyResult:
        """Start each runtime that is not running or whose spec changed (it is stopped first);
        leave the others alone. Runtimes whose ``start_after`` are not ready yet wait: call
        ``advance`` (or ``apply`` again) once they are. A second call starts nothing."""
        participant = self._one_participant(specs)
        prepared = {spec.name: _spec_hash(spec, self._argv(spec)) for spec in specs}
        for spec in specs:
            properties(spec)  # refused settings are refused before anything changes
        result = ApplyResult(participant=participant)
        with self._lock(participant):
            records = read_records(self.home, participant)
            changed: list[RuntimeRecord] = []
            for spec in specs:
                record = records.get(spec.name)
                if record is not None and self._alive(record)[0]:
                    if record.spec_hash == prepared[spec.name] and record.desired == "running":
                        result.unchanged.append(spec.name)
                        continue
                    changed.append(record)
                    result.restarted.append(spec.name)
                elif record is not None:
                    self._clear(record)
                records[spec.name] = RuntimeRecord(spec=spec, spec_hash=prepared[spec.name])
            self._terminate(changed)
            write_records(self.home, participant, records)
            self._advance(participant, records, result)
        return result

    def advance(self, participant: str) -> ApplyResult:
        """Start the runtimes that wait for others which are ready now."""
        result = ApplyResult(participant=participant)
        with self._lock(participant):
            records = read_records(self.home, participant)
            self._advance(participant, records, result)
        return result

    def restart(self, participant: str) -> ApplyResult:
        """Reset: stop every runtime of the participant and start it again (in-memory state
        gone; ports, settings and logs kept). Dependent runtimes wait as in ``apply``."""
        result = ApplyResult(participant=participant)
        with self._lock(participant):
            records = read_records(self.home, participant)
            running = [r for r in records.values() if r.desired == "running"]
            self._terminate(running)
            for record in running:
                self._clear(record)
            write_records(self.home, participant, records)
            self._advance(participant, records, result)
        return result

    def stop(self, participant: str) -> list[str]:
        """Teardown: stop every runtime of the participant; they stay recorded as stopped.
        Returns the names of those that were running."""
        with self._lock(participant):
            records = read_records(self.home, participant)
            running = [r for r in records.values() if self._alive(r)[0]]
            self._terminate(running)
            for record in records.values():
                self._clear(record)
                record.desired = "stopped"
            if records:
                write_records(self.home, participant, records)
        return sorted(r.spec.name for r in running)

    def prune(self, participant: str, keep: Iterable[str]) -> list[str]:
        """Stop and forget the runtimes not named in ``keep`` (the baseline no longer declares
        them); returns their names. Their ports stay recorded, their logs stay."""
        keep = set(keep)
        with self._lock(participant):
            records = read_records(self.home, participant)
            gone = [r for name, r in records.items() if name not in keep]
            if not gone:
                return []
            self._terminate(gone)
            for record in gone:
                del records[record.spec.name]
                config_path(self.home, participant, record.spec.name).unlink(missing_ok=True)
            write_records(self.home, participant, records)
        return sorted(r.spec.name for r in gone)

    def recover(self, only: Iterable[str] | None = None) -> dict[str, ApplyResult]:
        """For a starting ``mvd serve``: adopt every recorded runtime whose process still runs
        (same pid and start time) and start again each one that should run but does not; of
        the participants in ``only`` when given (the others' records are left alone)."""
        wanted = None if only is None else set(only)
        results: dict[str, ApplyResult] = {}
        for participant in participants(self.home):
            if wanted is not None and participant not in wanted:
                continue
            result = results[participant] = ApplyResult(participant=participant)
            with self._lock(participant):
                records = read_records(self.home, participant)
                for record in records.values():
                    if record.desired != "running":
                        continue
                    if record.pid is not None and self._alive(record)[0]:
                        result.unchanged.append(record.spec.name)
                    else:
                        self._clear(record)
                write_records(self.home, participant, records)
                self._advance(participant, records, result)
        return results

    # ---------------------------------------------------------------- reads

    def participants(self) -> list[str]:
        return participants(self.home)

    def status(self, participant: str) -> list[RuntimeState]:
        """Each recorded runtime's state, checked now: ready (its readiness endpoint answers
        healthy), starting, failed (with the last lines of its log) or stopped. Changes nothing."""
        records = read_records(self.home, participant)
        return [self._state(participant, record, records) for record in records.values()]

    # ---------------------------------------------------------------- internals

    def _one_participant(self, specs: Sequence[RuntimeSpec]) -> str:
        owners = {spec.participant for spec in specs}
        if len(owners) != 1:
            raise MvdError(f"apply takes the runtimes of exactly one participant, got {sorted(owners) or 'none'}")
        names = [check_segment(spec.name, "runtime name") for spec in specs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise MvdError(f"runtime names must be unique within a participant: {', '.join(duplicates)}")
        return check_segment(owners.pop(), "participant")

    def _lock(self, participant: str) -> AbstractContextManager[None]:
        return locked(private_dir(participant_dir(self.home, participant)) / ".lock")

    def _argv(self, spec: RuntimeSpec) -> list[str]:
        if self._command is None:
            self._command = default_command()
        return self._command(spec, config_path(self.home, spec.participant, spec.name))

    @staticmethod
    def _clear(record: RuntimeRecord) -> None:
        """Forget the record's process (stopped, or exited and reaped)."""
        if record.pid is not None and record.start_ticks is not None:
            own = launcher().child(record.pid, record.start_ticks)
            if own is not None and own.poll() is not None:
                launcher().forget(record.pid, record.start_ticks)
        record.pid = record.start_ticks = record.owner_pid = record.owner_start_ticks = None
        record.started_at = None
        record.failure = None

    def _alive(self, record: RuntimeRecord) -> tuple[bool, str]:
        """Whether the recorded process runs; when not, how it ended (as far as is known)."""
        if record.pid is None or record.start_ticks is None:
            return False, "is not running"
        own = launcher().child(record.pid, record.start_ticks)
        if own is not None:
            code = own.poll()  # reaps it when it has exited
            return (True, "") if code is None else (False, describe_exit(code))
        if same_process(record.pid, record.start_ticks) is not None:
            return True, ""  # adopted: started by another (or an earlier) mvd process, still the same process
        if record.owner_pid is not None and same_process(record.owner_pid, record.owner_start_ticks) is None:
            return False, (
                f"is no longer running: the mvd process that started it (pid {record.owner_pid}) "
                "has exited, which stops its runtimes"
            )
        return False, "is no longer running"

    def _ready(self, record: RuntimeRecord) -> tuple[bool, str]:
        if not self._logged_ready(record):
            return False, "starting (its log does not say ready yet)"
        spec = record.spec
        try:
            response = httpx.get(spec.readiness_url, timeout=self.readiness_timeout)
        except httpx.HTTPError:
            return False, "not answering on its readiness endpoint yet"
        try:
            healthy = response.status_code == 200 and response.json().get("isSystemHealthy") is True
        except ValueError:
            healthy = False
        return (True, "ready") if healthy else (False, f"readiness endpoint answers {response.status_code}")

    def _logged_ready(self, record: RuntimeRecord) -> bool:
        """Whether this start of the runtime has logged EDC's ready line."""
        if record.pid is None or record.start_ticks is None:
            return False
        key = (record.pid, record.start_ticks)
        if key not in _logged_ready:
            try:
                with log_path(self.home, record.spec.participant, record.spec.name).open("rb") as f:
                    size = f.seek(0, os.SEEK_END)
                    f.seek(record.log_offset if record.log_offset <= size else 0)
                    if READY_LINE.search(f.read()) is None:
                        return False
            except FileNotFoundError:
                return False
            _logged_ready.add(key)
        return True

    def _state(self, participant: str, record: RuntimeRecord, records: Mapping[str, RuntimeRecord]) -> RuntimeState:
        spec = record.spec
        state = RuntimeState(
            participant=participant,
            name=spec.name,
            kind=spec.kind,
            state="stopped",
            detail="stopped",
            ports={api: endpoint.port for api, endpoint in spec.apis.items()},
            log=f"$MVD_HOME/logs/{participant}/{spec.name}.log",
        )
        if record.desired == "stopped":
            return state
        if record.failure is not None:
            state.state, state.detail = "failed", record.failure
            return state
        if record.pid is None:
            waits = [d for d in spec.start_after if not self._dep_ready(records.get(d))]
            state.state = "starting"
            state.detail = f"waiting for {', '.join(waits)} to be ready" if waits else "about to start"
            return state
        state.pid, state.started_at = record.pid, record.started_at
        alive, ended = self._alive(record)
        if not alive:
            state.state, state.detail = "failed", f"{spec.name} {ended}"
            state.log_tail = self._log_tail(participant, record)
            return state
        ready, detail = self._ready(record)
        state.state, state.detail = ("ready" if ready else "starting"), detail
        return state

    def _dep_ready(self, record: RuntimeRecord | None) -> bool:
        return (
            record is not None
            and record.desired == "running"
            and record.failure is None
            and self._alive(record)[0]
            and self._ready(record)[0]
        )

    def _advance(self, participant: str, records: dict[str, RuntimeRecord], result: ApplyResult) -> None:
        ready: dict[str, bool] = {}
        for name, record in records.items():
            if record.desired != "running" or record.pid is not None or record.failure is not None:
                continue
            unknown = [d for d in record.spec.start_after if d not in records or records[d].desired != "running"]
            if unknown:
                record.failure = f"{name} starts after {', '.join(unknown)}, which this participant does not run"
                result.failed.append(name)
                continue
            for dep in record.spec.start_after:
                if dep not in ready:
                    ready[dep] = self._dep_ready(records[dep])
            if not all(ready[d] for d in record.spec.start_after):
                result.waiting.append(name)
                continue
            if self._start(participant, record):
                result.started.append(name)
            else:
                result.failed.append(name)
            write_records(self.home, participant, records)  # each pid as soon as it exists
        write_records(self.home, participant, records)

    def _start(self, participant: str, record: RuntimeRecord) -> bool:
        spec = record.spec
        busy = [f"{e.port} ({api})" for api, e in spec.apis.items() if not port_allocation.is_free(e.port)]
        if busy:
            record.failure = f"{spec.name} cannot start: port {', '.join(busy)} is in use by another process"
            log.warning("%s/%s: %s", participant, spec.name, record.failure)
            return False
        argv = self._argv(spec)
        record.spec_hash = _spec_hash(spec, argv)
        write_private(config_path(self.home, participant, spec.name), properties(spec).encode("ascii"))
        logfile = private_file(log_path(self.home, participant, spec.name))
        if logfile.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(logfile, logfile.with_name(logfile.name + ".1"))
            private_file(logfile)
        fd = os.open(logfile, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, f"--- mvd: starting {participant}/{spec.name} at {datetime.now(UTC).isoformat()}\n".encode())
            record.log_offset = os.lseek(fd, 0, os.SEEK_END)
            pid, ticks = launcher().spawn(
                argv, cwd=participant_dir(self.home, participant), env=_child_env(), log_fd=fd
            )
        except OSError as exc:
            record.failure = f"{spec.name} cannot start: {exc.strerror or exc}"
            return False
        finally:
            os.close(fd)
        own = proc_stat(os.getpid())
        record.pid, record.start_ticks, record.started_at = pid, ticks, datetime.now(UTC)
        record.owner_pid, record.owner_start_ticks = os.getpid(), own.start_ticks if own else None
        record.failure = None
        log.info("started runtime %s/%s (pid %d)", participant, spec.name, pid)
        return True

    def _log_tail(self, participant: str, record: RuntimeRecord) -> list[str]:
        path = log_path(self.home, participant, record.spec.name)
        try:
            with path.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                start = record.log_offset if record.log_offset <= size else 0
                f.seek(max(start, size - 64 * 1024))
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return text.splitlines()[-LOG_TAIL_LINES:]

    def _terminate(self, records: Sequence[RuntimeRecord]) -> None:
        """SIGTERM each running runtime's process group at once; SIGKILL the groups still alive
        after ``stop_grace``; reap. Exits are watched through pidfds, which also pin each
        process between the identity check and the signal."""
        watched: dict[int, RuntimeRecord] = {}
        for record in records:
            if record.pid is None or record.start_ticks is None:
                continue
            try:
                fd = os.pidfd_open(record.pid)
            except ProcessLookupError:
                continue
            stat = proc_stat(record.pid)
            if stat is None or stat.start_ticks != record.start_ticks:
                os.close(fd)  # the pid names another process now: leave it alone
                continue
            watched[fd] = record
            self._signal(fd, record, signal.SIGTERM)
        try:
            left = _wait_exits(watched, self.stop_grace)
            for fd in left:
                log.warning(
                    "runtime %s/%s ignored SIGTERM for %.0f s: SIGKILL",
                    watched[fd].spec.participant,
                    watched[fd].spec.name,
                    self.stop_grace,
                )
                self._signal(fd, watched[fd], signal.SIGKILL)
            _wait_exits({fd: watched[fd] for fd in left}, 10.0)
            for record in watched.values():
                assert record.pid is not None and record.start_ticks is not None
                own = launcher().child(record.pid, record.start_ticks)
                if own is not None:
                    # the unreaped leader still holds the group id: sweep what the runtime started, then reap
                    _killpg(record.pid, signal.SIGKILL)
                    _wait_group_dead(record.pid, 10.0)
                    own.wait()
                    launcher().forget(record.pid, record.start_ticks)
                log.info("stopped runtime %s/%s (pid %d)", record.spec.participant, record.spec.name, record.pid)
        finally:
            for fd in watched:
                os.close(fd)

    @staticmethod
    def _signal(fd: int, record: RuntimeRecord, sig: signal.Signals) -> None:
        stat = proc_stat(record.pid) if record.pid is not None else None
        if stat is not None and stat.pgrp == record.pid:
            _killpg(record.pid, sig)
        else:
            try:
                signal.pidfd_send_signal(fd, sig)
            except ProcessLookupError:
                pass


def _killpg(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_group_dead(pgid: int, timeout: float) -> None:
    """Until no process of the group ``pgid`` but zombies is left, or ``timeout``: SIGKILL is
    delivered asynchronously, and on a busy machine a member lived on for a moment after killpg."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        members = (proc_stat(int(entry.name)) for entry in Path("/proc").iterdir() if entry.name.isdigit())
        if not any(stat is not None and stat.pgrp == pgid and not stat.zombie for stat in members):
            return
        time.sleep(0.01)


def _wait_exits(watched: Mapping[int, RuntimeRecord], timeout: float) -> list[int]:
    """Wait until every pidfd in ``watched`` reports its process's exit, or ``timeout``;
    returns the pidfds still running."""
    left = set(watched)
    poller = select.poll()
    for fd in left:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    while left:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        for fd, _ in poller.poll(remaining * 1000):
            left.discard(fd)
            poller.unregister(fd)
    return sorted(left)
