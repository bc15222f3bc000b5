"""``python -m tests.engine.singleton_app DB`` prints ``ready``, waits for a line on stdin, then
fires five concurrent ``start_singleton`` calls and prints each ``created`` flag."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from mvd_core.engine import Engine
from tests.engine.orchestrators import ORCHESTRATORS, Calls, make_activities


def main(db: Path) -> None:
    engine = Engine(db, ORCHESTRATORS, make_activities(Calls()))
    print("ready", flush=True)
    sys.stdin.readline()
    results: list[bool] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                engine.start_singleton("timer_then_event", "dataspace", {"timer_ms": 60_000})[1]
            )
        )
        for _ in range(5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(" ".join(str(r) for r in results), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
