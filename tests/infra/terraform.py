"""Read infra/ the way the tests need it: HCL parsed with python-hcl2, README tables parsed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MODULE = INFRA / "modules" / "participants"
README = INFRA / "README.md"

_OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False, preserve_heredocs=False
)


def parse_file(path: Path) -> dict[str, Any]:
    with path.open() as f:
        return hcl2.load(f, serialization_options=_OPTIONS)


@dataclass(frozen=True)
class Config:
    """The blocks of one Terraform module directory, merged across its files."""

    files: dict[str, dict[str, Any]]

    def blocks(self, kind: str) -> list[dict[str, Any]]:
        return [block for doc in self.files.values() for block in doc.get(kind, [])]

    def resources(self, rtype: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for block in self.blocks("resource"):
            for name, body in block.get(rtype, {}).items():
                assert name not in found, f"resource {rtype}.{name} declared twice"
                found[name] = body
        return found

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        resources = self.resources(rtype)
        assert name in resources, f"infra declares no {rtype}.{name} (has: {sorted(resources)})"
        return resources[name]

    def resource_types(self) -> set[str]:
        return {rtype for block in self.blocks("resource") for rtype in block}

    @property
    def locals(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for block in self.blocks("locals"):
            for key, value in block.items():
                assert key not in merged, f"local.{key} declared twice"
                merged[key] = value
        return merged

    @property
    def variables(self) -> dict[str, dict[str, Any]]:
        return {name: body for block in self.blocks("variable") for name, body in block.items()}

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return {name: body for block in self.blocks("output") for name, body in block.items()}


@cache
def load(directory: Path = INFRA) -> Config:
    files = {p.name: parse_file(p) for p in sorted(directory.glob("*.tf"))}
    assert files, f"no .tf files in {directory}"
    return Config(files)


def readme_table(marker: str) -> list[dict[str, str]]:
    """Rows of the markdown table between <!-- {marker}:begin --> and <!-- {marker}:end -->."""
    text = README.read_text()
    match = re.search(rf"<!-- {marker}:begin -->\n(.*?)<!-- {marker}:end -->", text, re.DOTALL)
    assert match, f"infra/README.md has no table marked {marker}"
    lines = [line.strip() for line in match.group(1).strip().splitlines()]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == len(header), f"README table {marker}: malformed row {line!r}"
        rows.append(dict(zip(header, cells)))
    return rows


def unquote(cell: str) -> str:
    """`value` -> value (markdown code span)."""
    return cell[1:-1] if len(cell) >= 2 and cell[0] == cell[-1] == "`" else cell
