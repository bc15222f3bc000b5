"""`mvd up`, `mvd serve`, and the commands that start or show runs."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from typing import Annotated

import typer
from rich.text import Text

from mvd_core.api.models import DataspaceView
from mvd_core.cli import target
from mvd_core.cli.client import InProcessControlPlane, connect, reader
from mvd_core.cli.console import out
from mvd_core.cli.progress import follow, run_detail
from mvd_core.dataspace import load_targeted
from mvd_core.errors import MvdError
from mvd_core.runs import Action
from mvd_core.settings import get_settings

ApiOption = Annotated[
    str | None, typer.Option("--api", help="Control plane URL (default: the local `mvd serve`, else run in process).")
]
WaitOption = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Follow the run until it ends (exit 1 if it fails).")
]


def _command(
    action: Action,
    api: str | None,
    wait: bool,
    rotate_keys: list[str] | None = None,
    confirm: Callable[[DataspaceView], None] | None = None,
) -> None:
    cp = connect(get_settings(), api)
    try:
        if confirm is not None:
            confirm(cp.dataspace())
        accepted = cp.submit(action, rotate_keys or [])
        how = "joined the run already going" if accepted.coalesced else "started"
        out.print(f"{action}: {how}: [cyan]{accepted.run_id}[/] ({cp.description})")
        if wait or isinstance(cp, InProcessControlPlane):
            run = follow(cp, accepted.run_id)
            if run.status != "completed":
                raise typer.Exit(1)
    finally:
        cp.close()


def provision(api: ApiOption = None, wait: WaitOption = False) -> None:
    """Deploy the dataspace: converge every participant to the blueprint."""
    _command("provision", api, wait)


def reset(api: ApiOption = None, wait: WaitOption = False) -> None:
    """Reset the dataspace to its baseline: restart runtimes, undo drift, drop onboarded participants."""
    _command("reset", api, wait)


def teardown(
    api: ApiOption = None,
    wait: WaitOption = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts).")] = False,
) -> None:
    """Remove every participant's workloads and DID document (keys stay, so DIDs stay stable)."""
    if not yes and not sys.stdin.isatty():
        raise MvdError(
            "teardown removes every participant's workloads and DID document; "
            "pass --yes to confirm when not running in a terminal"
        )
    _command("teardown", api, wait, confirm=None if yes else _confirm_teardown)


def _confirm_teardown(view: DataspaceView) -> None:
    """Like ``terraform destroy``: the dataspace's name typed back, or ``--yes``."""
    ids = ", ".join(p.id for p in view.participants)
    out.print(
        f"Teardown removes the workloads and DID documents of [bold]{view.name}[/]: {ids}.\n"
        "Signing keys stay, so the DIDs stay the same after the next provision."
    )
    answer = typer.prompt(f"Type the dataspace name ({view.name}) to confirm", default="", show_default=False)
    if answer.strip() != view.name:
        out.print("Teardown cancelled.")
        raise typer.Exit(1)


def rotate_keys(
    participants: Annotated[list[str], typer.Argument(help="Participant id(s) whose signing key is replaced.")],
    api: ApiOption = None,
    wait: WaitOption = False,
) -> None:
    """Replace participants' signing keys (a reset run that publishes the new DID documents)."""
    _command("reset", api, wait, participants)


def status(api: ApiOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The dataspace: participants, clusters, DIDs and whether they resolve, current and last run."""
    with reader(get_settings(), api) as cp:
        view = cp.dataspace()
    if as_json:
        print(json.dumps(view.wire(), indent=2))
        return
    out.print(
        f"[bold]{view.display_name or view.name}[/] ({view.name}), targets: {view.targets}, "
        f"nightly reset: {view.reset_schedule}"
    )
    # Nothing was published before a first provision, nor after a teardown: not an alarm then.
    latest = view.current_run or view.last_run
    deployed = latest is not None and latest.action != "teardown"
    for p in view.participants:
        cluster = "simulated cluster" if p.simulated else f"{p.cluster_kind} cluster"
        rt = p.runtimes
        resolves = {
            True: Text("resolves", "green"),
            None: Text("?"),
            False: Text(f"does not resolve ({p.resolve_error})", "red"),
        }[p.resolves]
        if p.resolves is False and not deployed:
            resolves = Text("not published yet (provision publishes it)", "dim")
        host = p.did_host if p.did_host == p.declared_did_host else f"{p.declared_did_host}, served locally"
        out.print(
            Text.assemble(
                "  ",
                (p.display_name, "bold"),
                f" ({p.id}) {cluster}: connector x{rt.connector_replicas}, "
                f"data plane x{rt.data_plane_replicas}, catalog {rt.catalog}, "
                f"UI {'on' if rt.connector_ui else 'off'}",
            )
        )
        out.print(Text.assemble(f"    {p.did}  ({host})  ", resolves))
        if p.catalog is not None:
            found = p.catalog
            if found.datasets is not None:
                out.print(
                    f"    catalog ({rt.catalog}) finds {found.datasets} dataset(s) "
                    f"of {found.participants} participant(s)"
                )
            else:
                out.print(Text(f"    catalog: {found.note}", "dim"))
    for label, run in (("running", view.current_run), ("last run", view.last_run)):
        if run:
            out.print(f"  {label}: {run.action} {run.id} {run.status} ({run.source})")
    for poison in view.poison:
        out.print(Text.assemble(("  poison command ", "red"), f"{poison.id}: {poison.reason}"))


def runs(
    run_id: Annotated[
        str | None, typer.Argument(help="A run to show step by step (default: list recent runs).")
    ] = None,
    api: ApiOption = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recent runs, newest first; or one run with every participant's steps, details and errors."""
    with reader(get_settings(), api) as cp:
        if run_id is not None:
            run = cp.run(run_id)
            if run is None:
                raise MvdError(f"no run {run_id!r} at {cp.description}")
            items = [run]
        else:
            items = cp.runs(limit)
    if as_json:
        print(json.dumps([r.wire() for r in items] if run_id is None else items[0].wire(), indent=2))
        return
    if run_id is not None:
        out.print(run_detail(items[0]), soft_wrap=True)
        return
    if not items:
        out.print("no runs yet")
    for r in items:
        took = f"{r.duration_ms / 1000:.1f}s" if r.duration_ms is not None else "-"
        out.print(
            f"{r.created_at:%Y-%m-%d %H:%M:%S}  {r.action:9} {r.status:9} {took:>7}  {r.source:7} {r.id}"
            + (f"  ({len(r.failures)} failure(s))" if r.failures else "")
        )


def _serve_forever(cp: InProcessControlPlane) -> None:
    from mvd_core.host.schedule import Scheduler, describe

    host = cp.host
    sched = host.reset_schedule()

    def nightly_reset() -> None:
        host.submit("reset", "timer")

    scheduler = Scheduler(sched.reset, sched.timezone, nightly_reset)
    scheduler.start()
    url = host.settings.base_url
    out.print(f"Dashboard: [bold]{url}/[/]   API: {url}/api   nightly reset: {describe(sched, host.settings)}")
    if cp.token_created:
        out.print(f"API token (shown once, kept in {host.settings.home}/api-token): [bold]{cp.token}[/]")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    out.print("Serving; Ctrl-C to stop.")
    stop.wait()
    out.print("stopping…")
    scheduler.stop()


def serve() -> None:
    """Serve the API, the dashboard and local DID documents; run the nightly reset. Runtimes an
    earlier process ran are adopted or restarted (then a provision re-creates their state)."""
    from mvd_core.host.recovery import provision_if_needed

    cp = InProcessControlPlane.start(get_settings(), recover=True)
    try:
        target.say_recovery(provision_if_needed(cp.host, cp.recovery) if cp.recovery else None)
        _serve_forever(cp)
    finally:
        cp.close()


def up(
    once: Annotated[
        bool, typer.Option("--once", help="Exit after the provision, with its status as exit code.")
    ] = False,
) -> None:
    """The embedded default: serve, provision the dataspace with live progress, print the DIDs
    and the runtimes ready, keep serving."""
    settings = get_settings()
    dataspace = load_targeted(settings)
    out.print(f"[bold]MVD control plane[/]: dataspace {dataspace.name}, state in {settings.home}")
    out.print(Text(f"target {target.describe(dataspace, settings.targets)}"))
    target.assemble(dataspace)  # before anything starts: a missing JDK or Maven is one line
    cp = InProcessControlPlane.start(settings, recover=True)
    try:
        host = cp.host
        target.say_recovery(cp.recovery)  # the provision below re-creates what restarted runtimes lost
        accepted = host.submit("provision", "cli")
        run = follow(cp, accepted.run_id)
        participants = cp.dataspace().participants
        # Plain columns, never a table: a DID must print whole, whatever the terminal width.
        names = max(len(p.display_name) for p in participants)
        dids = max(len(p.did) for p in participants)
        for p in participants:
            mark = Text("✓ resolves", "green") if p.resolves else Text(f"✗ {p.resolve_error}", "red")
            out.print(Text.assemble(f"  {p.display_name:<{names}}  {p.did:<{dids}}  ", mark), soft_wrap=True)
            ready = target.ready_runtimes(host.dataspace, settings, p.id)
            if ready is not None:
                out.print(Text.assemble(f"  {'':<{names}}  ", ready), soft_wrap=True)
        if once:
            out.print(f"Dashboard was: {host.settings.base_url}/ (stopped: --once)")
            if run.status != "completed":
                raise typer.Exit(1)
            return
        _serve_forever(cp)
    finally:
        cp.close()
