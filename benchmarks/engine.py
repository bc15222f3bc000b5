"""Engine benchmark: activities per second, and wall time / peak RSS of a reset.

    uv run python benchmarks/engine.py [--sequential 100] [--fan-out 1000] [--workers 4]

Every case runs in a fresh subprocess so its peak RSS is its own. Prints a table; the README
quotes it next to Durable Functions' published figures (about 5 sequential and 100 fan-out
activities per second per instance).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

# Durable Functions' published per-instance figures the README compares against.
DURABLE_FUNCTIONS_FIGURES = {"sequential": 5.0, "fan-out": 100.0}
RESET_SIZES = (3, 30, 300)


class Figures(BaseModel):
    case: str
    size: int
    seconds: float
    activities: int
    peak_rss_mb: float
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.activities / self.seconds if self.seconds else 0.0


# -- activity throughput ---------------------------------------------------------------------


def _noop(_: Any) -> None:
    return None


def _sequential(ctx: Any):
    for i in range(ctx.get_input()["n"]):
        yield ctx.call_activity("noop", i)
    return ctx.get_input()["n"]


def _fan_out(ctx: Any):
    results = yield ctx.task_all(
        [ctx.call_activity("noop", i) for i in range(ctx.get_input()["n"])]
    )
    return len(results)


def _run_activities(orchestrator: str, n: int, workers: int) -> tuple[float, int]:
    from mvd_core.engine import Engine, RuntimeStatus

    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(
            Path(tmp) / "bench.db",
            {"sequential": _sequential, "fan_out": _fan_out},
            {"noop": _noop},
            workers=workers,
        )
        engine.start()
        try:
            started = time.perf_counter()
            iid = engine.start_new(orchestrator, {"n": n})
            status = engine.wait_for_completion(iid, timeout=600)
            elapsed = time.perf_counter() - started
        finally:
            engine.stop()
    if status.runtime_status is not RuntimeStatus.COMPLETED or status.output != n:
        raise SystemExit(f"{orchestrator} did not complete: {status.runtime_status} {status.error}")
    return elapsed, n


def measure_sequential(n: int, workers: int) -> Figures:
    seconds, count = _run_activities("sequential", n, workers)
    return Figures(
        case="sequential", size=n, seconds=seconds, activities=count, peak_rss_mb=_peak_rss_mb()
    )


def measure_fan_out(n: int, workers: int) -> Figures:
    seconds, count = _run_activities("fan_out", n, workers)
    return Figures(
        case="fan-out", size=n, seconds=seconds, activities=count, peak_rss_mb=_peak_rss_mb()
    )


# -- reset of N synthetic participants ------------------------------------------------------


def _synthetic_blueprint(n: int) -> str:
    """``n`` participants cycling through the seed's three shapes (ids stay DNS labels)."""
    import yaml

    from mvd_core.dataspace import load

    seed = load()
    participants = []
    for i in range(n):
        shape = seed.participants[i % len(seed.participants)]
        data = shape.model_dump(mode="json", by_alias=True, exclude_none=True)
        data.update(id=f"p{i:04d}-{shape.id}"[:63], displayName=f"{shape.display_name} #{i}")
        participants.append(data)
    return yaml.safe_dump({"apiVersion": "mvd/v1", "kind": "Dataspace", "name": "bench",
                           "participants": participants}, sort_keys=False)


def measure_reset(n: int, workers: int) -> Figures:
    """Wall time of a reset of ``n`` synthetic participants on the embedded targets
    (simulated clusters with zero readiness delay, file vaults, local DIDs served over HTTP),
    after a provision that is not timed. Peak RSS covers the whole case."""
    import json
    import os
    import socket
    import sqlite3

    from azure.durable_functions.models.history import HistoryEventType

    home = Path(tempfile.mkdtemp(prefix="mvd-bench-reset-"))
    blueprint = home / "dataspace.yaml"
    blueprint.write_text(_synthetic_blueprint(n), "utf-8")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ.update(MVD_HOME=str(home), MVD_DATASPACE_FILE=str(blueprint), MVD_PORT=str(port),
                      MVD_SIM_READY_DELAY="0", MVD_TARGETS="embedded", MVD_API_TOKEN="bench-token-0123456789")

    from mvd_core.host.local import LocalHost
    from mvd_core.server import Server
    from mvd_core.settings import get_settings

    host = LocalHost(get_settings(), workers=workers)
    server = Server(host, "bench")
    server.start()
    host.start()
    try:
        provision = host.submit("provision", "cli")
        run = host.wait(provision.run_id, timeout=3600)
        if run is None or run.status != "completed":
            return Figures(case="reset", size=n, seconds=0, activities=0, peak_rss_mb=_peak_rss_mb(),
                           note="provision failed")
        started = time.perf_counter()
        reset = host.submit("reset", "cli")
        run = host.wait(reset.run_id, timeout=3600)
        seconds = time.perf_counter() - started
    finally:
        host.stop()
        server.stop()
    with sqlite3.connect(home / "engine.db") as db:
        events = db.execute("SELECT event FROM history WHERE instance_id LIKE ?", (f"{reset.run_id}%",)).fetchall()
    activities = sum(1 for (e,) in events if json.loads(e)["EventType"] == HistoryEventType.TASK_COMPLETED)
    note = "" if run is not None and run.status == "completed" else f"reset {run.status if run else 'lost'}"
    return Figures(case="reset", size=n, seconds=seconds, activities=activities, peak_rss_mb=_peak_rss_mb(), note=note)


# -- harness ----------------------------------------------------------------------------------

CASES: dict[str, Callable[[int, int], Figures]] = {
    "sequential": measure_sequential,
    "fan-out": measure_fan_out,
    "reset": measure_reset,
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _run_case_in_subprocess(case: str, size: int, workers: int) -> Figures:
    script = Path(__file__).resolve()
    out = subprocess.run(
        [sys.executable, str(script), "--one", case, str(size), "--workers", str(workers)],
        check=True,
        capture_output=True,
        text=True,
        cwd=script.parents[1],
    ).stdout
    return Figures.model_validate_json(out.strip().splitlines()[-1])


def _table(rows: list[Figures]) -> str:
    head = f"| {'case':<10} | {'N':>5} | {'wall s':>8} | {'activities':>10} | {'act/s':>8} | {'peak RSS MB':>11} | {'Durable Functions act/s':>23} |"
    lines = [head, "|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|"]
    for r in rows:
        df_figure = DURABLE_FUNCTIONS_FIGURES.get(r.case)
        if r.note:
            lines.append(
                f"| {r.case:<10} | {r.size:>5} | {r.note:>8} | {'':>10} | {'':>8} | {'':>11} | {'':>23} |"
            )
            continue
        lines.append(
            f"| {r.case:<10} | {r.size:>5} | {r.seconds:>8.2f} | {r.activities:>10} | {r.per_second:>8.1f} |"
            f" {r.peak_rss_mb:>11.1f} | {'' if df_figure is None else f'{df_figure:.0f}':>23} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sequential", type=int, default=100, help="activities in the sequential chain"
    )
    parser.add_argument("--fan-out", type=int, default=1000, help="activities in the fan-out")
    parser.add_argument("--workers", type=int, default=4, help="engine worker threads")
    parser.add_argument("--reset-sizes", type=int, nargs="*", default=list(RESET_SIZES),
                        help="participant counts for the reset case")
    parser.add_argument("--one", nargs=2, metavar=("CASE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        case, size = args.one
        print(CASES[case](int(size), args.workers).model_dump_json())
        return 0
    plan = [("sequential", args.sequential), ("fan-out", args.fan_out)] + [
        ("reset", n) for n in args.reset_sizes
    ]
    rows = [_run_case_in_subprocess(case, size, args.workers) for case, size in plan]
    print(_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
