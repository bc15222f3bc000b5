"""`mvd clusters ...`: each participant's cluster (saying when it is simulated) and what runs on it."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mvd_core.cli.common import FileOption, TargetsOption, load_dataspace
from mvd_core.cli.console import fail, out
from mvd_core.errors import MvdError
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.render import WORKLOAD_KINDS, render_participant

app = typer.Typer(help="Participants' Kubernetes clusters: what they are and what runs on them.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Participants' Kubernetes clusters."""


def _status(dataspace: Any, settings: Any, participant: Any, dids: dict[str, str]) -> dict[str, Any]:
    from mvd_core.platforms.clusters import ClusterMissing, open_cluster_source
    from mvd_core.platforms.kubernetes import workloads

    if participant.cluster.kind == "processes":
        return _processes_status(settings, participant)
    source = open_cluster_source(participant.cluster, participant.id, settings)
    row: dict[str, Any] = {
        "participant": participant.id,
        "kind": source.kind,
        "simulated": source.simulated,
        "cluster": source.describe(),
        "objects": 0,
        "runtimes": "-",
        "error": None,
    }
    try:
        api = source.api_client()
        observed = workloads.observe(api, participant.id, dataspace.name)
        row["objects"] = len(observed)
        if observed:
            desired = render_participant(dataspace, participant, dids, settings)
            status = workloads.rollout_status(api, [o for o in desired if o["kind"] in WORKLOAD_KINDS])
            ready = sum(1 for s in status.objects if s.ready)
            row["runtimes"] = f"{ready}/{len(status.objects)} ready"
    except ClusterMissing:
        row["runtimes"] = "cluster not created yet"
    except MvdError as exc:
        row["error"] = exc.local_message
    return row


def _processes_status(settings: Any, participant: Any) -> dict[str, Any]:
    """A participant whose runtimes run as processes on this machine: no cluster, its runtimes."""
    from mvd_core.platforms.processes import ProcessPlatform

    states = ProcessPlatform(settings.home).status(participant.id)
    ready = sum(1 for s in states if s.state == "ready")
    return {
        "participant": participant.id,
        "kind": "processes",
        "simulated": False,
        "cluster": "no cluster: local processes on this machine",
        "objects": len(states),
        "runtimes": f"{ready}/{len(states)} ready" if states else "not started",
        "error": None,
    }


@app.command("status")
def status(
    file: FileOption = None,
    targets: TargetsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show each participant's cluster, whether it is simulated, and its managed objects."""
    try:
        dataspace, settings, _ = load_dataspace(file, targets)
        dids = dataspace_dids(dataspace, settings)
        rows = [_status(dataspace, settings, p, dids) for p in dataspace.participants]
    except MvdError as exc:
        fail(exc.local_message)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Clusters of {dataspace.name}")
    for col in ("participant", "cluster", "objects", "runtimes"):
        table.add_column(col)
    for r in rows:
        cluster = escape(r["cluster"]) + (" [bold yellow](SIMULATED)[/]" if r["simulated"] else "")
        runtimes = f"[red]{escape(r['error'])}[/]" if r["error"] else escape(r["runtimes"])
        table.add_row(r["participant"], cluster, str(r["objects"]), runtimes)
    out.print(table)
    if any(r["error"] for r in rows):
        raise typer.Exit(1)
