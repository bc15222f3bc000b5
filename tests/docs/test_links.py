"""Every relative link in the project's Markdown points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "node_modules", ".mvd", "test-artifacts", ".pytest_cache"}
# [text](target) and ![alt](target); the target ends at whitespace or ')'
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_files() -> list[Path]:
    return sorted(
        p for p in ROOT.rglob("*.md") if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)
    )


def relative_targets(text: str) -> list[str]:
    targets = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # absolute URL (http:, mailto:) or an anchor in the same page
        targets.append(target.split("#", 1)[0])
    return targets


def test_the_link_pattern_finds_relative_links_only() -> None:
    text = "[a](docs/x.md) ![b](img.png) [c](https://e.x/y) [d](#top) [e](../up.md#sec)"
    assert relative_targets(text) == ["docs/x.md", "img.png", "../up.md"]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    missing = [
        target
        for target in relative_targets(path.read_text("utf-8"))
        if not (path.parent / target).resolve().exists()
    ]
    assert not missing, f"{path.relative_to(ROOT)} links to files that do not exist: {missing}"


def test_the_docs_name_no_file_outside_the_repository() -> None:
    """The seed's own files (spec/, DESIGN.md) live outside this repository: name docs/ instead."""
    offenders = []
    for path in [*markdown_files(), *ROOT.joinpath("mvd_core").rglob("*.py")]:
        text = path.read_text("utf-8")
        if re.search(r"spec/deployment-scenario\.md|\bDESIGN\.md\b", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"these name documents that are not in the repository: {offenders}"
