"""The dataspace's issuer: issues each member a MembershipCredential over DCP's issuance flow.

EDC's issuer service is not on Maven Central for any release that has an identity hub BOM
(0.15.x), so the control plane plays the issuer (the DCP 1.0 issuer side that IdentityHub
0.15.1's holder side talks to):

1. A holder's identity hub POSTs a ``CredentialRequestMessage`` to ``<IssuerService>/credentials``
   with a self-issued token from its STS (``iss`` = ``sub`` = holder DID, ``aud`` = issuer DID).
2. ``Issuer.handle_credential_request`` checks, in this order, so that nothing is fetched for a
   stranger: the token's shape, that the holder is a member (the caller's check), then the
   holder's did:web document (the SSRF-safe resolver, with the options the caller gives: loopback
   only when they say so), the token's signature with the key its ``kid`` names, ``aud``,
   ``exp``. It answers 201 with the issuerPid as body (IH 0.15.1 reads the body) and ``Location``,
   plus a ``DeliveryJob``.
3. The host runs the job after answering: it POSTs a ``CredentialMessage`` carrying the signed
   VC-JWT to the holder's ``<CredentialService>/credentials`` (from its DID document), with an
   issuer-signed token (``iss`` = ``sub`` = issuer DID, ``aud`` = holder DID). The holder accepts
   it only once it has recorded the 201, so the job retries until accepted or its deadline.

The issuer's key is made and kept like a participant's (``mvd_core.identity.keys``, owner
``issuer``) in the store the caller passes; it must be EC P-256 (VC-JWTs are ES256).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from pydantic import BaseModel

from mvd_core.dataspace.models import Dataspace, LocalDidHost
from mvd_core.errors import MvdError
from mvd_core.identity import jwt, keys, resolver
from mvd_core.identity.didweb import did_for
from mvd_core.identity.document import did_document
from mvd_core.identity.statuslist import ENTRY_CONTEXT, StatusList
from mvd_core.identity.store import SecretStore
from mvd_core.identity.vc import MEMBERSHIP_CREDENTIAL, VC_FORMAT, membership_credential
from mvd_core.logs import get_logger
from mvd_core.settings import Settings

log = get_logger(__name__)

ISSUER_ID = "issuer"  # the key's owner in its store (secret "issuer-did-signing-key")
DCP = "https://w3id.org/dspace-dcp/v1.0/"
SERVICE_FRAGMENT = "issuer-service"
# The credential object holders ask for (``credentials[].id`` of their request).
MEMBERSHIP_CREDENTIAL_ID = "membership-credential"
MAX_BODY = 64 * 1024
STATUS_PATH = "/issuer/status/membership"  # where mvd serve publishes the status list
MAX_TOKEN_LIFETIME = 3600  # seconds a holder's self-issued token may be valid for


class IssuerRefusal(MvdError):
    """A request the issuer answers with a 4xx; the message names the problem."""


@dataclass(frozen=True)
class IssuerResponse:
    """What a host sends back, and the job it runs after sending it (None when refused)."""

    status: int
    body: bytes
    headers: dict[str, str]
    job: DeliveryJob | None = None


class CredentialRequest(BaseModel):
    """The part of a DCP ``CredentialRequestMessage`` the issuer uses."""

    holder_pid: str
    credential_ids: list[str]


class DeliveryResult(BaseModel):
    delivered: bool
    attempts: int
    last_problem: str | None = None


@dataclass
class DeliveryJob:
    """POST the CredentialMessage to the holder's storage API until it is accepted (2xx) or
    ``deadline`` seconds have passed. Run it after the 201 is sent (a thread, a background task)."""

    holder_did: str
    holder_pid: str
    issuer_pid: str
    url: str
    deadline: float
    message: dict[str, Any] = field(repr=False)
    bearer: Callable[[], str] = field(repr=False)
    transport: httpx.BaseTransport | None = field(default=None, repr=False)

    def run(self, stop: threading.Event | None = None) -> DeliveryResult:
        stop = stop or threading.Event()
        give_up = time.monotonic() + self.deadline
        attempts, delay, problem = 0, 0.25, None
        with httpx.Client(timeout=10, trust_env=False, transport=self.transport, follow_redirects=False) as client:
            while True:
                attempts += 1
                try:
                    resp = client.post(
                        self.url, json=self.message, headers={"Authorization": f"Bearer {self.bearer()}"}
                    )
                    if resp.is_success:
                        log.info(
                            "delivered a %s to %s (holderPid %s) after %d attempt(s)",
                            MEMBERSHIP_CREDENTIAL,
                            self.holder_did,
                            self.holder_pid,
                            attempts,
                        )
                        return DeliveryResult(delivered=True, attempts=attempts)
                    problem = f"HTTP {resp.status_code}: {resp.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                left = give_up - time.monotonic()
                # the holder refuses until it has recorded our 201: wait and try again
                if left <= 0 or stop.wait(min(delay, left)):
                    break
                delay = min(delay * 2, 2.0)
        log.warning(
            "could not deliver a %s to %s at %s within %g s (%d attempts; last: %s)",
            MEMBERSHIP_CREDENTIAL,
            self.holder_did,
            self.url,
            self.deadline,
            attempts,
            problem,
        )
        return DeliveryResult(delivered=False, attempts=attempts, last_problem=problem)


def _json(status: int, message: str) -> IssuerResponse:
    return IssuerResponse(status, json.dumps({"error": message}).encode(), {"Content-Type": "application/json"})


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _values(obj: Mapping[str, Any], term: str) -> list[Any]:
    """The values of ``term`` in a compacted (``holderPid``) or expanded (``<DCP>holderPid``) object."""
    value = obj.get(term, obj.get(DCP + term))
    return value if isinstance(value, list) else [] if value is None else [value]


def _plain(value: Any) -> Any:
    """A JSON-LD value object's value (``{"@value": x}`` or ``{"@id": x}``), else the value."""
    if isinstance(value, dict):
        return value.get("@value", value.get("@id"))
    return value


def parse_credential_request(body: bytes) -> CredentialRequest:
    """The holderPid and requested credential ids of a CredentialRequestMessage, compacted or
    expanded (IH 0.15.1 sends it expanded, ``holderPid`` as ``{"@id": ...}``)."""
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise IssuerRefusal("the body is not JSON (a DCP CredentialRequestMessage)") from None
    if isinstance(message, list) and len(message) == 1:
        message = message[0]  # an expanded document may be a one-element array
    if not isinstance(message, dict):
        raise IssuerRefusal("the body is not a JSON object (a DCP CredentialRequestMessage)")
    types = {str(t).removeprefix(DCP) for t in _values(message, "@type") + _values(message, "type")}
    if "CredentialRequestMessage" not in types:
        raise IssuerRefusal(f"the message's type is {sorted(types) or 'missing'}, not CredentialRequestMessage")
    pids = [_plain(v) for v in _values(message, "holderPid")]
    if len(pids) != 1 or not isinstance(pids[0], str) or not 0 < len(pids[0]) <= 256:
        raise IssuerRefusal("the message needs exactly one holderPid (a string of 1-256 characters)")
    ids: list[str] = []
    for entry in _values(message, "credentials"):
        # expanded JSON-LD keeps the list as one {"@type": "@json", "@value": [...]} literal
        items = entry.get("@value") if isinstance(entry, dict) and entry.get("@type") == "@json" else entry
        for item in items if isinstance(items, list) else [items]:
            cid = item.get("id", item.get("@id")) if isinstance(item, dict) else None
            if not isinstance(cid, str):
                raise IssuerRefusal("every entry of 'credentials' needs an 'id' (the credential object asked for)")
            ids.append(cid)
    if not ids:
        raise IssuerRefusal("the message asks for no credential ('credentials' is missing or empty)")
    return CredentialRequest(holder_pid=pids[0], credential_ids=ids)


def verification_key(document: Mapping[str, Any], kid: str) -> dict[str, Any]:
    """The ``publicKeyJwk`` of the verification method ``kid`` names (absolute ``<did>#x`` or
    relative ``#x``) in a resolved DID document."""
    did = document.get("id")
    wanted = f"{did}{kid}" if kid.startswith("#") else kid
    for method in document.get("verificationMethod") or []:
        if isinstance(method, dict) and method.get("id") in (wanted, kid):
            jwk = method.get("publicKeyJwk")
            if isinstance(jwk, dict):
                return jwk
            raise IssuerRefusal(f"verification method {kid!r} of {did} has no publicKeyJwk")
    raise IssuerRefusal(f"the DID document of {did} has no verification method {kid!r}")


def service_endpoint(document: Mapping[str, Any], service_type: str) -> str:
    for service in document.get("service") or []:
        if isinstance(service, dict) and service.get("type") == service_type:
            url = service.get("serviceEndpoint")
            if isinstance(url, str):
                return url.rstrip("/")
    raise IssuerRefusal(f"the DID document of {document.get('id')} names no {service_type} endpoint")


class Issuer:
    """The dataspace issuer behind one DID. ``members`` says who may get a MembershipCredential:
    a set of DIDs, or a provider of them asked on every request (members join and leave while
    the issuer runs); ``resolve_options`` are the resolver's (``resolver.options_from(settings)``),
    or a function giving them per holder DID: holders on loopback only when they allow it."""

    def __init__(
        self,
        store: SecretStore,
        did: str,
        service_url: str,
        members: Callable[[], Collection[str]] | Collection[str],
        *,
        resolve_options: Mapping[str, Any] | Callable[[str], Mapping[str, Any]] | None = None,
        validity: timedelta = timedelta(days=365),
        delivery_deadline: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        status_list: StatusList | None = None,
        status_url: str | None = None,
    ) -> None:
        self.store = store
        self.did = did
        self.service_url = service_url.rstrip("/")
        fixed = frozenset(() if callable(members) else members)
        self.members: Callable[[], Collection[str]] = members if callable(members) else lambda: fixed
        fixed_options = dict(resolve_options or {}) if not callable(resolve_options) else {}
        self.options_for: Callable[[str], Mapping[str, Any]] = (
            resolve_options if callable(resolve_options) else lambda _holder: fixed_options
        )
        self.validity = validity
        self.delivery_deadline = delivery_deadline
        self.transport = transport
        if (status_list is None) != (status_url is None):
            raise ValueError("a status list needs the URL it is published at, and the other way round")
        self.status_list = status_list
        self.status_url = status_url
        public = keys.ensure_participant_key(store, ISSUER_ID, "EC-P256")
        if public["kty"] != "EC":
            raise MvdError(
                f"the issuer's key in {store.description} is {public['kty']}/{public['crv']}; VC-JWTs are "
                "ES256, so it must be EC P-256 (delete or rotate it)"
            )
        self.public_jwk = public
        self.kid = f"{did}#{public['kid']}"

    def did_document(self) -> dict[str, Any]:
        """The issuer's DID document: its key and the ``IssuerService`` holders send requests to."""
        return did_document(self.did, self.public_jwk, [(SERVICE_FRAGMENT, "IssuerService", self.service_url)])

    def _private(self) -> dict[str, Any]:
        """The signing key, read per use: one that changed under a running issuer would sign
        with a kid its published document does not have, so that is refused."""
        private = keys.signing_jwk(self.store, ISSUER_ID)
        if private is None or keys.public_jwk(private)["kid"] != self.public_jwk["kid"]:
            raise MvdError(f"the issuer's key in {self.store.description} changed or went missing; restart the issuer")
        return private

    def credential(self, holder_did: str) -> str:
        """A MembershipCredential (VC-JWT) for ``holder_did``; with a status list, it carries a
        ``credentialStatus`` entry at a fresh index of that list."""
        private = self._private()
        vc_id = f"urn:uuid:{uuid.uuid4()}"
        status = None
        if self.status_list is not None and self.status_url is not None:
            status = self.status_list.entry(self.status_list.allocate(holder_did, vc_id), self.status_url)
        return membership_credential(
            private,
            kid=self.kid,
            issuer_did=self.did,
            holder_did=holder_did,
            validity=self.validity,
            vc_id=vc_id,
            status=status,
            status_context=ENTRY_CONTEXT if status else None,
        )

    def revoke(self, holder_did: str) -> int:
        """Revoke every credential issued to ``holder_did`` (the number newly revoked; 0 when
        none is left). Verifiers see it once their cached copy of the status list expires."""
        if self.status_list is None:
            raise MvdError("this issuer keeps no status list, so it cannot revoke")
        revoked = self.status_list.revoke(holder_did)
        if revoked:
            log.info("revoked %d credential(s) of %s", revoked, holder_did)
        return revoked

    def status_list_credential(self) -> dict[str, Any]:
        """The status list credential as JSON (what EDC 0.15.1 reads; it checks no proof)."""
        if self.status_list is None or self.status_url is None:
            raise MvdError("this issuer keeps no status list")
        return self.status_list.credential(url=self.status_url, issuer_did=self.did)

    def status_list_jwt(self) -> str:
        """The same credential secured as a VC-JWT signed by the issuer's key."""
        vc = self.status_list_credential()
        now = int(time.time())
        # short-lived: the list changes, and a verifier should fetch it again rather than keep it
        claims = {
            **vc,
            "iss": self.did,
            "sub": vc["credentialSubject"]["id"],
            "iat": now,
            "exp": now + 300,
            "jti": vc["id"],
        }
        return jwt.sign(self._private(), claims, kid=self.kid, typ="vc+jwt")

    def handle_status_request(self, accept: str | None) -> IssuerResponse:
        """Answer ``GET <status URL>``: the JSON credential, or its VC-JWT when ``Accept`` asks
        for ``application/vc+jwt`` (or ``application/jwt``) and not for JSON."""
        if self.status_list is None:
            return _json(404, "this issuer publishes no status list")
        wanted = {part.split(";")[0].strip().lower() for part in (accept or "").split(",")}
        headers = {"Cache-Control": "no-cache"}
        if wanted & {"application/vc+jwt", "application/jwt"} and not wanted & {"application/json", "application/vc"}:
            return IssuerResponse(
                200, self.status_list_jwt().encode(), {**headers, "Content-Type": "application/vc+jwt"}
            )
        body = json.dumps(self.status_list_credential()).encode()
        return IssuerResponse(200, body, {**headers, "Content-Type": "application/vc+ld+json"})

    def storage_token(self, holder_did: str) -> str:
        """The token the holder's storage API takes from its issuer: iss = sub = issuer, aud = holder."""
        now = int(time.time())
        claims = {
            "iss": self.did,
            "sub": self.did,
            "aud": holder_did,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        return jwt.sign(self._private(), claims, kid=self.kid)

    def authenticate(self, authorization: str | None) -> tuple[str, dict[str, Any]]:
        """The holder DID of a request's self-issued token and its resolved DID document, once
        the holder is a member and the token verifies."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise IssuerRefusal("missing self-issued token (send 'Authorization: Bearer <token>')", status=401)
        header, claims = jwt.unverified(token.strip())
        holder, kid = claims.get("iss"), header.get("kid")
        if not isinstance(holder, str) or not holder.startswith("did:"):
            raise IssuerRefusal("the token's 'iss' is not a DID", status=401)
        if claims.get("sub") != holder:
            raise IssuerRefusal("the token is not self-issued ('sub' differs from 'iss')", status=401)
        if not isinstance(kid, str) or not kid:
            raise IssuerRefusal("the token's header names no key ('kid')", status=401)
        if holder not in self.members():
            raise IssuerRefusal(f"{holder[:300]} is not a member of this dataspace", status=403)
        try:
            document = resolver.resolve(holder, **self.options_for(holder))
        except resolver.ResolutionError as exc:
            raise IssuerRefusal(f"cannot resolve the holder's DID: {exc.message}", status=401) from None
        try:
            jwk = verification_key(document, kid)
        except IssuerRefusal as exc:
            raise IssuerRefusal(exc.message, status=401) from None
        jwt.verify(token.strip(), jwk, audience=self.did, max_lifetime=MAX_TOKEN_LIFETIME)
        return holder, document

    def handle_credential_request(self, headers: Mapping[str, str], body: bytes) -> IssuerResponse:
        """Answer ``POST <IssuerService>/credentials`` (framework-neutral: any host calls this)."""
        try:
            if len(body) > MAX_BODY:
                raise IssuerRefusal(f"the body is larger than {MAX_BODY // 1024} KiB", status=413)
            holder, document = self.authenticate(_header(headers, "authorization"))
            request = parse_credential_request(body)
            unknown = sorted(set(request.credential_ids) - {MEMBERSHIP_CREDENTIAL_ID})
            if unknown:
                raise IssuerRefusal(f"this issuer issues only {MEMBERSHIP_CREDENTIAL_ID!r}, not {unknown}")
            url = service_endpoint(document, "CredentialService") + "/credentials"
            try:
                resolver.check_endpoint(url, **self.options_for(holder))
            except resolver.ResolutionError as exc:
                raise IssuerRefusal(f"the holder's CredentialService cannot be called: {exc.message}") from None
        except (IssuerRefusal, jwt.TokenError, resolver.ResolutionError) as exc:
            log.info("refused a credential request: %s", exc.message)
            return _json(exc.status, exc.message)
        issuer_pid = str(uuid.uuid4())
        credential = self.credential(holder)
        message = {  # expanded JSON-LD: the holder need not fetch a remote @context
            "@type": [DCP + "CredentialMessage"],
            DCP + "issuerPid": [{"@value": issuer_pid}],
            DCP + "holderPid": [{"@value": request.holder_pid}],
            DCP + "status": [{"@value": "ISSUED"}],
            DCP + "credentials": [
                {
                    "@type": "@json",
                    "@value": [{"credentialType": MEMBERSHIP_CREDENTIAL, "payload": credential, "format": VC_FORMAT}],
                }
            ],
        }
        job = DeliveryJob(
            holder_did=holder,
            holder_pid=request.holder_pid,
            issuer_pid=issuer_pid,
            url=url,
            deadline=self.delivery_deadline,
            message=message,
            bearer=lambda: self.storage_token(holder),
            transport=self.transport,
        )
        log.info(
            "accepted a credential request from %s (holderPid %s, issuerPid %s)", holder, request.holder_pid, issuer_pid
        )
        return IssuerResponse(
            201,
            issuer_pid.encode(),
            {"Content-Type": "text/plain", "Location": f"{self.service_url}/requests/{issuer_pid}"},
            job,
        )


def local_issuer(
    store: SecretStore,
    dataspace: Dataspace,
    settings: Settings,
    onboarded: Callable[[], Collection[str]] | None = None,
) -> Issuer:
    """The issuer ``mvd serve`` runs: DID ``did:web:<host>%3A<port>:dids:issuer`` (its document at
    ``/dids/issuer/did.json``), IssuerService at ``<base URL>/issuer/dcp``, members = the
    dataspace's participants and the DIDs ``onboarded`` gives (asked per request); its status list
    in ``<MVD_HOME>/issuer-status.sqlite``, published at ``<base URL>/issuer/status/membership``. Holder DIDs of a dataspace served locally resolve like the control
    plane's own local DIDs; others with the resolver settings (MVD_ALLOW_HTTP_LOOPBACK,
    MVD_ALLOW_PRIVATE_HOSTS)."""
    base = settings.base_url
    seeds = frozenset(did_for(p.identity.host, p.id, local_base_url=base) for p in dataspace.participants)

    def members() -> Collection[str]:
        return seeds | frozenset(onboarded()) if onboarded is not None else seeds

    did = did_for(LocalDidHost(kind="local"), ISSUER_ID, local_base_url=base)
    # A seed participant whose DID this server itself serves (embedded and simulated targets) is
    # resolved as the control plane resolves its own local DIDs; every other holder, an onboarded
    # one above all, with the settings' rules (its DID's host could point at loopback since it
    # joined). The member check runs before any fetch.
    seed_options: dict[str, Mapping[str, Any]] = {
        did_for(p.identity.host, p.id, local_base_url=base): resolver.options_for(p.identity.host, settings)
        for p in dataspace.participants
    }
    default_options: Mapping[str, Any] = resolver.options_from(settings)

    def options(holder: str) -> Mapping[str, Any]:
        return seed_options.get(holder, default_options)

    return Issuer(
        store,
        did,
        f"{base}/issuer/dcp",
        members,
        resolve_options=options,
        status_list=StatusList(settings.home / "issuer-status.sqlite"),
        status_url=f"{base}{STATUS_PATH}",
    )
