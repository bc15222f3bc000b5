"""Imports point down the layer order that docs/architecture.md states, never up.

Every import is read, at module level and inside functions (a late import is no way around
the order), in mvd_core/, blueprints/ and function_app.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
SOURCES = [*sorted((ROOT / "mvd_core").rglob("*.py")), *sorted((ROOT / "blueprints").rglob("*.py")), ROOT / "function_app.py"]


def layer_table() -> list[tuple[str, list[str]]]:
    """(layer, module prefixes) bottom to top, from the ```layers block of the document."""
    block = re.search(r"```layers\n(.*?)```", ARCHITECTURE.read_text("utf-8"), re.DOTALL)
    assert block, "docs/architecture.md has no ```layers block"
    table = []
    for line in block.group(1).splitlines():
        if line.strip():
            name, *modules = line.split()
            table.append((name, modules))
    return table


def layer_of(module: str, table: list[tuple[str, list[str]]]) -> int | None:
    """The index of the layer whose longest prefix names ``module`` (None: not ours)."""
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(table):
        for prefix in prefixes:
            named = module == prefix or module.startswith(prefix + ".")
            if named and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement anywhere in the file."""
    tree = ast.parse(path.read_text("utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # `from pkg import sub` may name a submodule: judge by the deepest module named
            found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return found


def upward_imports() -> list[str]:
    table = layer_table()
    problems = []
    for path in SOURCES:
        own = layer_of(module_name(path), table)
        assert own is not None, f"{path.relative_to(ROOT)} is in no layer of docs/architecture.md"
        for line, target in imports(path):
            theirs = layer_of(target, table)
            if theirs is not None and theirs > own:
                problems.append(
                    f"{path.relative_to(ROOT)}:{line} ({table[own][0]}) imports {target} ({table[theirs][0]})"
                )
    return problems


def test_the_table_names_each_module_once() -> None:
    prefixes = [p for _, modules in layer_table() for p in modules]
    assert len(prefixes) == len(set(prefixes))


def test_a_relative_import_is_resolved_against_its_package(tmp_path: Path) -> None:
    table = [("low", ["mvd_core.low"]), ("high", ["mvd_core.high"])]
    assert layer_of("mvd_core.high.x.y", table) == 1
    assert layer_of("mvd_core.lowish", table) is None
    assert layer_of("os.path", table) is None


def test_no_import_points_up_the_layers() -> None:
    problems = upward_imports()
    assert not problems, "imports that point up the layer order:\n" + "\n".join(problems)
