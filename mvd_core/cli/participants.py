"""`mvd onboard`, `mvd invite`, `mvd participants`: joining the dataspace, invites, and who is
in it (seed and onboarded participants, until the next reset)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Annotated, Any

import httpx
import typer
from rich.text import Text

from mvd_core.api.participants import InviteAnswer, JoinAnswer, ParticipantsView
from mvd_core.cli.client import reader, server_running
from mvd_core.cli.console import fail, out
from mvd_core.cli.run import ApiOption
from mvd_core.errors import ExternalError, MvdError
from mvd_core.onboarding import open_store
from mvd_core.settings import Settings, get_settings

_DURATION = re.compile(r"([0-9]{1,6})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``24h``, ``7d``: from 1 minute to 30 days."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise typer.BadParameter(f"{text[:40]!r} is not a duration like 90s, 15m, 24h or 7d", param_hint="--expires")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not 60 <= seconds <= 30 * 86400:
        raise typer.BadParameter("an invite is valid from 1 minute to 30 days", param_hint="--expires")
    return timedelta(seconds=seconds)


def _server(settings: Settings, api: str | None) -> str:
    """The control plane's URL: --api, else the local `mvd serve`, which must be running."""
    if api:
        return api.rstrip("/")
    if not server_running(settings, settings.base_url):
        raise MvdError(
            f"no `mvd serve` answers at {settings.base_url}: start it first (joining needs the dataspace's "
            "runtimes and its issuer running), or name another control plane with --api"
        )
    return settings.base_url


def _call(method: str, url: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"X-MVD-Source": "cli", **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        return httpx.request(method, url, headers=headers, timeout=120.0, **kwargs)
    except httpx.HTTPError as exc:
        raise ExternalError(f"cannot reach the control plane at {url}: {type(exc).__name__}") from None


def show_checks(answer: JoinAnswer) -> None:
    for check in answer.checks:
        mark, style = ("✓", "green") if check.ok else ("✗", "red")
        out.print(Text.assemble((f"{mark} {check.name:<10}", style), " ", check.detail))


def onboard(
    did: Annotated[str, typer.Argument(help="The newcomer's did:web DID.")],
    invite: Annotated[str | None, typer.Option("--invite", help="An invite token from `mvd invite`.")] = None,
    api: ApiOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Join the dataspace with a did:web DID: every check with what it found; exit 1 if refused."""
    settings = get_settings()
    base = _server(settings, api)
    body: dict[str, str] = {"did": did, **({"invite": invite} if invite else {})}
    # public: a newcomer has no API token, and this one's is not sent to a server it names
    resp = _call("POST", f"{base}/api/participants", json=body)
    try:
        answer = JoinAnswer.model_validate(resp.json())
    except ValueError:
        raise MvdError(f"{base}: {resp.status_code} {resp.text[:200]}") from None
    if as_json:
        print(json.dumps(answer.wire(), indent=2))
    else:
        show_checks(answer)
    if answer.participant is None:
        fail(f"refused ({resp.status_code}): {answer.error}")
        raise typer.Exit(1)
    if not as_json:
        p = answer.participant
        until = f" until the next reset ({p.removes_at:%Y-%m-%d %H:%M %Z})" if p.removes_at else ""
        out.print(Text.assemble(("joined: ", "bold green"), f"{p.id} ({p.did}){until}"))


def invite(
    expires: Annotated[str, typer.Option("--expires", help="How long it is valid: 90s, 15m, 24h, 7d.")] = "24h",
    api: ApiOption = None,
) -> None:
    """A single-use invite token for MVD_ONBOARDING=invite (shown once; only its hash is kept)."""
    from mvd_core.host import token as api_token

    settings = get_settings()
    valid = parse_duration(expires)
    if api or server_running(settings, settings.base_url):
        base = (api or settings.base_url).rstrip("/")
        body = {"expiresInSeconds": int(valid.total_seconds())}
        resp = _call("POST", f"{base}/api/participants/invites", api_token.read(settings), json=body)
        if resp.status_code != 201:
            try:
                message = resp.json().get("error") or resp.text
            except ValueError:
                message = resp.text[:200]
            raise MvdError(f"{base}: {resp.status_code} {message}")
        made = InviteAnswer.model_validate(resp.json())
    else:
        if settings.onboarding != "invite":
            raise MvdError(
                f"onboarding is {settings.onboarding} (MVD_ONBOARDING): invites are only asked for with "
                "MVD_ONBOARDING=invite"
            )
        token, record = open_store(settings).create_invite(valid)
        made = InviteAnswer(id=record.id, token=token, expires_at=record.expires_at)
    out.print(made.token)
    out.print(
        Text(f"invite {made.id}, single use, valid until {made.expires_at:%Y-%m-%d %H:%M %Z}: shown only now", "dim")
    )


def participants(api: ApiOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Seed and onboarded participants: when each joined and when the next reset removes it."""
    with reader(get_settings(), api) as source:
        view = source.participants()
    if as_json:
        print(json.dumps(view.wire(), indent=2))
        return
    show(view)


def show(view: ParticipantsView) -> None:
    for p in view.participants:
        if p.kind == "seed":
            out.print(Text.assemble((p.id, "bold"), f"  seed  {p.did}"))
            continue
        until = f", removed by the next reset at {p.removes_at:%Y-%m-%d %H:%M %Z}" if p.removes_at else ""
        joined = f"{p.joined_at:%Y-%m-%d %H:%M %Z}" if p.joined_at else "?"
        out.print(Text.assemble((p.id, "bold"), f"  onboarded  {p.did}"))
        out.print(Text(f"  joined {joined}{until}; DSP {p.protocol_url}", "dim"))
    for p in view.removed:
        when = f"{p.removed_at:%Y-%m-%d %H:%M %Z}" if p.removed_at else "?"
        out.print(Text(f"{p.id}  left {when} (removed by {p.removed_by})  {p.did}", "dim"))
    out.print(
        Text(
            f"onboarding {view.onboarding}: {view.onboarded} of {view.cap} onboarded participants",
            "dim",
        )
    )
