"""Live per-participant progress of a run in the terminal, and its final summary."""

from __future__ import annotations

import time

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mvd_core.cli.client import ControlPlane
from mvd_core.cli.console import out
from mvd_core.errors import MvdError
from mvd_core.runs import RunSummary
from mvd_core.runs.models import Removal

_MARK = {
    "pending": ("·", "dim"),
    "running": ("…", "yellow"),
    "done": ("✓", "green"),
    "failed": ("✗", "red"),
    "skipped": ("-", "dim"),
}


def run_table(run: RunSummary) -> Group:
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("participant", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("steps")
    for pid, progress in run.participants.items():
        steps = Text()
        for step in progress.steps:
            mark, style = _MARK.get(step.status, ("?", ""))
            took = f" {step.duration_ms / 1000:.1f}s" if step.status == "done" and step.duration_ms else ""
            steps.append(f"{mark} {step.name}{took}  ", style=style)
        mark, style = _MARK.get(progress.status, ("?", ""))
        table.add_row(pid, Text(f"{mark} {progress.status}", style=style), steps)
    return Group(_head(run), table)


def _head(run: RunSummary) -> Text:
    elapsed = f" in {run.duration_ms / 1000:.1f}s" if run.duration_ms is not None else ""
    return Text.assemble((f"{run.action} ", "bold"), (run.id, "cyan"), f"  {run.status}{elapsed}")


def run_detail(run: RunSummary) -> Group:
    """One run, step by step: each step's duration and what it did, or its error."""
    lines: list[Text] = [
        Text.assemble(_head(run), f"  (started by {run.source} at {run.created_at:%Y-%m-%d %H:%M:%S %Z})")
    ]
    for pid, progress in run.participants.items():
        mark, style = _MARK.get(progress.status, ("?", ""))
        lines.append(Text.assemble((pid, "bold"), "  ", (f"{mark} {progress.status}", style)))
        for step in progress.steps:
            mark, style = _MARK.get(step.status, ("?", ""))
            took = f"{step.duration_ms / 1000:.1f}s" if step.duration_ms is not None else ""
            said = (step.error, "red") if step.error else (step.detail or "", "")
            lines.append(Text.assemble("  ", (f"{mark} {step.name:<10}", style), f" {took:>6}  ", said))
    lines += [Text.assemble((f"✗ {f.participant} failed at {f.step}: ", "red"), f.reason) for f in run.failures]
    lines += [Text.assemble(("✓ verified: ", "green"), proved) for proved in run.verified]
    lines += [_removal(r) for r in run.removed]
    return Group(*lines)


def _removal(removed: Removal) -> Text:
    revoked = "credentials revoked" if removed.revoked else "credentials NOT revoked yet"
    return Text.assemble(
        ("- removed: ", "yellow"),
        f"{removed.participant_id} ({removed.did}), joined {removed.joined_at:%Y-%m-%d %H:%M %Z}; {revoked}",
    )


def follow(cp: ControlPlane, run_id: str, timeout: float = 3600.0) -> RunSummary:
    """Show the run live until it ends; returns its final summary."""
    deadline = time.monotonic() + timeout
    run = cp.run(run_id)
    if run is None:
        raise MvdError(f"run {run_id} is not known to {cp.description}")
    with Live(run_table(run), console=out, refresh_per_second=8, transient=not out.is_terminal) as live:
        while run.status not in ("completed", "failed") and time.monotonic() < deadline:
            run = cp.wait_change(run_id, 0.5) or run
            live.update(run_table(run))
    if not out.is_terminal:
        out.print(run_table(run))
    for failure in run.failures:
        out.print(f"[red]✗ {failure.participant} failed at {failure.step}:[/] {failure.reason}")
    for proved in run.verified:
        out.print(Text.assemble(("✓ verified: ", "green"), proved))
    for removed in run.removed:
        out.print(_removal(removed))
    return run
