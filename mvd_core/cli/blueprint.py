"""`mvd validate`, `mvd render`, `mvd plan`: read a blueprint, never change anything remote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape

from mvd_core.cli.common import FileOption, TargetsOption, load_dataspace, resolve_targets
from mvd_core.cli.console import err, out
from mvd_core.dataspace import load
from mvd_core.dataspace.loader import BlueprintError
from mvd_core.dataspace.models import Dataspace, Participant
from mvd_core.dataspace.placeholders import refuse_placeholders
from mvd_core.plan.cloud import makes_vault_identity, runtimes_identity_name
from mvd_core.plan.desired import dataspace_dids, render_dataspace
from mvd_core.plan.exposure import RUNTIMES_SERVICE_ACCOUNT, vault_secret_provider
from mvd_core.plan.planner import Plan, make_plan
from mvd_core.plan.render import runtime_images
from mvd_core.settings import get_settings
from mvd_core.workflow import connect


def validate(
    file: Annotated[Path | None, typer.Argument(help="Blueprint YAML; the packaged default when omitted.")] = None,
    targets: TargetsOption = None,
) -> None:
    """Check a blueprint: prints OK, or every problem with its field path and line (exit 1).
    With the declared targets, also every placeholder an operator must fill in."""
    settings = get_settings()
    chosen = resolve_targets(targets, settings)
    try:
        dataspace = load(file)
        if chosen == "declared":
            refuse_placeholders(dataspace, file, settings.base_url)
    except BlueprintError as exc:
        err.print(f"[bold red]{exc.source}[/]: {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            err.print(f"  - {problem}", markup=False)
        raise typer.Exit(1) from None
    out.print(
        f"OK: dataspace [bold]{dataspace.name}[/] with {len(dataspace.participants)} participant(s): "
        + ", ".join(p.id for p in dataspace.participants)
        + (" (ready for the declared targets)" if chosen == "declared" else "")
    )


def _dump_yaml(obj: dict) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=120)


def render(
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Directory to write into (created).", file_okay=False)
    ] = Path("out"),
    file: FileOption = None,
    targets: TargetsOption = None,
) -> None:
    """Write every participant's Kubernetes objects, did.json and cloud resources to a directory."""
    dataspace, settings, chosen = load_dataspace(file, targets, deploying=True)
    states = render_dataspace(dataspace, settings, connect.public_keys_for_render(settings, chosen))
    images = image_list(dataspace)
    written = 0
    for state in states:
        base = out_dir / state.participant.id
        k8s = base / "k8s"
        k8s.mkdir(parents=True, exist_ok=True)
        for stale in k8s.glob("*.yaml"):
            stale.unlink()
        for i, obj in enumerate(state.objects):
            name = f"{i:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
            (k8s / name).write_text(_dump_yaml(obj), "utf-8")
            written += 1
        (base / "did.json").write_text(json.dumps(state.did_document, indent=2) + "\n", "utf-8")
        (base / "cloud.json").write_text(
            json.dumps({"targets": chosen, "resources": state.cloud}, indent=2) + "\n", "utf-8"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "images.json").write_text(json.dumps(images, indent=2) + "\n", "utf-8")
    out.print(
        f"Rendered {len(states)} participant(s), {written} Kubernetes objects, into {out_dir}/ (targets: {chosen})"
    )
    for state in states:
        if makes_vault_identity(state.participant):
            out.print(f"note: {identity_left_out(state.participant)}", markup=False)
    out.print(f"Images ({out_dir}/images.json):")
    width = max(len(entry["image"]) for entry in images)
    for entry in images:
        out.print(f"  {entry['image']:<{width}}  {', '.join(entry['usedBy'])}  from {entry['source']}", markup=False)


def identity_left_out(participant: Participant) -> str:
    """Why an offline render of a participant whose vault identity the cluster step makes has
    neither that identity's annotation on ServiceAccount runtimes nor its SecretProviderClass."""
    return (
        f"{participant.id}: ServiceAccount {RUNTIMES_SERVICE_ACCOUNT} has no workload identity annotation and "
        f"SecretProviderClass {vault_secret_provider(participant)} is left out: the cluster step makes the "
        f"runtimes' vault identity {runtimes_identity_name(participant.id)}, which render does not look up "
        "(set vault.clientId and vault.tenantId to render with one, or run `mvd plan` to see the live one)"
    )


def image_list(dataspace: Dataspace) -> list[dict[str, Any]]:
    """Every image the rendered objects name, once each: what uses it and where it is declared."""
    by_image: dict[tuple[str, str], list[str]] = {}
    for participant in dataspace.participants:
        for workload, ref in runtime_images(dataspace, participant).items():
            by_image.setdefault((ref.image, ref.source), []).append(f"{participant.id}/{workload}")
    return [
        {"image": image, "source": source, "usedBy": used_by} for (image, source), used_by in sorted(by_image.items())
    ]


def print_plan(plan: Plan) -> None:
    out.print(f"Plan for dataspace [bold]{plan.dataspace}[/] (targets: {plan.targets})\n")
    for p in plan.participants:
        cluster = "simulated cluster" if p.cluster == "simulated" else f"{p.cluster} cluster"
        out.print(f"[bold]{p.participant}[/]  {p.display_name}  ({cluster})")
        if p.note:
            out.print(f"  [cyan]note: {escape(p.note)}[/]")
        for key in p.diff.create:
            out.print(f"  [green]+ {key}[/]")
        for changed in p.diff.update:
            out.print(f"  [yellow]~ {changed.key}[/]")
            for change in changed.fields:
                out.print(f"      {change}", markup=False)
        for key in p.diff.delete:
            out.print(f"  [red]- {key}[/]")
        if p.diff.unchanged:
            out.print(f"  [dim]= {len(p.diff.unchanged)} unchanged[/]")
        out.print()
    create, update, delete = plan.counts
    if create == update == delete == 0:
        out.print("No changes: every cluster matches the baseline.")
    else:
        out.print(f"Plan: [green]{create} to create[/], [yellow]{update} to change[/], [red]{delete} to delete[/].")


def plan(
    file: FileOption = None,
    targets: TargetsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what a provision would create, change or delete in each participant's cluster."""
    dataspace, settings, chosen = load_dataspace(file, targets, deploying=True)
    result = make_plan(
        dataspace,
        dataspace_dids(dataspace, settings),
        chosen,
        settings,
        connect.observer(settings, dataspace.name),
        connect.runtime_plan(settings),
        connect.as_rendered(settings),
    )
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_plan(result)
