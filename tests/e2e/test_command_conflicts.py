"""A different command while a run is going, as a user meets it: `mvd teardown` or
`mvd rotate-keys` during a reset on a running `mvd serve` is one error line naming the run
and its action, and starts nothing; `mvd reset` joins the reset."""

from __future__ import annotations

from tests.e2e.test_cli import mvd


def test_the_cli_is_refused_a_different_command_while_a_reset_runs(serve_process):
    sp = serve_process
    # The reset's rollout waits this long, so it is still going after three CLI processes (6 s was
    # too short on a loaded 2-core machine: the reset had completed before the last assertion).
    # Nothing waits for the reset to end: the server is stopped with it still going.
    sp.env["MVD_SIM_READY_DELAY"] = "60.0"
    sp.start()
    reset = sp.api("POST", "/api/dataspace/reset").json()
    for args, what in ((("teardown", "--yes"), "teardown"),
                       (("rotate-keys", "space-enforcer"), "reset rotating the keys of space-enforcer")):
        res = mvd(sp.env, *args)
        assert res.returncode == 1, res.stdout + res.stderr
        assert res.stderr.strip() == (f"error: {sp.url}: 409 run {reset['runId']} (reset) is in progress; "
                                      f"{what} was not started: send it again when that run has finished")
    joined = mvd(sp.env, "reset")
    assert joined.returncode == 0 and f"reset: joined the run already going: {reset['runId']}" in joined.stdout
    runs = sp.api("GET", "/api/runs").json()["runs"]
    assert [(r["id"], r["action"]) for r in runs] == [(reset["runId"], "reset")]
    assert sp.api("GET", f"/api/runs/{reset['runId']}").json()["status"] == "running"
