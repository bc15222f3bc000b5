"""Joining and leaving the dataspace: ``POST /api/participants`` (a newcomer presents its did:web
DID), ``GET /api/participants`` (seed and onboarded participants), ``DELETE /api/participants/{did}``
and invites.

A join runs its checks in order and stops at the first that fails; the answer lists every check
run, with what it found. Nothing is written before the last fetch: the rate limit counts the
attempt, and the participant is added (with its invite used) in one transaction of the onboarding
store that re-checks what a concurrent join could change. The checks:

0. ``ready``: a seed participant's connector runs here to make the DSP check (409: deploy first;
   the Functions app, where none runs, refuses every join here and writes nothing).
1. ``rate``: join attempts from this source address within the window (429 past the limit).
2. ``admission``: onboarding open, or the invite token unused and unexpired (403), or closed.
3. ``capacity``: fewer onboarded participants than the cap (409).
4. ``did``: a did:web DID whose host passes the resolver's host policy (400; 403 private host).
5. ``new``: not a seed participant, the issuer or an onboarded one (409), before anything is fetched.
6. ``resolves``: its document resolves with the SSRF-safe resolver (422).
7. ``services``: the document names a DSP ``ProtocolEndpoint`` and a ``CredentialService``, both
   callable under the same policy (422).
8. ``dsp``: a seed participant's connector asks the newcomer's DSP endpoint for its catalog,
   addressed to the newcomer's DID (the DCP token's audience), and gets one (422).
9. ``issuer``: added to the store, so the dataspace issuer issues it a MembershipCredential
   when its identity hub asks.
10. ``listed``: in the participant list every catalog crawls.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any, Literal
from urllib.parse import unquote

from pydantic import ConfigDict, Field, ValidationError

from mvd_core.api import connector, inputs
from mvd_core.api import endpoints as addresses
from mvd_core.dataspace import Dataspace
from mvd_core.errors import Conflict, MvdError, NotFound
from mvd_core.identity import resolver
from mvd_core.identity.issuer import IssuerRefusal, service_endpoint
from mvd_core.logs import get_logger
from mvd_core.onboarding import JoinRefused, Onboarded, onboarded, open_store
from mvd_core.onboarding import exists as store_exists
from mvd_core.plan.desired import dataspace_dids
from mvd_core.plan.trust import issuer_did
from mvd_core.runs.models import Removal, Wire, utcnow
from mvd_core.settings import Settings
from mvd_core.workflow import offboard

log = get_logger(__name__)

MAX_BODY = 4 * 1024
MAX_DID = 512
DSP_SERVICE = "ProtocolEndpoint"
CREDENTIAL_SERVICE = "CredentialService"
_ID_CHARS = re.compile(r"[^a-z0-9]+")


# ------------------------------------------------------------------ wire models


class JoinRequest(Wire):
    """``POST /api/participants``: a newcomer presents its DID (and an invite when invites are on)."""

    model_config = ConfigDict(extra="forbid")

    did: str = Field(description="The newcomer's did:web DID.", max_length=MAX_DID)
    invite: str | None = Field(None, description="An invite token from `mvd invite` (MVD_ONBOARDING=invite).")


class Check(Wire):
    name: str = Field(
        description="ready, rate, admission, capacity, did, resolves, services, new, dsp, issuer, listed."
    )
    ok: bool
    detail: str


class ParticipantEntry(Wire):
    id: str = Field(description="The participant id (onboarded: derived from its DID).")
    did: str
    kind: Literal["seed", "onboarded"]
    display_name: str
    protocol_url: str | None = Field(description="Its DSP address (seed: once provisioned here).")
    joined_at: datetime | None = Field(description="When it joined (None for a seed participant).")
    removed_at: datetime | None = Field(description="When it left (only in 'removed').")
    removed_by: str | None = Field(description="The run (a reset) or 'api' (a DELETE) that removed it.")
    removes_at: datetime | None = Field(
        description="When the next reset removes it (onboarded, still a participant); None for seeds."
    )


class ParticipantsView(Wire):
    """``GET /api/participants``."""

    onboarding: Literal["open", "invite", "closed"] = Field(description="Who may join (MVD_ONBOARDING).")
    next_reset: datetime | None = Field(description="When the next reset removes every onboarded participant.")
    onboarded: int
    cap: int = Field(
        description="How many onboarded participants the dataspace holds (MVD_ONBOARDING_MAX_PARTICIPANTS)."
    )
    participants: list[ParticipantEntry] = Field(description="Seed participants, then onboarded ones by join time.")
    removed: list[ParticipantEntry] = Field(description="The latest removals, newest first.")


class JoinAnswer(Wire):
    """The answer to a join, accepted (201) or refused (4xx, with ``error``)."""

    participant: ParticipantEntry | None
    checks: list[Check]
    error: str | None = Field(None, description="Why it was refused (None when accepted).")
    problems: list[str] = Field(default_factory=list, description="As in every error answer: empty here.")


class LeaveAnswer(Wire):
    """``DELETE /api/participants/{did}``."""

    removed: Removal


class InviteAnswer(Wire):
    """``POST /api/participants/invites``: the token is shown once; only its hash is kept."""

    id: str
    token: str
    expires_at: datetime


class InviteBody(Wire):
    model_config = ConfigDict(extra="forbid")

    expires_in_seconds: int = Field(86400, ge=60, le=30 * 86400, description="How long the invite is valid.")


# ------------------------------------------------------------------ joining


@dataclass
class Refusal(Exception):
    status: int
    message: str


@dataclass
class Join:
    """One join's checks as they run."""

    checks: list[Check] = field(default_factory=list)

    def passed(self, name: str, detail: str) -> None:
        self.checks.append(Check(name=name, ok=True, detail=detail))

    def refuse(self, name: str, status: int, detail: str) -> Refusal:
        self.checks.append(Check(name=name, ok=False, detail=detail))
        return Refusal(status, detail)


def participant_id(did: str, taken: set[str]) -> str:
    """A participant id from a did:web DID (``did:web:example.com%3A8443:guest`` ->
    ``example-com-8443-guest``): lowercase letters, digits and '-', at most 63; with a hash
    suffix when cut short or when it would be a seed participant's id."""
    name = unquote(did.removeprefix("did:web:"))
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    name = _ID_CHARS.sub("-", name).strip("-") or "participant"
    if len(name) > 63 or name in taken or not name[0].isalnum():
        name = f"{name[:54].strip('-')}-{sha256(did.encode()).hexdigest()[:8]}"
    return name


def _resolver_error(exc: resolver.ResolutionError) -> int:
    return 403 if isinstance(exc, resolver.PrivateAddress | resolver.InsecureScheme) else 400


def _endpoint(document: dict[str, Any], kind: str, options: dict[str, Any]) -> str:
    try:
        url = service_endpoint(document, kind)
    except IssuerRefusal as exc:
        raise MvdError(exc.message) from None
    try:
        resolver.check_endpoint(url, **options)
    except resolver.ResolutionError as exc:
        raise MvdError(f"its {kind} {url[:200]} cannot be called: {exc.message}") from None
    return url


def _seed_connector(dataspace: Dataspace, settings: Settings) -> connector.Connector:
    """The first seed participant whose connector runs here; Refusal when none does."""
    why: list[str] = []
    for participant in dataspace.participants:
        try:
            return connector.open_connector(dataspace, participant.id, settings)
        except MvdError as exc:
            why.append(exc.message)
    raise Refusal(
        409,
        "no seed participant's connector runs on this control plane to ask the newcomer for its catalog "
        f"(deploy the dataspace first: {why[0] if why else 'it has no participants'})",
    )


def _ask_catalog(dataspace: Dataspace, settings: Settings, did: str, dsp: str, join: Join) -> str:
    try:
        asker = _seed_connector(dataspace, settings)
    except Refusal as exc:
        raise join.refuse("dsp", exc.status, exc.message) from None
    try:
        found = asker.call("", asker.api.request_catalog, dsp, did)
    except connector.ConnectorDown:
        raise join.refuse(
            "dsp", 503, f"{asker.participant.id}'s connector does not answer; deploy the dataspace and try again"
        ) from None
    except MvdError as exc:
        # EDC relays the newcomer's refusal (or its silence) as its own 502: what it said, not where it runs
        said = exc.message.split(" answered ", 1)[-1]
        raise join.refuse(
            "dsp",
            422,
            f"{asker.participant.id}'s connector asked {dsp} for the catalog of {did} and got no catalog: {said}",
        ) from None
    finally:
        asker.close()
    return (
        f"{asker.participant.id}'s connector asked {dsp} over DSP for the catalog of {did} (its token's audience) "
        f"and got one ({len(found.datasets)} dataset(s))"
    )


def join(
    dataspace: Dataspace,
    settings: Settings,
    raw: bytes,
    source_address: str,
    next_reset: Callable[[], datetime | None],
) -> tuple[int, JoinAnswer]:
    """Run the join's checks; (201, the participant and the checks) or (4xx, the checks and why)."""
    checks = Join()
    try:
        request = _join_request(raw)
        entry = _join(dataspace, settings, request, source_address or "unknown", checks)
    except Refusal as exc:
        log.info("refused a join: %s", exc.message)
        return exc.status, JoinAnswer(participant=None, checks=checks.checks, error=exc.message)
    log.info("onboarded %s as %s (from %s)", entry.did, entry.participant_id, entry.source_address)
    return 201, JoinAnswer(participant=_onboarded_entry(entry, next_reset()), checks=checks.checks)


def _join_request(raw: bytes) -> JoinRequest:
    if len(raw) > MAX_BODY:
        raise Refusal(413, f"request body is {len(raw)} bytes; the limit is {MAX_BODY}")
    try:
        data = inputs.json_object(raw)
    except MvdError as exc:
        raise Refusal(400, exc.message) from None
    unknown = sorted(k[:40] for k in data if k not in ("did", "invite"))
    if unknown:
        raise Refusal(
            400, f"unknown field(s) in request body: {', '.join(map(repr, unknown[:5]))} (allowed: did, invite)"
        )
    if not isinstance(data.get("did"), str) or not data["did"].strip():
        raise Refusal(400, 'the body needs "did": the newcomer\'s did:web DID')
    if len(data["did"]) > MAX_DID:
        raise Refusal(400, f"the DID is longer than {MAX_DID} characters")
    if data.get("invite") is not None and not isinstance(data["invite"], str):
        raise Refusal(400, '"invite" must be a string (the token from `mvd invite`)')
    try:
        return JoinRequest.model_validate(data)
    except ValidationError:
        raise Refusal(400, 'the body must be {"did": "did:web:...", "invite": "..."}') from None


def _join(dataspace: Dataspace, settings: Settings, request: JoinRequest, source: str, join: Join) -> Onboarded:
    try:
        ready = _seed_connector(dataspace, settings)
    except Refusal as exc:
        raise join.refuse("ready", exc.status, exc.message) from None
    ready.close()
    join.passed("ready", f"{ready.participant.id}'s connector runs here to ask newcomers for their catalog")
    store = open_store(settings)
    did = request.did.strip()
    window = timedelta(seconds=settings.onboarding_rate_window_seconds)
    wait = store.admit_attempt(source, settings.onboarding_rate_limit, window)
    if wait is not None:
        raise join.refuse(
            "rate",
            429,
            f"{source} made {settings.onboarding_rate_limit} join attempts within "
            f"{settings.onboarding_rate_window_seconds} s; try again in {wait} s",
        )
    join.passed(
        "rate",
        f"within {settings.onboarding_rate_limit} attempts per {settings.onboarding_rate_window_seconds} s from {source}",
    )

    if settings.onboarding == "closed":
        raise join.refuse("admission", 403, "onboarding is closed on this dataspace (MVD_ONBOARDING=closed)")
    if settings.onboarding == "invite":
        if not request.invite:
            raise join.refuse("admission", 403, 'this dataspace admits newcomers by invite only: send "invite"')
        try:
            invite = store.check_invite(request.invite)
        except JoinRefused as exc:
            raise join.refuse("admission", exc.status, exc.message) from None
        join.passed("admission", f"invite {invite.id}, valid until {invite.expires_at:%Y-%m-%d %H:%M} UTC")
    else:
        join.passed("admission", "onboarding is open (MVD_ONBOARDING=open)")

    count = len(store.active())
    if count >= settings.onboarding_max_participants:
        raise join.refuse(
            "capacity",
            409,
            f"the dataspace already has {count} onboarded participants, its cap "
            "(MVD_ONBOARDING_MAX_PARTICIPANTS); the next reset makes room",
        )
    join.passed("capacity", f"{count} of {settings.onboarding_max_participants} onboarded participants")

    options = resolver.options_from(settings)
    try:
        url = resolver.did_url(did)
        resolver.check_endpoint(url, **options)
    except resolver.HostNotFound:
        pass  # the next check says it does not resolve
    except resolver.ResolutionError as exc:
        raise join.refuse("did", _resolver_error(exc), exc.message) from None
    join.passed("did", f"a did:web DID; its document is at {url}")

    seeds = dataspace_dids(dataspace, settings)
    if did in seeds.values() or did == issuer_did(settings):
        raise join.refuse("new", 409, f"{did} is already in this dataspace (a seed participant or its issuer)")
    if store.get(did) is not None:
        raise join.refuse("new", 409, f"{did} is already a participant of this dataspace (onboarded)")
    taken = set(seeds) | {p.participant_id for p in store.active()}
    pid = participant_id(did, taken)
    join.passed("new", f"not yet a participant; it would join as {pid}")

    try:
        document = resolver.resolve(did, **options)
    except resolver.ResolutionError as exc:
        status = 403 if isinstance(exc, resolver.PrivateAddress | resolver.InsecureScheme) else 422
        raise join.refuse("resolves", status, f"{did} does not resolve: {exc.message}") from None
    join.passed("resolves", f"resolved {url}")

    try:
        dsp = _endpoint(document, DSP_SERVICE, options)
        credentials = _endpoint(document, CREDENTIAL_SERVICE, options)
    except MvdError as exc:
        raise join.refuse("services", 422, exc.message) from None
    join.passed("services", f"{DSP_SERVICE} {dsp}, {CREDENTIAL_SERVICE} {credentials}")

    join.passed("dsp", _ask_catalog(dataspace, settings, did, dsp, join))

    entry = Onboarded(
        did=did,
        participant_id=pid,
        protocol_url=dsp,
        credential_service=credentials,
        joined_at=utcnow(),
        source_address=source,
        invite_id=None,
    )
    try:
        entry = store.add(
            entry,
            cap=settings.onboarding_max_participants,
            invite_token=request.invite if settings.onboarding == "invite" else None,
        )
    except JoinRefused as exc:  # a concurrent join took the DID, the last place or the invite
        raise join.refuse(exc.check, exc.status, exc.message) from None
    if did not in store.active_dids():
        raise join.refuse("issuer", 500, f"{did} is not in the issuer's member set after it was added")
    join.passed(
        "issuer",
        f"the dataspace issuer {issuer_did(settings)} now issues {did} a MembershipCredential when its identity hub "
        f"asks (DCP issuance at {settings.base_url}/issuer/dcp)",
    )
    listed = addresses.participant_list(dataspace, settings)
    if not any(node.id == did for node in listed.root):
        raise join.refuse("listed", 500, f"{did} is not in the participant list after it was added")
    join.passed("listed", f"in {settings.base_url}/api/dataspace/participants.json, which every catalog crawls")
    return entry


# ------------------------------------------------------------------ listing, leaving, invites


def _onboarded_entry(entry: Onboarded, next_reset: datetime | None) -> ParticipantEntry:
    return ParticipantEntry(
        id=entry.participant_id,
        did=entry.did,
        kind="onboarded",
        display_name=entry.participant_id,
        protocol_url=entry.protocol_url,
        joined_at=entry.joined_at,
        removed_at=entry.removed_at,
        removed_by=entry.removed_by,
        removes_at=None if entry.removed_at else next_reset,
    )


def participants(dataspace: Dataspace, settings: Settings, next_reset: datetime | None) -> ParticipantsView:
    dids = dataspace_dids(dataspace, settings)
    listed = {node.id: node.url for node in addresses.participant_list(dataspace, settings).root}
    seeds = [
        ParticipantEntry(
            id=p.id,
            did=dids[p.id],
            kind="seed",
            display_name=p.display_name,
            protocol_url=listed.get(dids[p.id]),
            joined_at=None,
            removed_at=None,
            removed_by=None,
            removes_at=None,
        )
        for p in dataspace.participants
    ]
    active = onboarded(settings)
    removed = open_store(settings).removed(20) if store_exists(settings) else []
    return ParticipantsView(
        onboarding=settings.onboarding,
        next_reset=next_reset,
        onboarded=len(active),
        cap=settings.onboarding_max_participants,
        participants=seeds + [_onboarded_entry(e, next_reset) for e in active],
        removed=[_onboarded_entry(e, next_reset) for e in removed],
    )


def leave(dataspace: Dataspace, settings: Settings, who: str) -> LeaveAnswer:
    """Remove an onboarded participant (by DID or participant id) and revoke its credentials."""
    who = who.strip()
    if not who or len(who) > MAX_DID:
        raise NotFound("name an onboarded participant by its DID or participant id")
    dids = dataspace_dids(dataspace, settings)
    if who in dids or who in dids.values():
        raise MvdError(
            f"{who[:200]} is a seed participant of the blueprint; seed participants are never removed this way",
            status=403,
        )
    store = open_store(settings)
    did = next((e.did for e in store.active() if who in (e.did, e.participant_id)), None)
    if did is None:
        raise NotFound(f"{who[:200]} is not an onboarded participant of this dataspace")
    removed = offboard.remove_one(dataspace, settings, did)
    if removed is None:  # removed meanwhile (a reset, another DELETE)
        raise NotFound(f"{who[:200]} is not an onboarded participant of this dataspace")
    return LeaveAnswer(removed=removed)


def invite(settings: Settings, raw: bytes) -> InviteAnswer:
    if len(raw) > MAX_BODY:
        raise MvdError(f"request body is {len(raw)} bytes; the limit is {MAX_BODY}", status=413)
    data = inputs.json_object(raw)
    try:
        body = InviteBody.model_validate(data)
    except ValidationError:
        raise MvdError('the body may hold "expiresInSeconds": a whole number from 60 to 2592000') from None
    if settings.onboarding != "invite":
        raise Conflict(
            f"onboarding is {settings.onboarding} (MVD_ONBOARDING): invites are only asked for with MVD_ONBOARDING=invite"
        )
    token, made = open_store(settings).create_invite(timedelta(seconds=body.expires_in_seconds))
    log.info("created invite %s, valid until %s", made.id, made.expires_at.isoformat())
    return InviteAnswer(id=made.id, token=token, expires_at=made.expires_at)
