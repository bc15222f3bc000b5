"""The dataspace issuer: its key and DID document, the VC-JWT it signs, the DCP credential
request it answers (and every refusal), and the delivery to the holder's storage API.

The holder is a loopback HTTP server serving a real did:web document and a storage endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from mvd_core.identity import jwt, keys
from mvd_core.identity.didweb import did_from_host_and_path
from mvd_core.identity.issuer import (
    DCP,
    MEMBERSHIP_CREDENTIAL_ID,
    Issuer,
    IssuerRefusal,
    parse_credential_request,
)
from mvd_core.platforms.secrets.local import LocalFileVault
from tests.fixtures.loopback import QuietHandler, serve

LOOPBACK_OK = {"allow_http_loopback": True, "allow_private": True}
ISSUER_DID = "did:web:issuer.example:dataspace"


@dataclass
class Holder:
    """A holder's site: its DID document and a storage API answering with ``answers`` in turn (then 200)."""

    did: str = ""
    jwk: dict[str, Any] = field(default_factory=lambda: keys.generate_private_jwk("EC-P256"))
    credential_service: str = ""
    answers: list[int] = field(default_factory=list)
    deliveries: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    hits: list[str] = field(default_factory=list)

    @property
    def kid(self) -> str:
        return f"{self.did}#{keys.public_jwk(self.jwk)['kid']}"

    def document(self) -> dict[str, Any]:
        from mvd_core.identity.document import build_did_document

        return build_did_document(
            self.did,
            keys.public_jwk(self.jwk),
            credential_service_url=self.credential_service,
            protocol_url="http://localhost:1/api/dsp/2025-1",
        )

    def token(
        self,
        *,
        aud: str = ISSUER_DID,
        lifetime: int = 300,
        iat_offset: int = 0,
        sub: str | None = None,
        key: dict[str, Any] | None = None,
        kid: str | None = None,
    ) -> str:
        now = int(time.time()) + iat_offset
        claims = {"iss": self.did, "sub": sub or self.did, "aud": aud, "iat": now, "exp": now + lifetime, "jti": "j-1"}
        return jwt.sign(key or self.jwk, claims, kid=kid or self.kid)


@pytest.fixture
def holder() -> Iterator[Holder]:
    site = Holder()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            site.hits.append(self.path)
            if self.path == "/holder/did.json":
                return self.send(200, json.dumps(site.document()).encode(), {"Content-Type": "application/did+json"})
            return self.send(404)

        def do_POST(self) -> None:
            site.hits.append(self.path)
            body = self.read_body()
            if self.path != "/holder/cs/credentials":
                return self.send(404)
            status = site.answers.pop(0) if site.answers else 200
            if status < 300:
                site.deliveries.append((dict(self.headers), json.loads(body)))
            return self.send(status, b'{"error": "not yet"}' if status >= 300 else b"")

    with serve(Handler) as base:
        port = int(base.rsplit(":", 1)[1])
        site.did = did_from_host_and_path("localhost", port, ["holder"])
        site.credential_service = f"http://localhost:{port}/holder/cs"
        yield site


def make_issuer(tmp_path, members, **options: Any) -> Issuer:
    options.setdefault("resolve_options", LOOPBACK_OK)
    return Issuer(
        LocalFileVault(tmp_path / "issuer-vault"), ISSUER_DID, "https://issuer.example/issuer/dcp", members, **options
    )


def request_body(holder_pid: str = "membership-1", *, expanded: bool = True) -> bytes:
    if expanded:  # what IdentityHub 0.15.1 sends
        return json.dumps(
            {
                "@type": DCP + "CredentialRequestMessage",
                DCP + "holderPid": {"@id": holder_pid},
                DCP + "credentials": [{"@type": "@json", "@value": [{"id": MEMBERSHIP_CREDENTIAL_ID}]}],
            }
        ).encode()
    return json.dumps(
        {
            "@context": ["https://w3id.org/dspace-dcp/v1.0/dcp.jsonld"],
            "type": "CredentialRequestMessage",
            "holderPid": holder_pid,
            "credentials": [{"id": MEMBERSHIP_CREDENTIAL_ID}],
        }
    ).encode()


def issuer_key(issuer: Issuer) -> dict[str, Any]:
    method = issuer.did_document()["verificationMethod"][0]
    assert method["id"] == issuer.kid
    return method["publicKeyJwk"]


def test_issuer_key_is_generated_once_in_the_given_store_and_published_in_its_did_document(tmp_path):
    store = LocalFileVault(tmp_path / "issuer-vault")
    first = Issuer(store, ISSUER_DID, "https://issuer.example/issuer/dcp/", set())
    again = Issuer(store, ISSUER_DID, "https://issuer.example/issuer/dcp", set())
    assert first.kid == again.kid == f"{ISSUER_DID}#{keys.public_key(store, 'issuer')['kid']}"
    document = first.did_document()
    assert document["id"] == ISSUER_DID
    assert document["assertionMethod"] == [first.kid]
    assert document["service"] == [
        {
            "id": f"{ISSUER_DID}#issuer-service",
            "type": "IssuerService",
            "serviceEndpoint": "https://issuer.example/issuer/dcp",
        }
    ]
    assert "d" not in document["verificationMethod"][0]["publicKeyJwk"]


def test_an_ed25519_key_in_the_store_is_refused_because_vc_jwts_are_es256(tmp_path):
    store = LocalFileVault(tmp_path / "issuer-vault")
    keys.ensure_participant_key(store, "issuer", "Ed25519")
    with pytest.raises(Exception, match="must be EC P-256"):
        Issuer(store, ISSUER_DID, "https://issuer.example/issuer/dcp", set())


def test_membership_credential_is_an_es256_vc_jwt_verifiable_with_the_published_key(tmp_path):
    issuer = make_issuer(tmp_path, set(), validity=timedelta(days=30))
    token = issuer.credential("did:web:a.example")
    header, _ = jwt.unverified(token)
    assert header == {"alg": "ES256", "kid": issuer.kid, "typ": "JWT"}
    claims = jwt.verify(token, issuer_key(issuer))
    assert (claims["iss"], claims["sub"]) == (ISSUER_DID, "did:web:a.example")
    assert claims["exp"] - claims["iat"] == 30 * 86400 and claims["nbf"] == claims["iat"]
    vc = claims["vc"]
    assert vc["type"] == ["VerifiableCredential", "MembershipCredential"]
    assert vc["issuer"] == ISSUER_DID and vc["id"] == claims["jti"]
    assert vc["credentialSubject"]["id"] == "did:web:a.example"
    assert vc["credentialSubject"]["membership"]["membershipType"] == "FullMember"
    other = make_issuer(tmp_path / "other", set())
    with pytest.raises(jwt.TokenError, match="signature"):
        jwt.verify(token, issuer_key(other))


@pytest.mark.parametrize("expanded", [True, False], ids=["expanded", "compacted"])
def test_a_member_is_answered_201_and_the_credential_is_delivered_to_its_storage_api(tmp_path, holder, expanded):
    issuer = make_issuer(tmp_path, {holder.did})
    answer = issuer.handle_credential_request(
        {"authorization": f"Bearer {holder.token()}"}, request_body("pid-7", expanded=expanded)
    )
    assert answer.status == 201, answer.body
    issuer_pid = answer.body.decode()
    assert answer.headers["Location"] == f"https://issuer.example/issuer/dcp/requests/{issuer_pid}"
    assert answer.job is not None and holder.deliveries == []  # nothing sent before the host runs the job
    result = answer.job.run()
    assert result.delivered and result.attempts == 1
    [(headers, message)] = holder.deliveries
    bearer = headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.verify(bearer, issuer_key(issuer), audience=holder.did)
    assert claims["iss"] == claims["sub"] == ISSUER_DID
    assert message["@type"] == [DCP + "CredentialMessage"]
    assert message[DCP + "holderPid"] == [{"@value": "pid-7"}]
    assert message[DCP + "issuerPid"] == [{"@value": issuer_pid}]
    assert message[DCP + "status"] == [{"@value": "ISSUED"}]
    [credential] = message[DCP + "credentials"][0]["@value"]
    assert credential["format"] == "VC1_0_JWT" and credential["credentialType"] == "MembershipCredential"
    assert jwt.verify(credential["payload"], issuer_key(issuer))["sub"] == holder.did


def test_delivery_is_retried_until_the_holder_has_recorded_the_request(tmp_path, holder):
    holder.answers = [400, 400]  # IdentityHub refuses until it has stored the issuer's 201
    issuer = make_issuer(tmp_path, {holder.did})
    answer = issuer.handle_credential_request({"Authorization": f"Bearer {holder.token()}"}, request_body())
    result = answer.job.run()
    assert (result.delivered, result.attempts, len(holder.deliveries)) == (True, 3, 1)


def test_delivery_gives_up_at_its_deadline_and_a_stop_ends_it_at_once(tmp_path, holder):
    holder.answers = [503] * 1000
    issuer = make_issuer(tmp_path, {holder.did}, delivery_deadline=1.0)
    answer = issuer.handle_credential_request({"Authorization": f"Bearer {holder.token()}"}, request_body())
    started = time.monotonic()
    result = answer.job.run()
    assert not result.delivered and result.attempts >= 2 and "HTTP 503" in result.last_problem
    assert time.monotonic() - started < 5
    stop = threading.Event()
    stop.set()
    assert answer.job.run(stop).attempts == 1


def refused(issuer: Issuer, authorization: str | None, body: bytes | None = None) -> tuple[int, str]:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = issuer.handle_credential_request(headers, request_body() if body is None else body)
    assert answer.job is None
    return answer.status, json.loads(answer.body)["error"]


def test_refusals_name_the_problem_and_never_the_token(tmp_path, holder):
    issuer = make_issuer(tmp_path, {holder.did})
    stranger = keys.generate_private_jwk("EC-P256")
    cases = {
        "no token": (None, 401, "missing self-issued token"),
        "basic auth": ("Basic YTpi", 401, "missing self-issued token"),
        "not a JWS": ("Bearer abc.def", 401, "compact JWS"),
        "bad signature": (f"Bearer {holder.token(key=stranger)}", 401, "signature does not verify"),
        "wrong aud": (f"Bearer {holder.token(aud='did:web:other.example')}", 401, "not for 'did:web:issuer.example"),
        "expired": (f"Bearer {holder.token(iat_offset=-4000, lifetime=300)}", 401, "expired"),
        "too long-lived": (f"Bearer {holder.token(lifetime=86400)}", 401, "at most 3600 s"),
        "not self-issued": (f"Bearer {holder.token(sub='did:web:x.example')}", 401, "not self-issued"),
        "unknown kid": (f"Bearer {holder.token(kid=holder.did + '#nope')}", 401, "no verification method"),
    }
    for name, (authorization, status, message) in cases.items():
        got_status, got_message = refused(issuer, authorization)
        assert (got_status, message in got_message) == (status, True), (name, got_message)
        if authorization and "." in authorization:
            assert authorization.split(" ", 1)[1] not in got_message
    assert holder.deliveries == []


def test_an_alg_none_or_hmac_token_is_refused_whatever_its_claims(tmp_path, holder):
    import base64

    issuer = make_issuer(tmp_path, {holder.did})
    _, claims = jwt.unverified(holder.token())
    for alg in ("none", "HS256"):
        head = {"alg": alg, "kid": holder.kid}
        parts = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=").decode() for p in (head, claims)]
        status, message = refused(issuer, "Bearer " + ".".join([*parts, "c2ln"]))
        assert status == 401 and f"signed with {alg!r}" in message


def test_a_non_member_is_refused_before_its_did_is_fetched(tmp_path, holder):
    issuer = make_issuer(tmp_path, lambda: {"did:web:someone-else.example"})
    status, message = refused(issuer, f"Bearer {holder.token()}")
    assert status == 403 and message == f"{holder.did} is not a member of this dataspace"
    assert holder.hits == []


def test_the_member_set_is_asked_on_every_request(tmp_path, holder):
    members: set[str] = set()
    issuer = make_issuer(tmp_path, lambda: members)
    assert refused(issuer, f"Bearer {holder.token()}")[0] == 403
    members.add(holder.did)  # joined while the issuer runs
    assert issuer.handle_credential_request({"Authorization": f"Bearer {holder.token()}"}, request_body()).status == 201
    members.clear()  # left again
    assert refused(issuer, f"Bearer {holder.token()}")[0] == 403


def test_a_hostile_holder_did_is_never_fetched_without_the_explicit_settings(tmp_path, holder):
    # both DIDs are members here, so only the resolver's rules stand between it and the network
    issuer = make_issuer(tmp_path, lambda: {holder.did, "did:web:169.254.169.254"}, resolve_options={})
    status, message = refused(issuer, f"Bearer {holder.token()}")
    assert status == 401 and "loopback address" in message and "MVD_ALLOW_PRIVATE_HOSTS" in message
    assert holder.hits == []
    ip_holder_token = jwt.sign(
        holder.jwk,
        {
            "iss": "did:web:169.254.169.254",
            "sub": "did:web:169.254.169.254",
            "aud": ISSUER_DID,
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        kid="did:web:169.254.169.254#k",
    )
    status, message = refused(issuer, f"Bearer {ip_holder_token}")
    assert status == 401 and "IP address" in message


def test_a_credential_service_that_the_resolver_rules_forbid_is_not_called(tmp_path, holder):
    issuer = make_issuer(tmp_path, {holder.did})
    # loopback is allowed here (the holder is on it), yet plain HTTP elsewhere never is
    for endpoint, expected in (
        ("ftp://localhost/x", "not an http(s) URL"),
        ("http://10.1.2.3:8080/cs", "refusing plain HTTP to 10.1.2.3"),
        ("https://example.invalid/cs", "cannot resolve host 'example.invalid'"),
    ):
        holder.credential_service = endpoint
        status, message = refused(issuer, f"Bearer {holder.token()}")
        assert status == 400 and expected in message, message


def test_the_request_message_is_checked(tmp_path, holder):
    issuer = make_issuer(tmp_path, {holder.did})
    token = f"Bearer {holder.token()}"
    other = json.dumps(
        {
            "@type": DCP + "CredentialRequestMessage",
            DCP + "holderPid": {"@id": "p"},
            DCP + "credentials": [{"@type": "@json", "@value": [{"id": "gold-credential"}]}],
        }
    ).encode()
    for body, status, expected in (
        (b"x" * (65 * 1024), 413, "larger than 64 KiB"),
        (b"{not json", 400, "not JSON"),
        (b'{"@type": "CredentialOfferMessage"}', 400, "not CredentialRequestMessage"),
        (other, 400, "issues only 'membership-credential', not ['gold-credential']"),
    ):
        got_status, got_message = refused(issuer, token, body)
        assert got_status == status and expected in got_message, got_message


def test_parse_credential_request_reads_both_json_ld_forms():
    for expanded in (True, False):
        request = parse_credential_request(request_body("h-1", expanded=expanded))
        assert (request.holder_pid, request.credential_ids) == ("h-1", [MEMBERSHIP_CREDENTIAL_ID])
    for body, expected in (
        (b"[]", "not a JSON object"),
        (
            json.dumps({"type": "CredentialRequestMessage", "credentials": [{"id": "x"}]}).encode(),
            "exactly one holderPid",
        ),
        (json.dumps({"type": "CredentialRequestMessage", "holderPid": "h"}).encode(), "asks for no credential"),
        (
            json.dumps({"type": "CredentialRequestMessage", "holderPid": "h", "credentials": ["x"]}).encode(),
            "needs an 'id'",
        ),
    ):
        with pytest.raises(IssuerRefusal, match=expected):
            parse_credential_request(body)


def test_the_local_issuer_resolves_an_onboarded_holder_with_the_settings_rules_not_as_its_own(
    tmp_path, holder, monkeypatch
):
    from mvd_core.dataspace.targets import load_targeted
    from mvd_core.identity.issuer import local_issuer
    from mvd_core.settings import Settings

    for name in ("MVD_ALLOW_HTTP_LOOPBACK", "MVD_ALLOW_PRIVATE_HOSTS", "MVD_TARGETS", "MVD_DATASPACE_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(home=tmp_path / "home", targets="simulated")
    dataspace = load_targeted(settings)  # the seed participants' DIDs are this server's own, on loopback
    issuer = local_issuer(LocalFileVault(tmp_path / "issuer-vault"), dataspace, settings, lambda: {holder.did})
    # a member (it joined), but its DID is on loopback and the settings do not allow that
    status, message = refused(issuer, f"Bearer {holder.token(aud=issuer.did)}")
    assert status == 401 and "loopback address" in message
    assert holder.hits == []
