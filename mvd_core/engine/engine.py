"""The local host for the Durable Functions orchestrators.

One dispatcher thread replays orchestrators (through the SDK's own replay code, see
``replay.py``) whenever an instance has pending events, batching all of an instance's pending
events into one replay; a pool of worker threads runs activities from the persistent work
queue; a timer thread fires durable timers at their due time. Everything an episode decides
(history events, work items, timers, child instances, status) is committed in one SQLite
transaction, and an activity's result is committed together with the removal of its work
item, so a kill at any point leaves either the state before or after each step.

Guarantee: activities whose completion is in the history are never run again; an activity
that was running when the process died is run again on the next start (at-least-once, as
in Durable Functions), so activities must be idempotent.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TextIO

from mvd_core import sqlite
from mvd_core.engine import history as h
from mvd_core.engine.models import TERMINAL_STATUSES, InstanceStatus, RuntimeStatus
from mvd_core.engine.replay import (
    HistoryCache,
    OrchestratorFn,
    ReplayResult,
    ScheduleActivity,
    ScheduleSubOrchestration,
    ScheduleTimer,
    UnsupportedAction,
    replay,
)
from mvd_core.engine.store import DAMAGED_CONSEQUENCE, InstanceRow, Store, WorkItem
from mvd_core.errors import Conflict, MvdError, NotFound
from mvd_core.logs import get_logger, log_context, redact
from mvd_core.state import private_file

log = get_logger(__name__)

ActivityFn = Callable[[Any], Any]

# How long an idle dispatcher waits before looking for work another process may have queued
# (start_new/raise_event from a CLI process); in-process writers wake it at once.
_BATCH_WINDOW_SECONDS = 0.003
_BATCH_WINDOW_MAX = 0.05
_IDLE_RESCAN_SECONDS = 0.5
_COMPLETIONS = {
    int(h.T.TASK_COMPLETED): "TaskScheduledId",
    int(h.T.TASK_FAILED): "TaskScheduledId",
    int(h.T.SUB_ORCHESTRATION_INSTANCE_COMPLETED): "TaskScheduledId",
    int(h.T.SUB_ORCHESTRATION_INSTANCE_FAILED): "TaskScheduledId",
    int(h.T.TIMER_FIRED): "TimerId",
}


class Engine:
    """Hosts orchestrators and activities over a SQLite database (see module docstring)."""

    def __init__(
        self,
        db_path: Path,
        orchestrators: dict[str, OrchestratorFn],
        activities: dict[str, ActivityFn],
        *,
        workers: int = 4,
    ) -> None:
        if workers < 1:
            raise MvdError(f"the engine needs at least one worker, got workers={workers}")
        self.db_path = Path(db_path)
        self._store = Store(self.db_path)
        self._orchestrators = dict(orchestrators)
        self._activities = dict(activities)
        self._worker_count = workers
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock_file: TextIO | None = None
        self._dispatch_cond = threading.Condition()
        self._dispatch_flag = False
        self._timer_cond = threading.Condition()
        self._timer_flag = False
        self._status_cond = threading.Condition()
        self._status_version = 0
        self._history_cache = HistoryCache()
        # The last replay: how long it took and how many events it consumed (sizes the batch window).
        self._episode_seconds = 0.0
        self._episode_batch = 0

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return bool(self._threads)

    def start(self) -> None:
        """Start the dispatcher, timer and worker threads, resuming whatever a crash left."""
        if self._threads:
            return
        self._acquire_lock()
        self._stopping.clear()
        for item_id in self._store.release_claims():
            self._queue.put(item_id)
        self._threads = [
            threading.Thread(target=self._dispatch_loop, name="engine-dispatcher", daemon=True),
            threading.Thread(target=self._timer_loop, name="engine-timers", daemon=True),
        ] + [
            threading.Thread(target=self._worker_loop, name=f"engine-worker-{i}", daemon=True)
            for i in range(self._worker_count)
        ]
        for thread in self._threads:
            thread.start()
        self._kick_dispatcher()
        log.info("engine started on %s with %d workers", self.db_path, self._worker_count)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the threads; an activity still running after ``timeout`` is re-run next start."""
        if not self._threads:
            return
        self._stopping.set()
        for _ in range(self._worker_count):
            self._queue.put(None)
        self._kick_dispatcher()
        with self._timer_cond:
            self._timer_cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        self._release_lock()
        log.info("engine stopped")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _acquire_lock(self) -> None:
        lock_path = private_file(Path(f"{self.db_path}.lock"))
        lock_file = open(lock_path, "a+")  # noqa: SIM115 - held for the engine's lifetime
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise Conflict(f"another engine is already running on {self.db_path}") from None
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(str(os.getpid()))
        lock_file.flush()
        self._lock_file = lock_file

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    # -- client API ------------------------------------------------------------------------

    def start_new(self, name: str, input: Any = None, instance_id: str | None = None) -> str:
        """Start an orchestration; an existing id is reused only when its run has ended."""
        iid, created = self._create(name, instance_id or uuid.uuid4().hex, input)
        if not created:
            raise Conflict(f"orchestration instance {iid!r} is already running")
        return iid

    def start_singleton(self, name: str, instance_id: str, input: Any = None) -> tuple[str, bool]:
        """Start ``instance_id`` unless a run with that id is pending or running.

        Returns ``(instance_id, created)``. The check and the insert happen in one
        ``BEGIN IMMEDIATE`` transaction, so concurrent callers (threads or processes) get
        exactly one ``created=True``.
        """
        return self._create(name, instance_id, input)

    def _create(self, name: str, instance_id: str, input: Any) -> tuple[str, bool]:
        if name not in self._orchestrators:
            raise NotFound(f"no orchestrator named {name!r} is registered")
        if not instance_id or len(instance_id) > 256:
            raise MvdError("an instance id must be 1 to 256 characters")
        input_json = _dumps(input, f"input of {name!r}")
        now = h.iso(h.utcnow())
        with self._store.tx() as conn:
            existing = self._store.get_instance(conn, instance_id)
            if existing is not None and existing.status not in TERMINAL_STATUSES:
                return instance_id, False
            self._store.create_instance(
                conn,
                instance_id=instance_id,
                name=name,
                input_json=input_json,
                now=now,
                start_event=h.execution_started(name, input_json),
            )
        with log_context(run_id=instance_id):
            log.info("orchestration %s started", name)
        self._kick_dispatcher()
        self._notify_status()
        return instance_id, True

    def get_status(self, instance_id: str, *, show_history: bool = False) -> InstanceStatus | None:
        with self._store.read() as conn:
            row = self._store.get_instance(conn, instance_id)
            if row is None:
                return None
            events = self._store.history(conn, instance_id) if show_history else None
        return _status(row, events)

    def list_instances(self, *, name: str | None = None, limit: int = 50) -> list[InstanceStatus]:
        with self._store.read() as conn:
            rows = self._store.list_instances(conn, name, limit)
        return [_status(r, None) for r in rows]

    def wait_for_completion(self, instance_id: str, timeout: float) -> InstanceStatus:
        """Block until the instance ends or ``timeout`` passes; returns its status either way."""
        return self.wait_until(instance_id, lambda status: status.is_terminal, timeout)

    def wait_until(
        self, instance_id: str, predicate: Callable[[InstanceStatus], bool], timeout: float
    ) -> InstanceStatus:
        """Block until ``predicate(status)`` holds (e.g. a custom status shows up), the instance
        ends, or ``timeout`` passes; returns the last status seen. Woken by the engine's own
        commits, no polling."""
        deadline = time.monotonic() + timeout
        while True:
            with self._status_cond:
                seen = self._status_version
            status = self.get_status(instance_id)
            if status is None:
                raise NotFound(f"no orchestration instance {instance_id!r}")
            remaining = deadline - time.monotonic()
            if predicate(status) or status.is_terminal or remaining <= 0:
                return status
            with self._status_cond:
                if self._status_version == seen:
                    # The cap only matters when another process runs the engine.
                    self._status_cond.wait(min(remaining, 1.0))

    def terminate(self, instance_id: str, reason: str) -> None:
        """End a run now (and its running sub-orchestrations); a no-op if it already ended."""
        with self._store.tx() as conn:
            row = self._store.get_instance(conn, instance_id)
            if row is None:
                raise NotFound(f"no orchestration instance {instance_id!r}")
            if row.status in TERMINAL_STATUSES:
                return
            self._terminate_in_tx(conn, row, reason, h.iso(h.utcnow()))
        self._kick_dispatcher()
        self._notify_status()

    def raise_event(self, instance_id: str, name: str, data: Any = None) -> None:
        """Deliver an external event to a pending or running instance."""
        payload = _dumps(data, f"event {name!r}")
        with self._store.tx() as conn:
            row = self._store.get_instance(conn, instance_id)
            if row is None:
                raise NotFound(f"no orchestration instance {instance_id!r}")
            if row.status in TERMINAL_STATUSES:
                raise Conflict(f"orchestration instance {instance_id!r} has already ended ({row.status})")
            self._store.push_inbox(conn, instance_id, row.generation, h.event_raised(name, payload))
        self._kick_dispatcher()

    def run_until_idle(self, timeout: float) -> bool:
        """Drive the engine until no events, activities or timers are pending; False on timeout.

        Starts the threads for the duration of the call if the engine is not running.
        """
        started_here = not self.running
        if started_here:
            self.start()
        deadline = time.monotonic() + timeout
        try:
            while True:
                with self._status_cond:
                    seen = self._status_version
                if self._store.pending_counts() == (0, 0, 0):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                with self._status_cond:
                    if self._status_version == seen:
                        self._status_cond.wait(min(remaining, 1.0))
        finally:
            if started_here:
                self.stop()

    # -- dispatcher ------------------------------------------------------------------------

    def _kick_dispatcher(self) -> None:
        with self._dispatch_cond:
            self._dispatch_flag = True
            self._dispatch_cond.notify()

    def _notify_status(self) -> None:
        with self._status_cond:
            self._status_version += 1
            self._status_cond.notify_all()

    def _dispatch_loop(self) -> None:
        while not self._stopping.is_set():
            with self._dispatch_cond:
                self._dispatch_flag = False
            try:
                with self._store.read() as conn:
                    pending = self._store.instances_with_inbox(conn)
                if pending:
                    # A window lets results that arrive together share one replay: every replay
                    # re-runs the orchestrator from the start, so a fan-out replayed once per
                    # result would cost O(n^2). While results come in bunches, the window
                    # grows to what the last replay cost (capped), so a large fan-out waits
                    # for more results per replay; a sequential chain keeps the short one.
                    window = _BATCH_WINDOW_SECONDS
                    if self._episode_batch > 1:  # results are arriving together: a fan-out
                        window = min(max(window, self._episode_seconds), _BATCH_WINDOW_MAX)
                    self._stopping.wait(window)
                for instance_id in pending:
                    if self._stopping.is_set():
                        return
                    began = time.perf_counter()
                    self._run_episode(instance_id)
                    self._episode_seconds = time.perf_counter() - began
            except Exception:  # a bug must not kill the dispatcher; the work stays queued
                log.exception("dispatcher error")
                pending = []
            if pending:
                continue
            with self._dispatch_cond:
                if not self._dispatch_flag and not self._stopping.is_set():
                    self._dispatch_cond.wait(_IDLE_RESCAN_SECONDS)

    def _run_episode(self, instance_id: str) -> None:
        store = self._store
        played: list[Any] = []
        with store.read() as conn:
            row = store.get_instance(conn, instance_id)
            inbox = store.inbox(conn, instance_id)
            past: list[h.Event] = []
            if row is not None and row.status not in TERMINAL_STATUSES:
                past, played = self._history_cache.load(
                    (instance_id, row.generation), lambda n: store.history(conn, instance_id, n)
                )
        consumed = [r.id for r in inbox]
        self._episode_batch = len(consumed)
        if row is None or row.status in TERMINAL_STATUSES:
            with store.tx() as conn:
                store.delete_inbox(conn, consumed)
            return
        completed = {e.get(_COMPLETIONS[e["EventType"]]) for e in past if e["EventType"] in _COMPLETIONS}
        fresh: list[h.Event] = []
        for r in inbox:
            key = _COMPLETIONS.get(r.event["EventType"])
            if r.generation != row.generation or (key and r.event.get(key) in completed):
                continue  # a stale or duplicate delivery
            if key:
                completed.add(r.event.get(key))
            fresh.append(r.event)
        starts = [e for e in fresh if e["EventType"] == h.EXECUTION_STARTED]
        if not fresh or (not past and not starts):
            with store.tx() as conn:
                store.delete_inbox(conn, consumed)
            return
        new = [
            h.orchestrator_started(h.utcnow()),
            *starts,
            *(e for e in fresh if e["EventType"] != h.EXECUTION_STARTED),
        ]
        with log_context(run_id=instance_id):
            result = self._replay(row, past, played, new)
            self._commit_episode(row, len(past), new, consumed, result)

    def _replay(self, row: InstanceRow, past: list[h.Event], played: list[Any], new: list[h.Event]) -> ReplayResult:
        fn = self._orchestrators.get(row.name)
        if fn is None:
            return ReplayResult(done=True, failed=True, error=f"no orchestrator named {row.name!r} is registered")
        try:
            return replay(
                fn,
                instance_id=row.instance_id,
                parent_instance_id=row.parent_instance_id,
                input_json=row.input,
                past=past,
                new=new,
                played=played,
            )
        except UnsupportedAction as exc:
            return ReplayResult(done=True, failed=True, error=str(exc))
        except Exception as exc:  # the SDK choked on the history: fail the run, not the engine
            log.exception("replay failed")
            return ReplayResult(done=True, failed=True, error=f"replay failed: {type(exc).__name__}: {exc}")

    def _commit_episode(
        self,
        row: InstanceRow,
        seq: int,
        new: list[h.Event],
        consumed: list[int],
        result: ReplayResult,
    ) -> None:
        store = self._store
        now = h.utcnow()
        now_iso = h.iso(now)
        work_items: list[int] = []
        timers = False
        with store.tx() as conn:
            current = store.get_instance(conn, row.instance_id)
            if (
                current is None
                or current.generation != row.generation
                or current.status in TERMINAL_STATUSES
                or store.history_length(conn, row.instance_id) != seq
            ):
                # Terminated or restarted while we replayed: what we read is void.
                store.delete_inbox(conn, consumed)
                self._history_cache.forget((row.instance_id, row.generation))
                return
            events = list(new)
            for d in result.decisions:
                if isinstance(d, ScheduleActivity):
                    events.append(h.task_scheduled(d.event_id, d.name, d.input_json))
                    work_items.append(
                        store.add_work_item(conn, row.instance_id, row.generation, d.event_id, d.name, d.input_json)
                    )
                elif isinstance(d, ScheduleTimer):
                    fire_at = d.fire_at if d.fire_at.tzinfo else d.fire_at.replace(tzinfo=UTC)
                    events.append(h.timer_created(d.event_id, fire_at))
                    store.add_timer(
                        conn,
                        row.instance_id,
                        row.generation,
                        d.event_id,
                        fire_at.timestamp(),
                        h.iso(fire_at),
                    )
                    timers = True
                elif isinstance(d, ScheduleSubOrchestration):
                    child_id = d.instance_id or f"{row.instance_id}:{d.event_id:04d}"
                    events.append(h.sub_orchestration_created(d.event_id, d.name, child_id, d.input_json))
                    self._create_child(conn, row, d, child_id, now_iso)
            custom_status = None if result.custom_status is None else json.dumps(result.custom_status)
            if result.continue_as_new:
                self._continue_as_new(conn, row, result, custom_status, now_iso)
            elif result.done:
                output = None if result.failed else json.dumps(result.output)
                error = redact(result.error) if result.error else None
                events.append(h.execution_completed(output, result.failed, error))
                events.append(h.orchestrator_completed())
                store.append_history(conn, row.instance_id, seq, events)
                store.drop_pending_work(conn, row.instance_id)
                status = RuntimeStatus.FAILED if result.failed else RuntimeStatus.COMPLETED
                store.update_instance(
                    conn,
                    row.instance_id,
                    now_iso,
                    status=status.value,
                    output=output,
                    error=error,
                    custom_status=custom_status,
                )
                self._notify_parent(conn, row, output, error)
                log.info(
                    "orchestration %s %s%s",
                    row.name,
                    status.value.lower(),
                    f": {error}" if error else "",
                )
            else:
                events.append(h.orchestrator_completed())
                store.append_history(conn, row.instance_id, seq, events)
                store.delete_inbox(conn, consumed)
                store.update_instance(
                    conn,
                    row.instance_id,
                    now_iso,
                    status=RuntimeStatus.RUNNING.value,
                    custom_status=custom_status,
                )
        for item_id in work_items:
            self._queue.put(item_id)
        if timers:
            with self._timer_cond:
                self._timer_flag = True
                self._timer_cond.notify()
        self._notify_status()

    def _continue_as_new(
        self,
        conn: sqlite3.Connection,
        row: InstanceRow,
        result: ReplayResult,
        custom_status: str | None,
        now_iso: str,
    ) -> None:
        store = self._store
        store.purge_run(conn, row.instance_id)
        generation = row.generation + 1
        store.update_instance(
            conn,
            row.instance_id,
            now_iso,
            status=RuntimeStatus.RUNNING.value,
            input=result.new_input_json,
            custom_status=custom_status,
            generation=generation,
        )
        store.push_inbox(conn, row.instance_id, generation, h.execution_started(row.name, result.new_input_json))

    def _create_child(
        self,
        conn: sqlite3.Connection,
        parent: InstanceRow,
        d: ScheduleSubOrchestration,
        child_id: str,
        now_iso: str,
    ) -> None:
        store = self._store
        existing = store.get_instance(conn, child_id)
        if existing is not None and existing.status not in TERMINAL_STATUSES:
            # An orphan of an earlier run of the parent: the new parent run owns the id now.
            self._terminate_in_tx(
                conn,
                existing,
                f"replaced by a new run of {parent.instance_id}",
                now_iso,
                notify_parent=False,
            )
        # An unknown orchestrator name is created anyway: the child fails through the normal
        # path and the parent sees a sub-orchestration failure, as in Durable Functions.
        store.create_instance(
            conn,
            instance_id=child_id,
            name=d.name,
            input_json=d.input_json,
            now=now_iso,
            start_event=h.execution_started(d.name, d.input_json),
            parent=(parent.instance_id, d.event_id, parent.generation),
        )

    def _notify_parent(self, conn: sqlite3.Connection, row: InstanceRow, output: str | None, error: str | None) -> None:
        if row.parent_instance_id is None or row.parent_event_id is None:
            return
        parent = self._store.get_instance(conn, row.parent_instance_id)
        if parent is None or parent.status in TERMINAL_STATUSES or parent.generation != row.parent_generation:
            return
        if error is None:
            event = h.sub_orchestration_completed(row.parent_event_id, output)
        else:
            event = h.sub_orchestration_failed(row.parent_event_id, error, f"in sub-orchestration '{row.instance_id}'")
        self._store.push_inbox(conn, parent.instance_id, parent.generation, event)

    def _terminate_in_tx(
        self, conn: sqlite3.Connection, row: InstanceRow, reason: str, now_iso: str, *, notify_parent: bool = True
    ) -> None:
        store = self._store
        reason = redact(reason)
        store.append_history(
            conn,
            row.instance_id,
            store.history_length(conn, row.instance_id),
            [h.execution_terminated(reason)],
        )
        store.drop_pending_work(conn, row.instance_id)
        store.update_instance(
            conn,
            row.instance_id,
            now_iso,
            status=RuntimeStatus.TERMINATED.value,
            output=json.dumps(reason),
            error=f"terminated: {reason}",
        )
        for child in store.children(conn, row.instance_id, row.generation):
            if child.status not in TERMINAL_STATUSES:
                self._terminate_in_tx(
                    conn,
                    child,
                    f"parent {row.instance_id} terminated: {reason}",
                    now_iso,
                    notify_parent=False,
                )
        if notify_parent:
            self._notify_parent(conn, row, None, f"terminated: {reason}")
        with log_context(run_id=row.instance_id):
            log.info("orchestration %s terminated: %s", row.name, reason)

    # -- activities ------------------------------------------------------------------------

    def _worker_loop(self) -> None:
        while True:
            item_id = self._queue.get()
            if item_id is None or self._stopping.is_set():
                return
            try:
                item = self._store.claim_work_item(item_id)
                if item is None:
                    continue
                event = self._run_activity(item)
                if self._store.complete_work_item(item, event):
                    self._kick_dispatcher()
                    self._notify_status()
            except Exception:  # storage trouble: the item stays claimed, reruns on next start
                log.exception("worker error on work item %s", item_id)

    def _run_activity(self, item: WorkItem) -> h.Event:
        with log_context(run_id=item.instance_id, step=item.name):
            fn = self._activities.get(item.name)
            if fn is None:
                return h.task_failed(item.event_id, f"no activity named {item.name!r} is registered", "")
            try:
                result = fn(None if item.input is None else json.loads(item.input))
                result_json = json.dumps(result)
            except Exception as exc:  # noqa: BLE001 - any activity error becomes TaskFailed
                reason = redact(f"{type(exc).__name__}: {exc}")
                log.warning(
                    "activity %s failed (dispatch %d of this work item): %s",
                    item.name,
                    item.dispatch_count,
                    reason,
                )
                return h.task_failed(item.event_id, reason, f"in activity '{item.name}'")
            return h.task_completed(item.event_id, result_json)

    # -- timers ----------------------------------------------------------------------------

    def _timer_loop(self) -> None:
        while not self._stopping.is_set():
            with self._timer_cond:
                self._timer_flag = False
            try:
                if self._store.fire_due_timers(time.time(), h.timer_fired):
                    self._kick_dispatcher()
                    self._notify_status()
                next_at = self._store.next_timer_at()
            except Exception:
                log.exception("timer error")
                next_at = time.time() + 1.0
            with self._timer_cond:
                if self._timer_flag or self._stopping.is_set():
                    continue
                self._timer_cond.wait(None if next_at is None else max(0.0, next_at - time.time()))


def _dumps(value: Any, what: str) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise MvdError(f"{what} is not JSON-serialisable: {exc}") from None


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def read_status(db_path: Path, instance_id: str) -> InstanceStatus | None:
    """An instance's status read from an engine database with no engine: a read-only
    connection that creates nothing and takes no lock, beside a running engine or none."""
    db_path = Path(db_path)
    if not db_path.exists():
        return None
    conn = sqlite.connect_readonly(db_path, consequence=DAMAGED_CONSEQUENCE)
    try:
        row = Store.get_instance(conn, instance_id)
    finally:
        conn.close()
    return _status(row, None) if row is not None else None


def _status(row: InstanceRow, events: list[h.Event] | None) -> InstanceStatus:
    return InstanceStatus(
        instance_id=row.instance_id,
        name=row.name,
        runtime_status=RuntimeStatus(row.status),
        input=_loads(row.input),
        output=_loads(row.output),
        custom_status=_loads(row.custom_status),
        created_at=_parse_ts(row.created_at),
        last_updated_at=_parse_ts(row.updated_at),
        error=row.error,
        parent_instance_id=row.parent_instance_id,
        history=events,
    )
