import pytest

from blueprints import _runtime
from tests.commands.support import (  # noqa: F401
    azure_queue,
    registry,
    sqlite_registry,
    storage_env,
    table_registry,
)


@pytest.fixture
def storage(table_registry, azure_queue, monkeypatch):  # noqa: F811 (the imported fixtures)
    """The app's registry and queue on Azurite, with names of this test's own."""
    _runtime.reset_caches()
    monkeypatch.setattr(_runtime, "registry", lambda: table_registry)
    monkeypatch.setattr(_runtime, "queue", lambda: azure_queue)
    return table_registry, azure_queue
