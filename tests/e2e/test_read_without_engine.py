"""`mvd runs` and `mvd status` read the history from MVD_HOME without an engine: beside a
`mvd serve` of the same state directory on another port (whose engine holds the lock), and
with no server at all, creating nothing."""

from __future__ import annotations

import json
import os

from tests.e2e.test_cli import mvd
from tests.fixtures.emulators import free_port


def test_runs_and_status_read_beside_a_server_on_another_port(serve_process):
    sp = serve_process
    # The run's rollout waits this long, so it is still going while three CLI processes read
    # (4 s was too short on a loaded 2-core CI machine: the run had ended before `mvd status`).
    sp.env["MVD_SIM_READY_DELAY"] = "20.0"
    sp.start()
    teardown = sp.api("POST", "/api/dataspace/teardown").json()
    sp.wait_run(teardown["runId"], lambda r: r["status"] == "completed")
    provision = sp.api("POST", "/api/dataspace/provision").json()
    sp.wait_run(provision["runId"], lambda r: r["participants"].get("galactic-turbine", {}).get("steps"))

    elsewhere = {**sp.env, "MVD_PORT": str(free_port())}  # no server answers there
    listed = mvd(elsewhere, "runs")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[2:4] for line in listed.stdout.splitlines()] == [["provision", "running"],
                                                                          ["teardown", "completed"]]
    detail = mvd(elsewhere, "runs", provision["runId"], "--json")
    assert detail.returncode == 0, detail.stderr
    live = json.loads(detail.stdout)
    assert live["id"] == provision["runId"] and live["status"] == "running"
    assert live["participants"]["galactic-turbine"]["steps"]  # the engine's live progress, read from disk
    status = mvd(elsewhere, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["currentRun"]["id"] == provision["runId"]
    assert "another engine" not in listed.stderr + detail.stderr + status.stderr

    # the server's engine went on undisturbed
    done = sp.wait_run(provision["runId"], lambda r: r["status"] != "running")
    assert done["status"] == "completed", done


def test_runs_with_no_server_and_no_state_creates_nothing(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "MVD_HOME": str(home), "MVD_PORT": str(free_port())}
    res = mvd(env, "runs")
    assert res.returncode == 0 and res.stdout.strip() == "no runs yet", res.stdout + res.stderr
    missing = mvd(env, "runs", "mvd-mvd-20990101T000000-abcdef")
    assert missing.returncode == 1 and "no run 'mvd-mvd-20990101T000000-abcdef'" in missing.stderr
    assert not (home / "engine.db").exists() and not (home / "registry.db").exists()
    assert not (home / "engine.db.lock").exists()
