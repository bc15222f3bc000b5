"""`mvd onboard`, `mvd participants`, `mvd invite` as a user runs them (the real `mvd` in a child
process) against a real `mvd serve` in this process, with the stand-in newcomers and seed
connector of tests/api/test_participants.py; and how `mvd runs <id>` shows a reset's removals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

from rich.console import Console

from mvd_core.cli.progress import run_detail
from mvd_core.onboarding import OnboardingStore
from mvd_core.runs import RunSummary
from mvd_core.runs.models import Removal
from tests.api.test_participants import newcomers, plane  # noqa: F401 - fixtures
from tests.e2e.conftest import TOKEN


def mvd(*args: str, home, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "MVD_HOME": str(home), "MVD_API_TOKEN": TOKEN, "MVD_PORT": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "mvd_core", *args], check=False, env=environ, capture_output=True, text=True, timeout=120
    )


def test_onboard_shows_every_check_and_participants_lists_the_newcomer(plane, newcomers, tmp_path):  # noqa: F811
    did = newcomers.add("guest")
    joined = mvd("onboard", did, "--api", plane.url, home=tmp_path)
    assert joined.returncode == 0, joined.stderr
    lines = joined.stdout.splitlines()
    for name in ("ready", "rate", "admission", "did", "new", "resolves", "services", "dsp", "issuer", "listed"):
        assert any(line.startswith(f"✓ {name}") for line in lines), joined.stdout
    assert "joined: " in joined.stdout and did in joined.stdout and "until the next reset" in joined.stdout

    again = mvd("onboard", did, "--api", plane.url, home=tmp_path)
    assert again.returncode == 1
    assert "✗ new" in again.stdout and "already a participant" in again.stdout
    assert again.stderr.startswith("error: refused (409): ") and len(again.stderr.strip().splitlines()) == 1
    assert "Traceback" not in again.stdout + again.stderr

    shown = mvd("participants", "--api", plane.url, home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "interstellar-assembly  seed" in shown.stdout
    assert f"onboarded  {did}" in shown.stdout and "removed by the next reset at" in shown.stdout
    assert "onboarding open: 1 of 20 onboarded participants" in shown.stdout


def test_onboard_without_a_server_says_what_to_do(tmp_path):
    answer = mvd("onboard", "did:web:guest.example.org", home=tmp_path)
    assert answer.returncode == 1
    assert "no `mvd serve` answers" in answer.stderr and "Traceback" not in answer.stderr


def test_invite_from_the_local_store_is_shown_once_and_kept_hashed(tmp_path):
    made = mvd("invite", "--expires", "2h", home=tmp_path, MVD_ONBOARDING="invite")
    assert made.returncode == 0, made.stderr
    token = made.stdout.splitlines()[0]
    assert token.startswith("mvdi_") and "single use" in made.stdout
    store = OnboardingStore.in_home(tmp_path)
    [invite] = store.invites()
    assert store.check_invite(token).id == invite.id
    assert token.encode() not in (tmp_path / "onboarding.db").read_bytes()

    bad = mvd("invite", "--expires", "5 weeks", home=tmp_path, MVD_ONBOARDING="invite")
    assert bad.returncode == 2 and "not a duration" in bad.stderr
    off = mvd("invite", home=tmp_path)
    assert off.returncode == 1 and "MVD_ONBOARDING=invite" in off.stderr


def test_a_runs_detail_lists_the_participants_a_reset_removed():
    run = RunSummary(
        id="mvd-mvd-20261202T000000-abcdef", dataspace="mvd", action="reset", source="timer", status="completed",
        created_at=datetime(2026, 12, 2, tzinfo=UTC), duration_ms=1000,
        removed=[Removal(did="did:web:guest.example.org", participant_id="guest-example-org",
                         joined_at=datetime(2026, 12, 1, 15, 30, tzinfo=UTC),
                         removed_at=datetime(2026, 12, 2, tzinfo=UTC), revoked=True)],
    )
    console = Console(width=200, record=True, color_system=None)
    console.print(run_detail(run), soft_wrap=True)
    assert (
        "- removed: guest-example-org (did:web:guest.example.org), joined 2026-12-01 15:30 UTC; credentials revoked"
        in console.export_text()
    )


def test_participants_without_a_server_reads_the_state_directory_and_creates_nothing(tmp_path):
    shown = mvd("participants", "--json", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert {p["kind"] for p in view["participants"]} == {"seed"} and view["nextReset"]
    assert not (tmp_path / "onboarding.db").exists()
