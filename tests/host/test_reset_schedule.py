"""One reset schedule on both hosts: the blueprint's, with MVD_RESET_SCHEDULE replacing its
NCRONTAB. `mvd serve` (its scheduler, its API) and the Functions app (the timer binding it is
indexed with, its API) read the same value, and refuse the same bad values."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from blueprints import _runtime
from mvd_core.api import views
from mvd_core.dataspace import load
from mvd_core.dataspace.loader import DEFAULT_NAME
from mvd_core.host.local import LocalHost
from mvd_core.runs import SqliteRunRegistry
from mvd_core.settings import get_settings
from tests.fixtures.emulators import free_port
from tests.fixtures.polling import until
from tests.functions.test_settings import REPO, _index_in_subprocess

TOKEN = "schedule-test-token-0123456789"


def timer_binding(env: dict[str, str]) -> str:
    done = _index_in_subprocess(env)
    assert done.returncode == 0, done.stderr
    [timer] = [b for b in json.loads(done.stdout) if b["type"] == "timerTrigger"]
    return timer["schedule"]


def serve(tmp_path: Path, env: dict[str, str]) -> tuple[str, str]:
    """`mvd serve` with ``env``: what it announces as the nightly reset, and what its API shows."""
    port = free_port()
    full = {**os.environ, "MVD_HOME": str(tmp_path / "home"), "MVD_PORT": str(port), "MVD_API_TOKEN": TOKEN,
            "COLUMNS": "300", **env}
    out = tmp_path / f"serve-{port}.out"
    with open(out, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "mvd_core", "serve"], env=full, stdout=sink,
                                stderr=subprocess.STDOUT, cwd=REPO)
    try:

        def serving() -> bool:
            assert proc.poll() is None, out.read_text()
            return "Serving" in out.read_text()

        until("mvd serve announcing it serves", serving, timeout=60)
        view = httpx.get(f"http://127.0.0.1:{port}/api/dataspace", timeout=30).json()
    finally:
        proc.terminate()
        proc.wait(30)
    [line] = [ln for ln in out.read_text().splitlines() if "nightly reset:" in ln]
    return line.split("nightly reset: ", 1)[1].strip(), view["resetSchedule"]


def functions_view(tmp_path: Path) -> str:
    view = asyncio.run(views.dataspace_view(_runtime.dataspace(), SqliteRunRegistry(tmp_path / "r.db"),
                                            _runtime.described_schedule(), check_dids=False))
    return view.reset_schedule


def test_mvd_reset_schedule_overrides_the_blueprint_on_both_hosts(tmp_path, monkeypatch):
    env = {"MVD_RESET_SCHEDULE": "0 30 2 * * *"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    _runtime.reset_caches()
    expected = "0 30 2 * * * (UTC, from MVD_RESET_SCHEDULE)"

    assert timer_binding(env) == "0 30 2 * * *"  # the Functions timer, fixed at indexing
    assert functions_view(tmp_path) == expected  # what the Functions app's API shows
    schedule = LocalHost(get_settings()).reset_schedule()  # what the local scheduler runs on
    assert (schedule.reset, schedule.timezone) == ("0 30 2 * * *", "UTC")
    assert serve(tmp_path, env) == (expected, expected)


def test_without_the_setting_both_hosts_use_the_blueprint(tmp_path, monkeypatch):
    blueprint = tmp_path / "ds.yaml"
    blueprint.write_text((REPO / "mvd_core" / "dataspace" / DEFAULT_NAME).read_text()
                         .replace('reset: "0 0 0 * * *"', 'reset: "0 45 1 * * *"'))
    env = {"MVD_DATASPACE_FILE": str(blueprint)}
    monkeypatch.setenv("MVD_DATASPACE_FILE", str(blueprint))
    get_settings.cache_clear()
    _runtime.reset_caches()
    assert timer_binding(env) == "0 45 1 * * *"
    assert functions_view(tmp_path) == "0 45 1 * * * (UTC)"
    assert serve(tmp_path, env) == ("0 45 1 * * * (UTC)", "0 45 1 * * * (UTC)")


def test_a_time_zone_the_functions_timer_cannot_keep_is_refused_there_not_run_in_utc(tmp_path):
    blueprint = tmp_path / "ds.yaml"
    blueprint.write_text((REPO / "mvd_core" / "dataspace" / DEFAULT_NAME).read_text()
                         .replace("timezone: UTC", "timezone: Europe/Berlin"))
    assert load(blueprint).schedule.timezone == "Europe/Berlin"
    done = _index_in_subprocess({"MVD_DATASPACE_FILE": str(blueprint), "MVD_RESET_SCHEDULE": "0 0 1 * * *"})
    assert done.returncode != 0
    assert "schedule.timezone is 'Europe/Berlin': the Azure Functions timer (Flex Consumption) fires in UTC only" \
        in done.stderr
    # the local host keeps the time zone, with the same override
    env = {"MVD_DATASPACE_FILE": str(blueprint), "MVD_RESET_SCHEDULE": "0 0 1 * * *"}
    expected = "0 0 1 * * * (Europe/Berlin, from MVD_RESET_SCHEDULE)"
    assert serve(tmp_path, env) == (expected, expected)


def test_a_bad_override_is_refused_by_both_hosts_with_the_same_words(tmp_path):
    env = {"MVD_RESET_SCHEDULE": "30 2 * * *"}
    words = "MVD_RESET_SCHEDULE: '30 2 * * *' must be 6 fields"
    done = _index_in_subprocess(env)
    assert done.returncode != 0 and words in done.stderr
    full = {**os.environ, "MVD_HOME": str(tmp_path / "home"), "MVD_PORT": str(free_port()),
            "MVD_API_TOKEN": TOKEN, **env}
    res = subprocess.run([sys.executable, "-m", "mvd_core", "serve"], check=False, env=full, capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert res.returncode == 1 and res.stderr.strip().startswith(f"error: {words}"), res.stderr
    assert "Traceback" not in res.stderr
