"""Label and field selectors as the Kubernetes API parses them (the subset clients send)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

from mvd_core.platforms.kubernetes.simulator.store import ApiError

# Terms are matched in full, with ASCII spaces around tokens as the only whitespace: a key or
# value with a control character or a Unicode space in it is refused, as the API server does.
_KEY = r"(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"
_SET = re.compile(rf"({_KEY}) +(in|notin) *\(([^()]*)\)")
_SET_VALUE = re.compile(_VALUE)
_EQUALITY = re.compile(rf"({_KEY}) *(==|=|!=) *({_VALUE})")
_EXISTS = re.compile(rf"(!?) *({_KEY})")
_FIELD = re.compile(r"(metadata\.name|metadata\.namespace) *(==|=|!=) *([a-z0-9.-]{0,253})")
_FIELD_KEY = re.compile(r"([^=!]*?) *(?:==|=|!=).*")

LabelCheck = Callable[[dict[str, str]], bool]
FieldCheck = Callable[[dict[str, Any]], bool]


def _split(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    if current.strip(" "):
        terms.append(current)
    return [t.strip(" ") for t in terms if t.strip(" ")]


def _label_in(key: str, values: Collection[str], negate: bool) -> LabelCheck:
    return lambda labels: (labels.get(key) in values) != negate


def _label_equals(key: str, value: str, negate: bool) -> LabelCheck:
    return lambda labels: (labels.get(key) == value) != negate


def _label_exists(key: str, negate: bool) -> LabelCheck:
    return lambda labels: (key in labels) != negate


def _field_equals(attr: str, value: str, negate: bool) -> FieldCheck:
    return lambda obj: (obj["metadata"].get(attr) == value) != negate


def label_matcher(selector: str | None) -> LabelCheck:
    if not selector:
        return lambda labels: True
    checks: list[LabelCheck] = []
    for term in _split(selector):
        if (m := _SET.fullmatch(term)) and all(_SET_VALUE.fullmatch(v.strip(" ")) for v in m.group(3).split(",")):
            key, op = m.group(1), m.group(2)
            values = {v.strip(" ") for v in m.group(3).split(",") if v.strip(" ")}
            checks.append(_label_in(key, values, negate=op == "notin"))
        elif m := _EQUALITY.fullmatch(term):
            key, op, value = m.groups()
            checks.append(_label_equals(key, value, negate=op == "!="))
        elif m := _EXISTS.fullmatch(term):
            negate, key = m.groups()
            checks.append(_label_exists(key, negate=bool(negate)))
        else:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {term[:100]!r}")
    return lambda labels: all(check(labels) for check in checks)


def field_matcher(selector: str | None) -> FieldCheck:
    if not selector:
        return lambda obj: True
    checks: list[FieldCheck] = []
    for term in _split(selector):
        m = _FIELD.fullmatch(term)
        if m is None:
            key = _FIELD_KEY.fullmatch(term)
            if key is not None and key.group(1) not in ("metadata.name", "metadata.namespace"):
                raise ApiError(400, "BadRequest", f"field label not supported: {key.group(1)[:100]!r}")
            raise ApiError(400, "BadRequest", f"invalid field selector: {term[:100]!r}")
        attr, op, value = m.group(1).split(".", 1)[1], m.group(2), m.group(3)
        checks.append(_field_equals(attr, value, negate=op == "!="))
    return lambda obj: all(check(obj) for check in checks)
