"""A starting `mvd serve` or `mvd up` brings back the runtimes an earlier process ran.

Runtimes die with the ``mvd`` process that started them (``platforms/processes``), so after a
restart of the control plane they are usually gone: ``ProcessPlatform.recover`` adopts those
still running and starts the others on their recorded ports. A restarted runtime has lost its
in-memory state (an identity hub its participant context and credentials), which only a
provision re-creates: when any runtime had to be started and no run is going (a resumed run
converges them itself), a provision run is submitted with source ``recovery``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from mvd_core.errors import Conflict, MvdError
from mvd_core.host.local import LocalHost
from mvd_core.logs import get_logger
from mvd_core.platforms.processes import ProcessPlatform
from mvd_core.runs import RunAccepted
from mvd_core.workflow import runtimes

log = get_logger(__name__)


class Recovery(BaseModel):
    """What a start found of the runtimes, participant -> runtime names."""

    adopted: dict[str, list[str]] = Field(default_factory=dict)
    # started again, or waiting for those to be ready (the run's rollout step starts them)
    restarted: dict[str, list[str]] = Field(default_factory=dict)
    failed: dict[str, list[str]] = Field(default_factory=dict)
    error: str | None = None  # recover() itself failed (e.g. java is gone)
    run: RunAccepted | None = None  # the provision run submitted to re-create their state
    run_going: str | None = None  # or the run already going, which converges them itself

    @property
    def needs_provision(self) -> bool:
        return bool(self.restarted or self.failed)

    def lines(self) -> list[str]:
        """The console's account of it: nothing when no runtime was recorded."""
        said: list[str] = []
        if self.error:
            said.append(f"runtimes not recovered: {self.error}")
        for label, found in (
            ("adopted (still running)", self.adopted),
            ("restarted", self.restarted),
            ("failed to start", self.failed),
        ):
            for pid, names in found.items():
                said.append(f"runtimes of {pid} {label}: {', '.join(names)}")
        if self.run is not None:
            how = "joined the provision run going" if self.run.coalesced else "started a provision run"
            said.append(f"recovery: {how}, {self.run.run_id}, to re-create their identity contexts and credentials")
        elif self.run_going is not None:
            said.append(f"recovery: run {self.run_going} is going; it converges the restarted runtimes")
        return said


def restart_runtimes(host: LocalHost, platform: ProcessPlatform | None = None) -> Recovery:
    """Adopt or start again the recorded runtimes of the dataspace's participants on processes
    (a participant's records from another target are left alone). Returns promptly: a runtime
    that waits for another is started by the provision run's rollout step."""
    ids = [p.id for p in host.dataspace.participants if runtimes.on_processes(p)]
    if not ids:
        return Recovery()
    platform = platform or runtimes.platform(host.settings)
    try:
        results = platform.recover(only=ids)
    except MvdError as exc:
        log.warning("runtimes not recovered: %s", exc.message)
        return Recovery(error=exc.message)
    recovery = Recovery()
    for pid, result in results.items():
        for found, names in (
            (recovery.adopted, result.unchanged),
            (recovery.restarted, result.started + result.waiting),
            (recovery.failed, result.failed),
        ):
            if names:
                found[pid] = sorted(names)
    if recovery.needs_provision:
        log.info("runtimes restarted at start: %s", recovery.restarted | recovery.failed)
    return recovery


def provision_if_needed(host: LocalHost, recovery: Recovery) -> Recovery:
    """After ``host.start()`` (which resumed or closed an interrupted run): a provision run with
    source ``recovery`` when runtimes were started again and no run is going."""
    if not recovery.needs_provision:
        return recovery
    current = host.registry.current(host.dataspace.name)
    if current is None or current.finished:
        try:
            return recovery.model_copy(update={"run": host.submit("provision", "recovery")})
        except Conflict:  # another command's run started meanwhile (the nightly reset)
            current = host.registry.current(host.dataspace.name)
    return recovery.model_copy(update={"run_going": current.id if current else None})
