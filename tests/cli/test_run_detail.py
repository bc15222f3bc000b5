"""How the CLI shows one run: every step with its duration and detail, errors in place."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rich.console import Console

from mvd_core.cli.progress import run_detail
from mvd_core.runs import Failure, ParticipantProgress, RunSummary, StepState


def _render(run: RunSummary) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(run_detail(run), soft_wrap=True)
    return console.export_text()


def test_a_failed_step_shows_its_error_and_the_run_lists_the_failure():
    run = RunSummary(
        id="mvd-mvd-20261129T000000-abcdef", dataspace="mvd", action="provision", source="webhook",
        status="failed", created_at=datetime(2026, 11, 29, tzinfo=UTC), duration_ms=4200,
        participants={"alpha": ParticipantProgress(participant="alpha", status="failed", steps=[
            StepState(name="vault", status="done", duration_ms=40, detail="key abc in local vault"),
            StepState(name="did", status="failed", duration_ms=7100, error="cannot write did.json: permission denied"),
            StepState(name="workloads", status="skipped"),
        ])},
        failures=[Failure(participant="alpha", step="did", reason="cannot write did.json: permission denied")],
    )
    text = _render(run)
    assert "provision mvd-mvd-20261129T000000-abcdef  failed in 4.2s  (started by webhook at 2026-11-29 00:00:00 UTC)" in text
    assert "alpha  ✗ failed" in text
    assert "  ✓ vault        0.0s  key abc in local vault" in text
    assert "  ✗ did          7.1s  cannot write did.json: permission denied" in text
    assert re.search(r"^  - workloads +$", text, re.MULTILINE)  # skipped: no duration, nothing said
    assert "✗ alpha failed at did: cannot write did.json: permission denied" in text
