"""Shared test set-up. Emulator fixtures (Azurite, moto's server) live in tests/fixtures/."""

import pytest

pytest_plugins = ["tests.fixtures.emulators", "tests.fixtures.logs", "tests.fixtures.edc"]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own state directory and fresh settings."""
    from mvd_core.settings import get_settings

    monkeypatch.setenv("MVD_HOME", str(tmp_path / "mvd-home"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
