"""Options and loading shared by the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mvd_core.dataspace import Dataspace, load_targeted
from mvd_core.dataspace.placeholders import refuse_placeholders
from mvd_core.dataspace.targets import Targets
from mvd_core.settings import Settings, get_settings

FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        "-f",
        help="Blueprint YAML (default: MVD_DATASPACE_FILE, else the packaged seed dataspace).",
        dir_okay=False,
    ),
]
TargetsOption = Annotated[
    str | None,
    typer.Option(
        "--targets",
        help="embedded (runtimes as local processes, local vault and DIDs), simulated (simulated clusters instead of runtimes) or declared (what the blueprint names). Default: MVD_TARGETS.",
    ),
]


def resolve_targets(value: str | None, settings: Settings) -> Targets:
    chosen = value or settings.targets
    if chosen not in ("embedded", "simulated", "declared"):
        raise typer.BadParameter(f"{chosen!r} is not one of: embedded, simulated, declared", param_hint="--targets")
    return chosen  # type: ignore[return-value]


def load_dataspace(
    file: Path | None, targets: str | None = None, *, deploying: bool = False
) -> tuple[Dataspace, Settings, Targets]:
    """The targeted blueprint. ``deploying`` (render, plan): the declared targets refuse placeholders."""
    settings = get_settings()
    chosen = resolve_targets(targets, settings)
    dataspace = load_targeted(settings, file=file, targets=chosen)
    if deploying and chosen == "declared":
        refuse_placeholders(dataspace, file or settings.dataspace_file, settings.base_url)
    return dataspace, settings, chosen
