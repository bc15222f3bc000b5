from tests.commands.support import (  # noqa: F401
    registry,
    sqlite_registry,
    table_registry,
)
