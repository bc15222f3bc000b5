"""A local control plane (engine, registry, HTTP server, simulated clusters) in this process,
or `mvd serve` as a child process, each on its own state directory and free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mvd_core.settings import Settings, get_settings
from tests.fixtures.emulators import free_port
from tests.fixtures.polling import until

TOKEN = "e2e-token-0123456789"


@dataclass
class Plane:
    host: object
    server: object
    url: str
    settings: Settings

    def post(self, action: str, headers: dict[str, str] | None = None, **kwargs) -> httpx.Response:
        return httpx.post(f"{self.url}/api/dataspace/{action}",
                          headers={"Authorization": f"Bearer {TOKEN}", **(headers or {})}, timeout=30, **kwargs)

    def wait(self, run_id: str, timeout: float = 120) -> dict:
        status = self.host.engine.wait_for_completion(run_id, timeout)
        assert status.is_terminal, f"run {run_id} still {status.runtime_status} after {timeout}s"
        return httpx.get(f"{self.url}/api/runs/{run_id}", timeout=10).json()


@pytest.fixture
def plane(tmp_path, monkeypatch) -> Iterator[Plane]:
    yield from run_plane(monkeypatch)


def run_plane(monkeypatch, dataspace_file: Path | None = None) -> Iterator[Plane]:
    from mvd_core.host.local import LocalHost
    from mvd_core.platforms.kubernetes.simulator import stop_shared_simulators
    from mvd_core.server import Server

    if dataspace_file is not None:
        monkeypatch.setenv("MVD_DATASPACE_FILE", str(dataspace_file))
    port = free_port()
    monkeypatch.setenv("MVD_PORT", str(port))
    monkeypatch.setenv("MVD_API_TOKEN", TOKEN)
    monkeypatch.setenv("MVD_SIM_READY_DELAY", "0.05")
    monkeypatch.setenv("MVD_WEBHOOK_SECRETS", '{"ci": "webhook-secret-1"}')
    get_settings.cache_clear()
    settings = get_settings()
    host = LocalHost(settings)
    server = Server(host, TOKEN)
    server.start()
    host.start()
    try:
        yield Plane(host, server, f"http://127.0.0.1:{port}", settings)
    finally:
        host.stop()
        server.stop()
        stop_shared_simulators()


@dataclass
class ServeProcess:
    home: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.home.parent / f"serve-{time.monotonic_ns()}.log", "w") as log:  # the child keeps its copy
            self.proc = subprocess.Popen([sys.executable, "-m", "mvd_core", "serve"], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT)
        until("mvd serve answering /healthz", self._healthy, timeout=60)

    def _healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "mvd serve exited"
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no cleanup of any kind
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", headers={"Authorization": f"Bearer {TOKEN}"},
                             timeout=30, **kwargs)

    def wait_run(self, run_id: str, predicate, timeout: float = 120) -> dict:
        last: dict = {}

        def reached() -> dict | None:
            last.update(self.api("GET", f"/api/runs/{run_id}").json())
            return dict(last) if predicate(last) else None

        try:
            return until(f"run {run_id} in the expected state", reached, timeout=timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the run: {last}") from None


def embedded_serve(root: Path, dataspace_file: Path | None = None, **env: str) -> ServeProcess:
    """A started `mvd serve` on the embedded targets (real EDC runtimes as local processes) with
    its home under ``root``, the blueprint ``dataspace_file`` if given, ``mvd`` on PATH, and the
    extra settings ``env``. The caller stops it."""
    home = root / "home"
    full = {
        **os.environ,
        "MVD_TARGETS": "embedded",
        "MVD_HOME": str(home),
        "MVD_PORT": str(free_port()),
        "MVD_API_TOKEN": TOKEN,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **({"MVD_DATASPACE_FILE": str(dataspace_file)} if dataspace_file is not None else {}),
        **env,
    }
    sp = ServeProcess(home, int(full["MVD_PORT"]), full)
    sp.start()
    return sp


@pytest.fixture
def serve_process(tmp_path) -> Iterator[ServeProcess]:
    home = tmp_path / "home"
    port = free_port()
    env = {**os.environ, "MVD_HOME": str(home), "MVD_PORT": str(port), "MVD_API_TOKEN": TOKEN,
           "MVD_SIM_READY_DELAY": "1.0"}
    sp = ServeProcess(home, port, env)
    yield sp
    sp.stop()
