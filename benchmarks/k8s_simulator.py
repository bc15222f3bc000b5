"""Simulated-cluster benchmark: provision, re-apply (no-op) and reset of N participants.

    uv run python -m benchmarks.k8s_simulator [--participants 3 30] [--error-rate 0.2] [--ready-delay 0]

One loopback simulator hosts every participant's cluster (as the embedded default does).
Each participant gets the default blueprint's first participant's rendered objects. Prints
wall time and request counts per phase; with --error-rate, the same with injected 5xx.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from mvd_core.dataspace.loader import load
from mvd_core.dataspace.targets import apply_targets
from mvd_core.k8s import labels as L
from mvd_core.plan.render import render_participant
from mvd_core.platforms.kubernetes import workloads as W
from mvd_core.platforms.kubernetes.client import api_client_for_url
from mvd_core.platforms.kubernetes.simulator import Faults, SimulatorServer
from tests.kubernetes.rollout import settle


def _objects(count: int) -> dict[str, list[dict]]:
    dataspace = apply_targets(load(), "embedded")
    template = dataspace.participants[0]
    out = {}
    for i in range(count):
        p = template.model_copy(update={"id": f"p{i:03d}"})
        dids = {q.id: f"did:web:example.com:{q.id}" for q in [*dataspace.participants, p]}
        out[p.id] = [L.with_spec_hash(o) for o in render_participant(dataspace, p, dids)]
    return out


def _rolled_out(api, objs: list[dict]) -> None:
    status = settle(api, objs, timeout_seconds=600)
    if not status.ready:
        raise SystemExit("rollout did not finish: " + "; ".join(o.describe() for o in status.pending))


def run(participants: int, ready_delay: float, error_rate: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, SimulatorServer(
        Path(tmp) / "sim.db", ready_delay=ready_delay, faults=Faults(error_rate=error_rate, seed=1)
    ) as sim:
        desired = _objects(participants)
        apis = {}
        for pid in desired:
            sim.store.ensure_cluster(pid)
            apis[pid] = api_client_for_url(sim.cluster_url(pid))
        n_objects = sum(len(o) for o in desired.values())

        def phase(name: str, fn) -> None:
            sim.reset_counts()
            start = time.perf_counter()
            for pid, objs in desired.items():
                fn(pid, objs)
            seconds = time.perf_counter() - start
            reqs = sum(sum(sim.requests(pid).values()) for pid in desired)
            writes = sum(sim.writes(pid) for pid in desired)
            faults = sum(sim.requests(pid)["fault"] for pid in desired)
            print(f"{participants:>4} {error_rate:>5.0%} {name:<10} {seconds:>8.2f}s {reqs:>7} requests "
                  f"{writes:>6} writes {faults:>5} faults  ({n_objects} objects)")

        phase("provision", lambda pid, objs: (W.apply(apis[pid], objs),
                                              _rolled_out(apis[pid], objs)))
        phase("re-apply", lambda pid, objs: W.apply(apis[pid], objs))
        phase("reset", lambda pid, objs: (W.apply(apis[pid], objs), W.prune(apis[pid], objs, pid, "mvd"),
                                          W.restart(apis[pid], objs, "bench"),
                                          _rolled_out(apis[pid], objs)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, nargs="+", default=[3, 30])
    parser.add_argument("--ready-delay", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.2)
    args = parser.parse_args()
    print("part.  5xx  phase        wall    requests   writes faults")
    for n in args.participants:
        run(n, args.ready_delay, 0.0)
        if args.error_rate:
            run(n, args.ready_delay, args.error_rate)


if __name__ == "__main__":
    main()
