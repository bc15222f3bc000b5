"""Shared test set-up. Emulator fixtures (Azurite, moto's server) live in tests/fixtures/."""

import pytest

pytest_plugins = ["tests.fixtures.emulators", "tests.fixtures.logs", "tests.fixtures.edc"]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own state directory and fresh settings."""
    from mvd_core.settings import get_settings

    monkeypatch.setenv("MVD_HOME", str(tmp_path / "mvd-home"))
    # Simulated clusters unless a test asks for the real runtimes (MVD_TARGETS=embedded): plan,
    # drift and orchestration are tested in seconds, the EDC runtimes where they are the point.
    monkeypatch.setenv("MVD_TARGETS", "simulated")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
