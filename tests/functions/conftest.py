from tests.commands.support import (  # noqa: F401
    azure_queue,
    registry,
    sqlite_registry,
    storage_env,
    table_registry,
)
