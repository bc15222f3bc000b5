"""function_app's functions, indexed once (get_functions() refuses a second call on the same
app, as the worker only ever calls it once)."""

from __future__ import annotations

from functools import lru_cache

import function_app


@lru_cache(maxsize=1)
def indexed() -> tuple:
    return tuple(function_app.app.get_functions())


def by_name() -> dict:
    return {f.get_function_name(): f for f in indexed()}
