"""A reset-shaped workload the crash test runs in a subprocess and SIGKILLs.

``python -m tests.engine.crash_app ENGINE_DB EFFECTS_DB`` starts (or, after a kill, resumes)
the singleton run ``dataspace-demo``: one sub-orchestrator per participant, each a chain of
activities with retries and a durable timer. Every activity execution prints ``start KEY`` /
``done KEY`` on stdout and, in one transaction of a separate effects database, appends to
``runs`` (every execution) and applies its effect idempotently to ``effects`` (primary key =
activity key). The ``verify`` step fails on its first execution, to exercise retries.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df

from mvd_core.engine import Engine

PARTICIPANTS = ["alpha", "beta", "gamma", "delta"]
STEPS = ["ensure_cluster", "ensure_vault", "publish_did", "apply", "verify", "seed", "prune"]
INSTANCE_ID = "dataspace-demo"
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=10, max_number_of_attempts=4)
_out = threading.Lock()


def say(line: str) -> None:
    """One whole line per write: worker threads print concurrently."""
    with _out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def reset(ctx: df.DurableOrchestrationContext):
    participants = ctx.get_input()["participants"]
    ctx.set_custom_status({"phase": "participants"})
    results = yield ctx.task_all(
        [
            ctx.call_sub_orchestrator(
                "reset_participant", {"participant": p}, instance_id=f"{ctx.instance_id}:{p}"
            )
            for p in participants
        ]
    )
    summary = yield ctx.call_activity("step", {"participant": "dataspace", "step": "summary"})
    return {"participants": results, "summary": summary}


def reset_participant(ctx: df.DurableOrchestrationContext):
    participant = ctx.get_input()["participant"]
    done = []
    for step in STEPS:
        if step == "verify":
            yield ctx.create_timer(ctx.current_utc_datetime + timedelta(milliseconds=5))
        yield ctx.call_activity_with_retry(
            "step", RETRY, {"participant": participant, "step": step}
        )
        done.append(step)
    return {"participant": participant, "steps": done}


def make_step(effects_db: Path):
    def step(args: dict[str, str]) -> str:
        key = f"{args['participant']}/{args['step']}"
        say(f"start {key}")
        conn = sqlite3.connect(effects_db, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            runs = conn.execute("SELECT COUNT(*) FROM runs WHERE key = ?", (key,)).fetchone()[0]
            conn.execute("INSERT INTO runs (key) VALUES (?)", (key,))
            if args["step"] == "verify" and runs == 0:
                conn.execute("COMMIT")
                say(f"fail {key}")
                raise ConnectionError(f"{key} not ready yet")
            conn.execute("INSERT OR IGNORE INTO effects (key) VALUES (?)", (key,))
            conn.execute("COMMIT")
        finally:
            conn.close()
        say(f"done {key}")
        return key

    return step


def init_effects(effects_db: Path) -> None:
    conn = sqlite3.connect(effects_db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS runs (n INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL)"
    )
    conn.execute("CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY)")
    conn.commit()
    conn.close()


def main(engine_db: Path, effects_db: Path) -> int:
    init_effects(effects_db)
    engine = Engine(
        engine_db,
        {"reset": reset, "reset_participant": reset_participant},
        {"step": make_step(effects_db)},
        workers=4,
    )
    engine.start()
    _, created = engine.start_singleton("reset", INSTANCE_ID, {"participants": PARTICIPANTS})
    say(f"created {created}")
    status = engine.wait_for_completion(INSTANCE_ID, 120)
    engine.stop()
    say("final " + status.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
