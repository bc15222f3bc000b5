"""Load a blueprint from YAML into ``Dataspace``, with errors that name file, line and field.

Every failure is a ``BlueprintError`` listing all problems; nothing else escapes. YAML
aliases are refused (a blueprint never needs them and they allow "billion laughs"),
duplicate keys are errors (the later one would silently win otherwise), and so are
characters YAML cannot hold (a NUL byte), numbers longer than any field takes and nesting
deeper than any blueprint needs: each named with its line and, where it has one, its field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from mvd_core.dataspace.models import Dataspace, DidHost, char_name, did_collisions
from mvd_core.errors import MvdError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32  # a blueprint's deepest value (participants[i].identity.host.path[j]) is at 7
MAX_NUMBER_LENGTH = 32
MAX_PROBLEMS = 50
DEFAULT_NAME = "default-dataspace.yaml"

Loc = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path}: {self.message}" if self.path else f"{where}{self.message}"


class BlueprintError(MvdError):
    status = 422

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class _Refused(yaml.constructor.ConstructorError):
    """YAML that parses but that a blueprint does not accept (aliases, depth, long numbers)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting, and knows the path it is composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.path: list[Any] = []


def _compose_node(self: _Loader, parent: Any, index: Any) -> Any:
    # SafeLoader.compose_node passes the key node as ``index`` when composing a mapping
    # value, the position for a sequence item, and None for a key or the document.
    step = index.value if isinstance(index, yaml.ScalarNode) else index if isinstance(index, int) else None
    if parent is not None and step is not None:
        self.path.append(step)
    try:
        if self.check_event(yaml.AliasEvent):
            raise _Refused(None, None, "YAML aliases are not allowed in a blueprint", self.peek_event().start_mark)
        if len(self.path) >= MAX_DEPTH:
            raise _Refused(None, None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
        return yaml.SafeLoader.compose_node(self, parent, index)
    except yaml.MarkedYAMLError as exc:
        if not hasattr(exc, "mvd_path"):
            exc.mvd_path = tuple(self.path)  # type: ignore[attr-defined]
        raise
    finally:
        if parent is not None and step is not None:
            self.path.pop()


_Loader.compose_node = _compose_node  # type: ignore[method-assign,assignment]


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise _Refused(None, None, "mapping keys must be plain scalars", key_node.start_mark) from None
        if key in seen:
            raise _Refused(None, None, f"duplicate key {_show_key(key)}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


def _number(constructor: Any) -> Any:
    """A YAML int/float constructor that first refuses numbers longer than any field takes
    (Python refuses to convert an int of more than 4300 digits, with no line to show)."""

    def construct(loader: _Loader, node: yaml.ScalarNode) -> Any:
        digits = sum(c.isdigit() for c in node.value)
        if len(node.value) > MAX_NUMBER_LENGTH:
            raise _Refused(None, None, f"a number with {digits} digits is longer than any field takes", node.start_mark)
        return constructor(loader, node)

    return construct


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:int", _number(yaml.SafeLoader.construct_yaml_int))
_Loader.add_constructor("tag:yaml.org,2002:float", _number(yaml.SafeLoader.construct_yaml_float))


def _line_index(node: yaml.Node | None, path: Loc = (), out: dict[Loc, int] | None = None) -> dict[Loc, int]:
    """Map each value's path (keys and list indexes) to its 1-based line: the line of its key
    in a mapping (where the field is named), of the item itself in a sequence."""
    out = {} if out is None else out
    if node is None:
        return out
    out.setdefault(path, node.start_mark.line + 1)
    for child_path, child in _children(node, path):
        _line_index(child, child_path, out)
    return out


def _children(node: yaml.Node, path: Loc) -> Iterator[tuple[Loc, yaml.Node]]:
    """(path, node) of each key and value of a mapping, each item of a sequence. A key's path
    is the path of its value: an error about a key points at the key's line."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                yield path + (key_node.value,), key_node
                yield path + (key_node.value,), value_node
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield path + (i,), item


def _path_at(node: yaml.Node | None, index: int, path: Loc = ()) -> Loc:
    """The path of the innermost key or value whose text spans character ``index``."""
    if node is None:
        return ()
    for child_path, child in _children(node, path):
        if child.start_mark.index <= index < max(child.end_mark.index, child.start_mark.index + 1):
            return _path_at(child, index, child_path)
    return path


def _show_key(key: Any) -> str:
    text = repr(key)
    return text if len(text) <= 40 else text[:40] + "..."


def _format_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(part, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", part):
            text += ("." if text else "") + part
        else:
            text += f"[{_show_key(part)}]"
    return text


def _parse_loc(text: str) -> Loc | None:
    """``participants[1].identity.host`` -> ("participants", 1, "identity", "host")."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(\[[0-9]+\])*(\.[A-Za-z][A-Za-z0-9]*(\[[0-9]+\])*)*", text):
        return None
    return tuple(int(p) if p.isdigit() else p for p in re.findall(r"[A-Za-z][A-Za-z0-9]*|[0-9]+", text))


def _clean(message: str, limit: int = 300) -> str:
    """A message as it may be printed: non-printable characters escaped, at most ``limit`` long."""
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in message)
    return text if len(text) <= limit else text[:limit] + "..."


def _line(loc: Loc, lines: dict[Loc, int]) -> int | None:
    return next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)


def _problems(err: ValidationError, lines: dict[Loc, int]) -> list[Problem]:
    problems: list[Problem] = []
    for e in err.errors(include_url=False):
        # Drop pydantic's union-tag segments ("simulated", "function-after[...]") from the path.
        base = tuple(p for p in e["loc"] if isinstance(p, int) or not (str(p).startswith("function-") or p in _TAGS))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        # Model-level rules name their field as "field: ..." or "participants[1].identity.host: ...",
        # one problem a line (see models.Runtimes._one_catalog, models.Dataspace._a_did_each).
        problems.extend(_problem(base, text, lines) for text in msg.split("\n"))
    return problems


def _problem(base: Loc, text: str, lines: dict[Loc, int]) -> Problem:
    head, sep, rest = text.partition(": ")
    where = _parse_loc(head) if sep else None
    loc, text = (base + where, rest) if where else (base, text)
    return Problem(_format_loc(loc), _clean(text), _line(loc, lines))


_HOST: TypeAdapter[DidHost] = TypeAdapter(DidHost)


def _did_collisions(data: dict[Any, Any]) -> list[str]:
    """``models.did_collisions`` over the participants whose DID host is valid, for a
    blueprint that failed elsewhere (the model-level rule runs only on a valid one)."""
    participants = data.get("participants")
    if not isinstance(participants, list):
        return []
    hosts: list[tuple[str, DidHost | None]] = []
    for item in participants:
        item = item if isinstance(item, dict) else {}
        identity = item["identity"] if isinstance(item.get("identity"), dict) else {}
        try:
            host = _HOST.validate_python(identity.get("host"))
        except ValidationError:
            host = None
        hosts.append((item["id"] if isinstance(item.get("id"), str) else "?", host))
    return did_collisions(hosts)


_TAGS = {"simulated", "processes", "kubeconfig", "aks", "cloudflare", "azure-blob", "s3", "local", "azure-key-vault"}


def _compose(text: str) -> yaml.Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")  # as YAML counts lines


def _unreadable_characters(text: str) -> list[Problem]:
    """Characters YAML refuses to read (NUL, most control characters): each with its line and
    the field it is in, found by reading a copy with the character replaced."""
    found = [m.start() for m in yaml.reader.Reader.NON_PRINTABLE.finditer(text)]
    if not found:
        return []
    readable = yaml.reader.Reader.NON_PRINTABLE.sub("\ufffd", text)
    try:
        root = _compose(readable)
    except (yaml.YAMLError, RecursionError):
        root = None
    problems = []
    for index in found[:MAX_PROBLEMS]:
        line = len(_LINE_BREAK.findall(text, 0, index)) + 1
        message = f"contains {char_name(text[index])}, which a YAML file cannot hold"
        problems.append(Problem(_format_loc(_path_at(root, index)), message, line))
    return problems


def parse(text: str, source: str = "<blueprint>") -> Dataspace:
    """Parse and validate blueprint YAML text."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise BlueprintError(source, [Problem("", f"file is larger than {MAX_BYTES} bytes")])
    unreadable = _unreadable_characters(text)
    if unreadable:
        raise BlueprintError(source, unreadable)
    node = None
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # Composing, the loader knew the path; constructing, the node tree is complete.
        loc = getattr(exc, "mvd_path", None)
        if loc is None and node is not None and mark is not None:
            loc = _path_at(node, mark.index)
        message = exc.problem or exc.context or "not valid YAML"
        if not isinstance(exc, _Refused):
            message = f"invalid YAML: {message}"
        line = mark.line + 1 if mark else None
        raise BlueprintError(source, [Problem(_format_loc(loc or ()), _clean(message), line)]) from None
    except (yaml.YAMLError, RecursionError, UnicodeError, ValueError) as exc:
        raise BlueprintError(source, [Problem("", f"invalid YAML: {type(exc).__name__}")]) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise BlueprintError(
            source, [Problem("", f"a blueprint is a mapping (apiVersion, name, participants...), got {kind}")]
        )
    try:
        return Dataspace.model_validate(data)
    except ValidationError as err:
        lines = _line_index(node)
        problems = _problems(err, lines)
        problems += [p for p in (_problem((), text, lines) for text in _did_collisions(data)) if p not in problems]
        raise BlueprintError(source, problems[:MAX_PROBLEMS]) from None


def load(path: Path | str | None = None) -> Dataspace:
    """Load a blueprint file, or the packaged default dataspace when ``path`` is None."""
    if path is None:
        text = resources.files("mvd_core.dataspace").joinpath(DEFAULT_NAME).read_text("utf-8")
        return parse(text, f"(default) {DEFAULT_NAME}")
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise BlueprintError(str(p), [Problem("", f"file is larger than {MAX_BYTES} bytes")])
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise MvdError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise MvdError(f"{p}: is a directory, expected a blueprint YAML file") from None
    except UnicodeDecodeError:
        raise BlueprintError(str(p), [Problem("", "file is not UTF-8 text")]) from None
    except OSError as exc:
        raise MvdError(f"{p}: cannot read ({exc.strerror})") from None
    return parse(text, str(p))
