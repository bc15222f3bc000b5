"""`mvd did ...`: resolve any did:web DID, and show the dataspace's DIDs and whether they resolve."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text

from mvd_core.cli.common import FileOption, TargetsOption, load_dataspace
from mvd_core.cli.console import err, out
from mvd_core.errors import MvdError
from mvd_core.identity import resolver
from mvd_core.identity.document import verification_keys
from mvd_core.plan.desired import did_url, participant_did
from mvd_core.settings import get_settings
from mvd_core.workflow.connect import participant_public_key


def fail(message: str) -> None:
    # Text, not markup: DIDs contain ":key:"-like runs that rich would turn into emoji
    err.print(Text.assemble(("error:", "bold red"), " ", message))


def say(markup: str) -> None:
    out.print(markup, emoji=False)


app = typer.Typer(help="did:web identifiers: resolve them, list the dataspace's.", no_args_is_help=True)


@app.command()
def resolve(
    did: Annotated[
        str, typer.Argument(help="A did:web DID, e.g. did:web:example.com or did:web:example.com%3A8443:user")
    ],
    allow_http_loopback: Annotated[
        bool | None,
        typer.Option(
            "--allow-http-loopback/--no-allow-http-loopback",
            help="Plain HTTP for loopback hosts. Default: MVD_ALLOW_HTTP_LOOPBACK.",
        ),
    ] = None,
    allow_private: Annotated[
        bool | None,
        typer.Option(
            "--allow-private/--no-allow-private",
            help="Reach private/loopback addresses. Default: MVD_ALLOW_PRIVATE_HOSTS.",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Connect and read timeout in seconds.", min=0.1, max=60)] = 5.0,
) -> None:
    """Fetch a did:web DID's document, check it, and print it as JSON."""
    options = resolver.options_from(get_settings())
    if allow_http_loopback is not None:
        options["allow_http_loopback"] = allow_http_loopback
    if allow_private is not None:
        options["allow_private"] = allow_private
    try:
        document = resolver.resolve(did, timeout=timeout, **options)
    except resolver.ResolutionError as exc:
        fail(f"cannot resolve {did}: {exc.message}")
        raise typer.Exit(1) from None
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


@app.command()
def url(did: Annotated[str, typer.Argument(help="A did:web DID")]) -> None:
    """Print the URL a did:web DID's document is fetched from."""
    try:
        out.print(Text(resolver.did_url(did)))
    except resolver.ResolutionError as exc:
        fail(exc.message)
        raise typer.Exit(1) from None


@app.command(name="list")
def list_dids(
    file: FileOption = None,
    targets: TargetsOption = None,
    check: Annotated[bool, typer.Option("--check/--no-check", help="Resolve each DID and compare its key.")] = True,
) -> None:
    """Every participant's DID, document URL, key id, and whether the DID resolves."""
    dataspace, settings, chosen = load_dataspace(file, targets)
    failures = 0
    for participant in dataspace.participants:
        did = participant_did(participant, settings)
        say(f"[bold]{escape(participant.id)}[/]  {escape(did)}")
        out.print(Text(f"  url   {did_url(participant, settings)}"))
        try:
            jwk = participant_public_key(participant, settings)
            kid = jwk["kid"] if jwk else None
            out.print(Text(f"  key   {kid or 'none yet'}"))
        except MvdError as exc:
            kid = None
            out.print(Text(f"  key   unavailable: {exc.message}"))
        if not check:
            continue
        try:
            served = resolver.resolve(did, **resolver.options_for(participant.identity.host, settings))
        except resolver.ResolutionError as exc:
            failures += 1
            say(f"  [red]does not resolve[/]: {escape(exc.message)}")
            continue
        served_kids = [k.get("kid") for k in verification_keys(served)]
        if kid and served_kids != [kid]:
            failures += 1
            say(f"  [yellow]resolves, but serves key(s) {escape(str(served_kids or 'none'))}[/]")
        else:
            say("  [green]resolves[/]")
    if failures:
        err.print(Text(f"{failures} DID(s) do not resolve as expected ({chosen} targets)"))
        raise typer.Exit(1)
