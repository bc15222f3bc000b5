"""SIGKILL the engine in the middle of a reset, restart it, and check the run completes with
each activity's side effect applied exactly once and no finished activity ever re-run."""

from __future__ import annotations

import itertools
import json
import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.engine.crash_app import INSTANCE_ID, PARTICIPANTS, STEPS

ROOT = Path(__file__).resolve().parents[2]
ALL_KEYS = {f"{p}/{s}" for p in PARTICIPANTS for s in STEPS} | {"dataspace/summary"}
# (line prefix, how many such lines this process prints before its kill): kills land while an
# activity is running ("start") or right after one finished ("done"); about half of the ~33
# executions of a whole reset happen before the last kill.
KILL_POINTS = [("start", 1), ("done", 3), ("start", 4), ("done", 4), ("start", 3)]


def _spawn(tmp: Path, n: int) -> subprocess.Popen[str]:
    stderr = open(tmp / f"engine-{n}.log", "w")  # noqa: SIM115 - closed by the process exiting
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.engine.crash_app",
            str(tmp / "engine.db"),
            str(tmp / "effects.db"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        bufsize=1,
        env={**os.environ, "MVD_LOG_LEVEL": "WARNING"},
    )


def _read_until(proc: subprocess.Popen[str], prefix: str, count: int, timeout: float) -> list[str]:
    """Read the child's stdout until ``count`` lines start with ``prefix`` (or it exits)."""
    lines: list[str] = []
    seen = 0
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while seen < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {count} {prefix!r} lines within {timeout}s: {lines}"
            if not sel.select(remaining):
                continue
            line = proc.stdout.readline()
            if not line:
                return lines  # exited
            lines.append(line.strip())
            seen += line.startswith(prefix + " ")
    return lines


def _runs(tmp: Path) -> Counter[str]:
    conn = sqlite3.connect(tmp / "effects.db")
    try:
        return Counter(k for (k,) in conn.execute("SELECT key FROM runs"))
    finally:
        conn.close()


def _effects(tmp: Path) -> list[str]:
    conn = sqlite3.connect(tmp / "effects.db")
    try:
        return [k for (k,) in conn.execute("SELECT key FROM effects")]
    finally:
        conn.close()


def _completed_in_history(tmp: Path) -> set[str]:
    """Activity keys whose TaskCompleted is in some instance's persisted history."""
    conn = sqlite3.connect(tmp / "engine.db")
    try:
        rows = conn.execute(
            "SELECT instance_id, event FROM history ORDER BY instance_id, seq"
        ).fetchall()
    finally:
        conn.close()
    scheduled: dict[tuple[str, int], str] = {}
    done: set[str] = set()
    for iid, text in rows:
        event = json.loads(text)
        if event["EventType"] == 4:  # TaskScheduled
            args = json.loads(event["Input"])
            scheduled[(iid, event["EventId"])] = f"{args['participant']}/{args['step']}"
        elif event["EventType"] == 5:  # TaskCompleted
            done.add(scheduled[(iid, event["TaskScheduledId"])])
    return done


def test_sigkill_mid_reset_resumes_without_rerunning_finished_activities(tmp_path: Path) -> None:
    snapshots: list[tuple[set[str], Counter[str]]] = []
    for n, (prefix, count) in enumerate(KILL_POINTS):
        proc = _spawn(tmp_path, n)
        lines = _read_until(proc, prefix, count, timeout=60)
        assert not any(line.startswith("final ") for line in lines), (
            f"the run finished before kill {n}"
        )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        snapshots.append((_completed_in_history(tmp_path), _runs(tmp_path)))

    proc = _spawn(tmp_path, len(KILL_POINTS))
    lines = _read_until(proc, "final", 1, timeout=120)
    assert proc.wait(timeout=30) == 0
    assert "created False" in lines  # the restart resumed the run, it did not start another
    final = json.loads(lines[-1].removeprefix("final "))
    assert final["instance_id"] == INSTANCE_ID
    assert final["runtime_status"] == "Completed", final
    assert [r["participant"] for r in final["output"]["participants"]] == PARTICIPANTS
    assert all(r["steps"] == STEPS for r in final["output"]["participants"])

    # Each activity's side effect applied exactly once (effects is keyed, so a second apply would
    # be absorbed by the idempotent activity; the run log below shows how often each ran).
    effects = _effects(tmp_path)
    assert sorted(effects) == sorted(ALL_KEYS)

    runs = _runs(tmp_path)
    # An activity whose completion was in the history at a kill never ran again afterwards.
    for completed, runs_at_kill in snapshots:
        for key in completed:
            assert runs[key] == runs_at_kill[key], f"{key} re-ran after it had completed"
    # Progress was made across kills (the kills did interrupt the work) and every activity ran;
    # verify ran exactly once more than its designed failure unless a kill hit it mid-flight.
    assert 0 < len(snapshots[-1][0]) < len(ALL_KEYS)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(snapshots))
    assert set(runs) == ALL_KEYS
    reruns = {k: c for k, c in runs.items() if c > (2 if k.endswith("/verify") else 1)}
    assert len(reruns) <= len(KILL_POINTS) * 4  # at most the in-flight activities of each kill
