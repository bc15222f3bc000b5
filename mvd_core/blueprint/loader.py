"""Load a blueprint from YAML into ``Dataspace``, with errors that name file, line and field.

Every failure is a ``BlueprintError`` listing all problems; nothing else escapes. YAML
aliases are refused (a blueprint never needs them and they allow "billion laughs") and
duplicate keys are errors (the later one would silently win otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mvd_core.blueprint.models import Dataspace
from mvd_core.errors import MvdError

MAX_BYTES = 1024 * 1024
DEFAULT_NAME = "default-dataspace.yaml"


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


class _Loader(yaml.SafeLoader):
    """SafeLoader that records the line of every mapping value and sequence item."""


def _compose_node(self: _Loader, parent: Any, index: Any) -> Any:
    if self.check_event(yaml.AliasEvent):
        raise yaml.composer.ComposerError(
            None, None, "YAML aliases are not allowed in a blueprint", self.peek_event().start_mark
        )
    return yaml.SafeLoader.compose_node(self, parent, index)


_Loader.compose_node = _compose_node  # type: ignore[method-assign,assignment]


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be plain scalars", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_index(node: yaml.Node | None, path: tuple[Any, ...] = (), out: dict[tuple[Any, ...], int] | None = None) -> dict[tuple[Any, ...], int]:
    """Map each value's path (keys and list indexes) to its 1-based line."""
    out = {} if out is None else out
    if node is None:
        return out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                out[path + (key_node.value,)] = key_node.start_mark.line + 1
                _line_index(value_node, path + (key_node.value,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, path + (i,), out)
    return out


def _format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _problems(err: ValidationError, lines: dict[tuple[Any, ...], int]) -> list[Problem]:
    problems = []
    for e in err.errors(include_url=False):
        # Drop pydantic's union-tag segments ("simulated", "function-after[...]") from the path.
        loc = tuple(p for p in e["loc"] if isinstance(p, int) or not (str(p).startswith("function-") or p in _TAGS))
        msg = e["msg"].removeprefix("Value error, ")
        # Model-level rules name their field as "field: ..." (see models.Runtimes._one_catalog).
        head, sep, rest = msg.partition(": ")
        if sep and head.isidentifier():
            loc, msg = loc + (head,), rest
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
        problems.append(Problem(_format_loc(loc), msg, line))
    return problems


_TAGS = {"simulated", "kubeconfig", "aks", "cloudflare", "azure-blob", "s3", "local", "azure-key-vault"}


def parse(text: str, source: str = "<blueprint>") -> Dataspace:
    """Parse and validate blueprint YAML text."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise BlueprintError(source, [Problem("", f"file is larger than {MAX_BYTES} bytes")])
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise BlueprintError(source, [Problem("", f"invalid YAML: {exc.problem or exc.context}", line)]) from None
    except (yaml.YAMLError, RecursionError, UnicodeError, ValueError) as exc:
        raise BlueprintError(source, [Problem("", f"invalid YAML: {type(exc).__name__}")]) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise BlueprintError(source, [Problem("", f"a blueprint is a mapping (apiVersion, name, participants...), got {kind}")])
    try:
        return Dataspace.model_validate(data)
    except ValidationError as err:
        raise BlueprintError(source, _problems(err, _line_index(node))) from None
    except RecursionError:
        raise BlueprintError(source, [Problem("", "blueprint is nested too deeply")]) from None


def load(path: Path | str | None = None) -> Dataspace:
    """Load a blueprint file, or the packaged default dataspace when ``path`` is None."""
    if path is None:
        text = resources.files("mvd_core.blueprint").joinpath(DEFAULT_NAME).read_text("utf-8")
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
