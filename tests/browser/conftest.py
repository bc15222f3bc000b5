"""The dashboard in a real browser: `mvd serve` as a subprocess (its own state directory,
port and token) and Debian's Chromium driven by Playwright. Screenshots of each state land
in ``test-artifacts/dashboard/``. A missing Chromium fails the tests; nothing is skipped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fixtures.emulators import free_port
from tests.fixtures.polling import until

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "dashboard"
TOKEN = "dashboard-test-token-5f0c2a"
STARTUP_TIMEOUT = 120.0  # a loaded 2-core runner imports slowly
VIEWPORT = {"width": 1280, "height": 900}
MACHINE_SETTINGS = ("MVD_CACHE_DIR", "MVD_RUNTIME_PORTS")


@dataclass
class MvdServe:
    url: str
    home: Path
    token: str
    process: subprocess.Popen[bytes]

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def runs(self) -> list[dict]:
        response = self.get("/api/runs?limit=50")
        response.raise_for_status()
        return response.json()["runs"]

    def log(self) -> str:
        return (self.home / "serve.log").read_text("utf-8", errors="replace")


def stop(server: MvdServe) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)  # lets the engine stop cleanly
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


def launch(tmp_path_factory: pytest.TempPathFactory, *, prepare: Callable[[Path], None] | None = None,
           ready_delay: float = 0.3, targets: str = "simulated", env: dict[str, str] | None = None) -> MvdServe:
    """`mvd serve` on a fresh state directory and a free port, answering /healthz.
    ``prepare(home)`` runs on the state directory before the server starts; ``targets``
    embedded runs the participants' real EDC runtimes as its child processes; ``env``: more
    settings (``MVD_...``)."""
    home = tmp_path_factory.mktemp("mvd-serve")
    if prepare is not None:
        prepare(home)
    port = free_port()
    # none of the test process's settings but where runtimes are assembled and their ports
    settings = {k: v for k, v in os.environ.items() if not k.startswith("MVD_") or k in MACHINE_SETTINGS}
    settings.update(MVD_HOME=str(home), MVD_PORT=str(port), MVD_API_TOKEN=TOKEN, MVD_TARGETS=targets,
                    MVD_SIM_READY_DELAY=str(ready_delay), **(env or {}))
    log = (home / "serve.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "mvd_core", "serve"], env=settings, cwd=home,
                               stdout=log, stderr=subprocess.STDOUT)
    log.close()
    server = MvdServe(url=f"http://127.0.0.1:{port}", home=home, token=TOKEN, process=process)
    try:
        until("mvd serve answering /healthz", lambda: healthy(server), timeout=STARTUP_TIMEOUT)
    except AssertionError as exc:
        stop(server)
        pytest.fail(f"{exc}:\n{server.log()[-3000:]}")
    return server


def healthy(server: MvdServe) -> bool:
    """Whether the server answers /healthz; fails the test at once when it exited."""
    if server.process.poll() is not None:
        pytest.fail(f"mvd serve exited with {server.process.returncode}:\n{server.log()[-3000:]}")
    try:
        return server.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., MvdServe]]:
    """``start_server(prepare=None, ready_delay=0.3)``: a server of the test's own, for tests
    that start runs; stopped when the test ends."""
    started: list[MvdServe] = []

    def start(**kwargs) -> MvdServe:
        started.append(launch(tmp_path_factory, **kwargs))
        return started[-1]

    yield start
    for server in started:
        stop(server)


@pytest.fixture(scope="package")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MvdServe]:
    """One server shared by the tests that start no run (they assert that none did)."""
    server = launch(tmp_path_factory)
    yield server
    stop(server)


@pytest.fixture(scope="package")
def chromium():
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's package "
                    "(apt-get install -y chromium); .ci/run does", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request):
    """A fresh browser context (own sessionStorage) and page; JavaScript errors fail the test."""
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shot(page, f"{request.node.name}-at-failure")
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report


def shot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot as a test artifact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
