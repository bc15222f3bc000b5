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


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own state directory and fresh settings."""
    from mvd_core.settings import get_settings

    monkeypatch.setenv("MVD_HOME", str(tmp_path / "mvd-home"))
    monkeypatch.setenv("MVD_TARGETS", SIMULATED)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
