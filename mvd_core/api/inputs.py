"""What a client sends, parsed so that no input can make the parser itself fail: JSON bodies
(deep nesting, numbers longer than Python converts) and whole numbers in headers and query
strings (Unicode digits, signs, underscores, thousands of digits). Each refusal is an
``MvdError`` (400) naming the problem."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from mvd_core.errors import MvdError

# The API's bodies are two levels deep; nothing a caller needs comes near this.
MAX_JSON_DEPTH = 32
_ASCII_DIGITS = re.compile(r"[0-9]+")


def json_object(body: bytes, what: str = "request body") -> dict[str, Any]:
    """``body`` as a JSON object, ``{}`` when it is empty; ``what`` names it in the errors."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except RecursionError:
        raise MvdError(f"{what} is nested too deeply (the limit is {MAX_JSON_DEPTH} levels)") from None
    except json.JSONDecodeError:
        raise MvdError(f"{what} is not valid JSON") from None
    except UnicodeDecodeError:
        raise MvdError(f"{what} is not valid JSON (not UTF-8, -16 or -32 text)") from None
    except ValueError:  # a number past Python's int-string conversion limit
        raise MvdError(f"{what} holds a number with too many digits") from None
    if not isinstance(data, dict):
        raise MvdError(f"{what} must be a JSON object")
    if depth(data) > MAX_JSON_DEPTH:
        raise MvdError(f"{what} is nested too deeply (the limit is {MAX_JSON_DEPTH} levels)")
    return data


def depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0), counted without
    recursion; stops counting once past ``MAX_JSON_DEPTH``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def whole_number(raw: str, lowest: int, highest: int) -> int | None:
    """``raw`` as an int from ``lowest`` to ``highest``, or None: ASCII digits only (``int()``
    would also take "١", " 5", "+5" and "1_0"), and never more digits than ``highest`` has, so
    a 5000-digit value is refused before any conversion."""
    if len(raw) > len(str(highest)) or not _ASCII_DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if lowest <= value <= highest else None
