"""EDC runtimes benchmark: `mvd up --once` to a verified dataspace, each runtime's start and RSS.

    uv run python benchmarks/runtimes.py [--cold] [--timeout 900]

Warm (always): the runtimes are assembled already (this script assembles them first, untimed);
`mvd up --once` runs on a fresh state directory with MVD_TARGETS=embedded, and its wall time is
what a user waits for a dataspace whose every runtime is ready and whose verify step made a DSP
catalog request between every ordered pair of participants. ``--cold`` first does the same into
an empty MVD_CACHE_DIR and an empty Maven repository (MAVEN_OPTS=-Dmaven.repo.local=...), so the
figure includes resolving EDC from Maven Central and assembling the runtimes.

Per runtime: time to ready, from the moment mvd started it (its log's start marker) to EDC's own
"Runtime ... ready" line in the same log, and its RSS at the end of the run (sampled every half
second while `mvd up` runs; the runtimes stop with it). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

BASE_RUNTIME = "org.eclipse.edc.boot.system.runtime.BaseRuntime"
STARTED = re.compile(r"^--- mvd: starting \S+ at (\S+)$")
READY = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))? Runtime \S+ ready")


@dataclass
class Outcome:
    case: str
    exit_code: int | None
    wall_s: float
    rss: dict[tuple[str, str], int] = field(default_factory=dict)  # bytes, last sample
    ready_s: dict[tuple[str, str], float | None] = field(default_factory=dict)
    mvd_rss: int = 0
    assembly_s: float | None = None
    output: Path | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def runtime_processes(home: Path) -> dict[int, tuple[str, str]]:
    """pid -> (participant, runtime) of every EDC runtime whose settings file is under ``home``."""
    found = {}
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if BASE_RUNTIME not in cmdline:
            continue
        config = next((Path(a.split("=", 1)[1]) for a in cmdline if a.startswith("-Dedc.fs.config=")), None)
        if config is not None and config.is_relative_to(home):
            found[proc.pid] = (config.parent.name, config.stem)
    return found


def _local_time(stamp: str, fraction: str | None) -> datetime:
    # EDC prints the JVM's local time without a zone; the JVM inherits this process's TZ
    micros = (fraction or "0")[:6].ljust(6, "0")
    return datetime.fromisoformat(f"{stamp}.{micros}").astimezone(UTC)


def time_to_ready(log: Path) -> float | None:
    """Seconds from the last start marker mvd wrote to EDC's ready line after it (None if none)."""
    started: datetime | None = None
    ready: datetime | None = None
    for line in log.read_text("utf-8", "replace").splitlines():
        if match := STARTED.match(line):
            started, ready = datetime.fromisoformat(match.group(1)), None
        elif started is not None and ready is None and (match := READY.search(line)):
            ready = _local_time(match.group(1), match.group(2))
    return (ready - started).total_seconds() if started and ready else None


def up_once(case: str, root: Path, env: dict[str, str], timeout: float) -> Outcome:
    home = root / f"home-{case}"
    env = {**env, "MVD_TARGETS": "embedded", "MVD_HOME": str(home), "MVD_PORT": str(free_port())}
    output = root / f"mvd-up-{case}.log"
    outcome = Outcome(case=case, exit_code=None, wall_s=0.0, output=output)
    with output.open("w") as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "mvd_core", "up", "--once"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        mvd = psutil.Process(proc.pid)
        while proc.poll() is None:
            if time.monotonic() - started > timeout:
                proc.terminate()  # its runtimes die with it
                proc.wait(60)
                break
            try:
                outcome.mvd_rss = mvd.memory_info().rss
            except psutil.NoSuchProcess:
                pass
            for pid, key in runtime_processes(home).items():
                try:
                    outcome.rss[key] = psutil.Process(pid).memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            time.sleep(0.5)
        outcome.wall_s = time.monotonic() - started
        outcome.exit_code = proc.returncode
    for participant_logs in sorted((home / "logs").glob("*")):
        for log in sorted(participant_logs.glob("*.log")):
            outcome.ready_s[(participant_logs.name, log.stem)] = time_to_ready(log)
    return outcome


def assembly_seconds(cache: Path) -> float | None:
    for record in cache.glob("edc-runtimes/*/assembly.json"):
        return float(json.loads(record.read_text())["seconds"])
    return None


def report(outcome: Outcome) -> None:
    mib = 2**20
    status = {0: "verified", None: "timed out"}.get(outcome.exit_code, f"FAILED (exit {outcome.exit_code})")
    total = sum(outcome.rss.values())
    print(
        f"\n{outcome.case}: mvd up --once {outcome.wall_s:.1f} s wall, {status}"
        + (f", of which assembly {outcome.assembly_s:.0f} s" if outcome.assembly_s is not None else "")
    )
    if outcome.exit_code != 0:
        print(f"  output: {outcome.output}")
    print(f"  {'runtime':34} {'ready s':>8} {'RSS MiB':>8}")
    for key in sorted(set(outcome.rss) | set(outcome.ready_s)):
        ready = outcome.ready_s.get(key)
        rss = outcome.rss.get(key)
        print(f"  {'/'.join(key):34} {ready if ready is not None else float('nan'):8.1f} {(rss or 0) / mib:8.0f}")
    readies = [r for r in outcome.ready_s.values() if r is not None]
    print(
        f"  {'total (' + str(len(outcome.rss)) + ' runtimes)':34} {max(readies, default=float('nan')):8.1f} "
        f"{total / mib:8.0f}   (ready: the slowest; RSS: the sum = {total / 2**30:.2f} GiB)"
    )
    print(f"  {'mvd up itself':34} {'':8} {outcome.mvd_rss / mib:8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also time a first assembly from Maven Central")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a run is stopped")
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at start; "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB memory"
    )
    root = Path(tempfile.mkdtemp(prefix="mvd-bench-runtimes-"))
    outcomes: list[Outcome] = []
    try:
        if args.cold:
            cache, repo = root / "cache", root / "m2"
            env = {
                **os.environ,
                "MVD_CACHE_DIR": str(cache),
                "MAVEN_OPTS": f"{os.environ.get('MAVEN_OPTS', '')} -Dmaven.repo.local={repo}".strip(),
            }
            cold = up_once("cold", root, env, args.timeout)
            cold.assembly_s = assembly_seconds(cache)
            outcomes.append(cold)
        from mvd_core.runtimes.assembly import assemble

        assemble(progress=print)  # untimed: the warm case starts from an assembled cache
        outcomes.append(up_once("warm", root, dict(os.environ), args.timeout))
        for outcome in outcomes:
            report(outcome)
    finally:
        if outcomes and all(o.exit_code == 0 for o in outcomes):
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"\nkept {root} (state directories and mvd's output) to look into")


if __name__ == "__main__":
    main()
