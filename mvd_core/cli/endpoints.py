"""`mvd endpoints`: where each participant's management API and DSP endpoint answer, and the
file holding its management API key (never the key itself)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.text import Text

from mvd_core.api.models import EndpointsView
from mvd_core.cli.client import reader
from mvd_core.cli.console import out
from mvd_core.cli.run import ApiOption
from mvd_core.settings import get_settings


def endpoints(api: ApiOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Each participant's DID, management API base (EDC's /v3/... paths go after it), DSP address
    and management API key file; the issuer's DID."""
    with reader(get_settings(), api) as source:
        view = source.endpoints()
    if as_json:
        print(json.dumps(view.wire(), indent=2))
        return
    show(view)


def show(view: EndpointsView) -> None:
    """Plain aligned lines, never a table: a DID or a URL must print whole at any terminal width."""
    for pid, p in view.participants.items():
        out.print(Text.assemble((pid, "bold"), f"  {p.did}"))
        rows = [
            ("management", p.management),
            ("protocol", p.protocol),
            ("dashboard", p.data_dashboard),
            ("API key file", p.management_api_key_file),
        ]
        for label, value in rows:
            if value is not None:
                out.print(Text(f"  {label:<13}{value}"))
        if p.note:
            out.print(Text(f"  {p.note}", "dim"))
    out.print(Text.assemble(("issuer", "bold"), f"  {view.issuer.did}"))
    if any(p.management for p in view.participants.values()):
        out.print(Text('Management API calls send the key as X-Api-Key: -H "X-Api-Key: $(cat <API key file>)"', "dim"))
