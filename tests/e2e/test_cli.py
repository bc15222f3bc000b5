"""The run commands as a user types them: `mvd up --once`, and `mvd reset --wait`, `mvd status`,
`mvd runs` against a running `mvd serve`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.e2e.conftest import TOKEN
from tests.fixtures.emulators import free_port


def mvd(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mvd_core", *args], check=False, env={"COLUMNS": "200", **env},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def test_up_once_provisions_the_seed_and_prints_resolving_dids(serve_process):
    env = {**serve_process.env, "MVD_SIM_READY_DELAY": "0.05", "COLUMNS": "60"}
    res = mvd(env, "up", "--once")
    assert res.returncode == 0, res.stdout + res.stderr
    port = serve_process.port
    for pid in ("galactic-turbine", "space-enforcer", "interstellar-assembly"):
        # whole, on one line, even in a narrow terminal
        assert re.search(rf"did:web:localhost%3A{port}:dids:{pid} +✓ resolves\n", res.stdout), res.stdout
    assert "provision mvd-mvd-" in res.stdout and "completed" in res.stdout
    assert "target simulated: simulated clusters (no EDC runtime runs)\n" in res.stdout
    assert "runtimes ready" not in res.stdout and "assembled" not in res.stdout  # nothing of EDC's on simulated
    assert "Traceback" not in res.stdout + res.stderr


def test_commands_against_a_running_server(serve_process):
    sp = serve_process
    sp.env["MVD_SIM_READY_DELAY"] = "0.05"
    sp.start()
    # no token: the server took MVD_API_TOKEN, so there is no token file for the CLI to find
    env = {k: v for k, v in sp.env.items() if k != "MVD_API_TOKEN"}
    denied = mvd(env, "reset")
    assert denied.returncode == 1 and "401" in denied.stderr and "token" in denied.stderr

    provision = mvd(sp.env, "provision", "--wait")
    assert provision.returncode == 0, provision.stderr
    assert f"({sp.url})" in provision.stdout and "completed" in provision.stdout

    reset = mvd(sp.env, "reset", "--wait")
    assert reset.returncode == 0, reset.stderr
    assert "✓ restart" in reset.stdout

    status = json.loads(mvd(sp.env, "status", "--json").stdout)
    assert [p["resolves"] for p in status["participants"]] == [True, True, True]
    assert status["lastRun"]["action"] == "reset" and status["lastRun"]["source"] == "cli"

    runs = mvd(sp.env, "runs").stdout.splitlines()
    assert [line.split()[2:4] for line in runs] == [["reset", "completed"], ["provision", "completed"]]
    reset_id = runs[0].split()[-1]
    detail = mvd(sp.env, "runs", reset_id)
    assert detail.returncode == 0, detail.stderr
    assert f"reset {reset_id}  completed" in detail.stdout and "started by cli" in detail.stdout
    assert re.search(r"✓ restart +\d+\.\ds  4 runtime\(s\) restarted", detail.stdout), detail.stdout
    assert json.loads(mvd(sp.env, "runs", reset_id, "--json").stdout)["id"] == reset_id
    missing = mvd(sp.env, "runs", "mvd-mvd-20990101T000000-abcdef")
    assert missing.returncode == 1 and "no run 'mvd-mvd-20990101T000000-abcdef'" in missing.stderr

    unknown = mvd(sp.env, "rotate-keys", "nobody")
    assert unknown.returncode == 1 and "unknown participant 'nobody'" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    # Teardown outside a terminal needs --yes (stdin here is not a TTY), and starts nothing without it.
    unconfirmed = mvd(sp.env, "teardown")
    assert unconfirmed.returncode == 1 and "pass --yes" in unconfirmed.stderr
    assert len(mvd(sp.env, "runs").stdout.splitlines()) == 2
    teardown = mvd(sp.env, "teardown", "--yes", "--wait")
    assert teardown.returncode == 0 and "completed" in teardown.stdout, teardown.stderr
    assert TOKEN not in denied.stderr + provision.stdout + reset.stdout


def test_an_unreachable_or_malformed_api_url_is_explained(tmp_path):
    env = {**os.environ, "MVD_HOME": str(tmp_path)}
    closed = mvd(env, "status", "--api", f"http://127.0.0.1:{free_port()}")
    assert closed.returncode == 1 and "nothing answers there" in closed.stderr
    ftp = mvd(env, "reset", "--api", "ftp://example.invalid")
    assert ftp.returncode == 1 and "must be an http:// or https:// URL" in ftp.stderr
    assert "Traceback" not in closed.stderr + ftp.stderr


def test_a_port_in_use_is_one_clear_error(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "MVD_HOME": str(tmp_path), "MVD_PORT": str(port)}
        res = mvd(env, "serve", timeout=60)
    assert res.returncode == 1
    assert res.stderr.strip() == (f"error: could not listen on 127.0.0.1:{port}: Address already in use "
                                  "(another server on that port? set MVD_PORT)")


def test_status_before_the_first_provision_says_nothing_is_published_yet(tmp_path):
    env = {**os.environ, "MVD_HOME": str(tmp_path), "MVD_PORT": str(free_port())}
    res = mvd(env, "status")
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("not published yet") == 3 and "does not resolve" not in res.stdout


def test_endpoints_against_a_running_server_and_from_disk(serve_process, monkeypatch):
    """`mvd endpoints` on the embedded target: a participant a provision gave ports and a
    management API key (recorded here as the did and vault steps record them, no runtime
    started) shows its addresses and key file, never the key; the others say why they have none."""
    from mvd_core.dataspace import load_targeted
    from mvd_core.plan.desired import dataspace_dids
    from mvd_core.settings import get_settings
    from mvd_core.workflow import connect, runtimes

    sp = serve_process
    sp.env["MVD_TARGETS"] = "embedded"
    sp.start()
    for key, value in (("MVD_HOME", str(sp.home)), ("MVD_PORT", str(sp.port)), ("MVD_TARGETS", "embedded")):
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    settings = get_settings()
    dataspace = load_targeted(settings)
    dids = dataspace_dids(dataspace, settings)
    enforcer = dataspace.participant("space-enforcer")
    specs = runtimes.specs(enforcer, dids["space-enforcer"], settings)
    store = connect.secret_store(enforcer, settings)
    runtimes.ensure_secrets(store)
    key = store.get("management-api-key")
    key_file = str(sp.home / "vaults" / "space-enforcer" / "management-api-key")

    answer = mvd(sp.env, "endpoints", "--json")
    assert answer.returncode == 0, answer.stderr
    view = json.loads(answer.stdout)
    assert view["participants"]["space-enforcer"] == {
        "did": dids["space-enforcer"], "management": runtimes.management_url(specs),
        "protocol": runtimes.protocol_url(specs), "dataDashboard": None, "managementApiKeyFile": key_file,
        "note": None,
    }
    assert view["participants"]["galactic-turbine"]["management"] is None
    assert view["issuer"] == {"did": f"did:web:localhost%3A{sp.port}:dids:issuer"}

    table = mvd({**sp.env, "COLUMNS": "40"}, "endpoints")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert f"space-enforcer  {dids['space-enforcer']}" in lines  # whole, even in a narrow terminal
    assert f"  management   {runtimes.management_url(specs)}" in lines
    assert f"  protocol     {runtimes.protocol_url(specs)}" in lines
    assert f"  API key file {key_file}" in lines
    assert lines.count("  its runtimes have no ports yet: run `mvd provision` (or `mvd up`)") == 2
    assert f"issuer  did:web:localhost%3A{sp.port}:dids:issuer" in lines
    assert key not in answer.stdout + table.stdout + table.stderr

    # no token: the server refuses, in one line
    denied = mvd({k: v for k, v in sp.env.items() if k != "MVD_API_TOKEN"}, "endpoints")
    assert denied.returncode == 1 and "401" in denied.stderr and "Traceback" not in denied.stderr
    # no server: the same, read from the state directory
    sp.stop()
    assert json.loads(mvd(sp.env, "endpoints", "--json").stdout) == view


def test_up_on_embedded_assembles_the_runtimes_first_with_progress(tmp_path):
    """Before anything is provisioned: the target named, Maven's progress shown, and a failed
    assembly one error line, with no run started. A stand-in mvn that fails as Maven does."""
    import shutil

    from mvd_core.runtimes.kinds import EDC_VERSION

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("java", "javac"):
        (bin_dir / tool).symlink_to(os.path.realpath(shutil.which(tool)))
    (bin_dir / "mvn").write_text("#!/bin/sh\necho '[INFO] Building runtime-connector 1.0.0 [2/5]'\n"
                                 "echo '[ERROR] stand-in: Maven Central is elsewhere'\nexit 1\n")
    (bin_dir / "mvn").chmod(0o755)
    env = {**os.environ, "MVD_HOME": str(tmp_path / "home"), "MVD_PORT": str(free_port()),
           "MVD_TARGETS": "embedded", "MVD_CACHE_DIR": str(tmp_path / "cache"), "PATH": str(bin_dir)}
    env.pop("JAVA_HOME", None)
    res = mvd(env, "up", "--once")
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stdout.splitlines()[1:] == [
        f"target embedded: EDC {EDC_VERSION} runtimes as local processes",
        f"resolving EDC {EDC_VERSION} runtimes from Maven Central (first run, ~3 min)…",
        "  connector: resolving its modules",
    ], res.stdout
    [line] = res.stderr.splitlines()
    assert line.startswith(f"error: assembling the EDC {EDC_VERSION} runtimes failed: stand-in: Maven Central is "
                           "elsewhere; Maven's output: "), line
    assert "no runs yet" in mvd(env, "runs").stdout  # nothing was provisioned
