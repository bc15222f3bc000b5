"""The state directory is private: after `mvd up --once`, and while `mvd serve` runs (with
SQLite's -wal and -shm files), every directory under MVD_HOME is 0700 and every file 0600,
even with a umask that would leave them open to everyone."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from tests.fixtures.emulators import free_port
from tests.fixtures.polling import until


def modes(home: Path) -> dict[str, str]:
    found = {".": oct(stat.S_IMODE(home.stat().st_mode))}
    for path in home.rglob("*"):
        found[str(path.relative_to(home))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


def wrong_modes(home: Path) -> dict[str, str]:
    return {name: mode for name, mode in modes(home).items()
            if mode != (oct(0o700) if (home / name).is_dir() else oct(0o600))}


def env_for(home: Path, port: int) -> dict[str, str]:
    return {**os.environ, "MVD_HOME": str(home), "MVD_PORT": str(port), "MVD_SIM_READY_DELAY": "0.05",
            "COLUMNS": "200"}


def test_up_once_leaves_every_state_file_private_whatever_the_umask(tmp_path):
    home = tmp_path / "parent" / "home"  # the parent does not exist either
    res = subprocess.run([sys.executable, "-m", "mvd_core", "up", "--once"], check=False,
                         env=env_for(home, free_port()),
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, umask=0)
    assert res.returncode == 0, res.stdout + res.stderr
    names = set(modes(home))
    for expected in ("engine.db", "registry.db", "mvd.log", "api-token", "clusters/simulated.db",
                     "vaults/galactic-turbine/galactic-turbine-did-signing-key", "dids/space-enforcer/did.json"):
        assert expected in names, sorted(names)
    assert wrong_modes(home) == {}
    assert stat.S_IMODE((tmp_path / "parent").stat().st_mode) == 0o700


def test_a_running_server_keeps_its_databases_and_their_wal_files_private(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o755)  # as an older version left it
    home.chmod(0o755)
    for name, text in (("registry.db", ""), ("api-token", "an-older-token-0123456789\n")):
        (home / name).write_text(text)
        (home / name).chmod(0o644)
    port = free_port()
    env = env_for(home, port)  # the token is the file's
    with open(tmp_path / "serve.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "mvd_core", "serve"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, umask=0)
    try:
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        until("mvd serve answering /healthz", healthy, timeout=60)
        auth = {"Authorization": "Bearer an-older-token-0123456789"}
        run_id = httpx.post(f"{url}/api/dataspace/provision", headers=auth, timeout=30).json()["runId"]
        until(
            f"run {run_id} finished",
            lambda: httpx.get(f"{url}/api/runs/{run_id}", timeout=10).json()["status"] in ("completed", "failed"),
            timeout=120,
        )
        names = set(modes(home))
        # the server's connections are open: SQLite's side files exist now
        assert {"engine.db-wal", "engine.db-shm", "clusters/simulated.db-wal", "clusters/simulated.db-shm"} <= names
        assert wrong_modes(home) == {}
    finally:
        proc.terminate()
        proc.wait(30)
