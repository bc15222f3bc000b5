"""Shared test set-up. Emulator fixtures (Azurite, moto's server) live in tests/fixtures/."""

import os

import pytest

pytest_plugins = ["tests.fixtures.emulators", "tests.fixtures.logs", "tests.fixtures.edc"]

# Simulated clusters unless a test asks for the real runtimes (MVD_TARGETS=embedded): plan,
# drift and orchestration are tested in seconds, the EDC runtimes where they are the point.
# Set for the whole session too, not only per test: a module-scoped `mvd serve` starts before
# any function-scoped fixture, and with the product's default (embedded) a provision it is sent
# would start real runtimes in the middle of an unrelated test.
SIMULATED = "simulated"
os.environ["MVD_TARGETS"] = SIMULATED

# `make test` runs the suite on pytest-xdist's workers (-n 2 --dist loadfile): most of it waits on
# I/O (emulators, servers, simulated rollouts, JVMs starting), so two workers share 2 cores well.
# Each module is one unit of work (its module- and package-scoped servers start once); the modules
# that start dataspaces of real EDC runtimes (5 to 14 JVMs each) are one unit, run one after another
# on one worker and sent out first: together they are the longest unit (about half the suite), and
# two of them at once would starve each other's JVMs of CPU. The other worker runs the rest meanwhile
# (Maven and single runtimes included: tests/runtimes, test_edc_connector.py, test_seed_job_edc.py).
RUNTIME_GROUP = "edc-runtimes"
RUNTIME_MODULES = frozenset({
    "tests/browser/test_connector_ui.py",
    "tests/e2e/test_dataspace_runtimes.py",
    "tests/e2e/test_onboarding.py",
    "tests/e2e/test_readme_exchange.py",
    "tests/platforms/edc/test_edc_runtimes.py",
    "tests/platforms/edc/test_exchange.py",
    "tests/platforms/edc/test_replicas.py",
    "tests/platforms/edc/test_revocation.py",
})
WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ... on xdist's workers only
if WORKER is not None and "MVD_RUNTIME_PORTS" not in os.environ:
    # Each worker's runtimes get ports from their own part of the pool: two state directories check
    # only their own records, so a port handed to a JVM still starting could be handed out twice.
    from mvd_core.platforms.processes.ports import default_pool
    from mvd_core.settings import get_settings

    _pool, _workers = default_pool(), int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    _size, _index = len(_pool) // _workers, int(WORKER.removeprefix("gw"))
    os.environ["MVD_RUNTIME_PORTS"] = f"{_pool.start + _index * _size}-{_pool.start + (_index + 1) * _size - 1}"
    get_settings.cache_clear()


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """With --dist loadfile: each module one unit of work, except that the runtime modules are one."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Modules(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = _module(nodeid)
            return RUNTIME_GROUP if module in RUNTIME_MODULES else module

    return Modules(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if WORKER is not None:  # the scheduler hands out units in the order the workers collected them
        items.sort(key=lambda item: _module(item.nodeid) not in RUNTIME_MODULES)  # stable: the group first


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own state directory and fresh settings."""
    from mvd_core.settings import get_settings

    monkeypatch.setenv("MVD_HOME", str(tmp_path / "mvd-home"))
    monkeypatch.setenv("MVD_TARGETS", SIMULATED)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
