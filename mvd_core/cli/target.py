"""What `mvd up` and `mvd serve` say about where the participants run: the target, the EDC
runtimes assembled before a provision, the runtimes a start recovered and those ready after."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from mvd_core.cli.console import out
from mvd_core.dataspace import Dataspace
from mvd_core.host.recovery import Recovery
from mvd_core.platforms.processes import find_java
from mvd_core.runtimes import assembly
from mvd_core.runtimes.kinds import EDC_VERSION
from mvd_core.settings import Settings
from mvd_core.workflow import runtimes


def on_processes(dataspace: Dataspace) -> bool:
    return any(runtimes.on_processes(p) for p in dataspace.participants)


def describe(dataspace: Dataspace, targets: str) -> str:
    """Which target runs, in words: ``embedded: EDC 0.15.1 runtimes as local processes``."""
    kinds = sorted({p.cluster.kind for p in dataspace.participants})
    if kinds == ["processes"]:
        return f"{targets}: EDC {EDC_VERSION} runtimes as local processes"
    if kinds == ["simulated"]:
        return f"{targets}: simulated clusters (no EDC runtime runs)"
    clusters = ", ".join("EDC runtimes as local processes" if k == "processes" else f"{k} clusters" for k in kinds)
    return f"{targets}: {clusters}"


def assemble(dataspace: Dataspace) -> None:
    """Before a provision on processes: java found and the runtimes assembled, with Maven's
    progress in the terminal (minutes on the first run, instant from the cache). An
    ``AssemblyError`` is one line naming what is missing."""
    if not on_processes(dataspace):
        return
    java = find_java()
    assembly.assemble(progress=lambda line: out.print(Text(line)))
    out.print(Text(f"EDC {EDC_VERSION} runtimes assembled in {assembly.assembly_dir()}, run by {java}"))


def say_recovery(recovery: Recovery | None) -> None:
    for line in recovery.lines() if recovery is not None else []:
        out.print(Text(line))


def ready_runtimes(dataspace: Dataspace, settings: Settings, participant: str) -> Text | None:
    """The participant's runtimes that answer ready now, and those that do not; None where none
    runs (a simulated cluster)."""
    p = dataspace.participant(participant)
    if not runtimes.on_processes(p):
        return None
    states = runtimes.platform(settings).status(participant)
    ready = [s.name for s in states if s.state == "ready"]
    others: Sequence[str] = [f"{s.name} ({s.state})" for s in states if s.state != "ready"]
    line = Text(f"runtimes ready: {', '.join(ready) or 'none'}", "green" if ready and not others else "")
    if others:
        line.append(f"; not ready: {', '.join(others)}", "red")
    return line
