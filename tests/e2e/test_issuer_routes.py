"""`mvd serve` as the dataspace issuer: its did:web document and its DCP credential endpoint,
public routes on the local server (a holder authenticates with its own token, not the API's)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from mvd_core.identity import jwt, keys
from mvd_core.identity.resolver import resolve
from mvd_core.settings import get_settings
from mvd_core.workflow import connect
from tests.e2e.conftest import Plane, run_plane
from tests.e2e.test_local_host import provision

REQUEST = {
    "@type": "https://w3id.org/dspace-dcp/v1.0/CredentialRequestMessage",
    "https://w3id.org/dspace-dcp/v1.0/holderPid": {"@id": "membership-1"},
    "https://w3id.org/dspace-dcp/v1.0/credentials": [{"@type": "@json", "@value": [{"id": "membership-credential"}]}],
}


def member_token(plane, participant_id: str, issuer_did: str) -> str:
    """A self-issued token as the participant's identity hub would sign it, with the key the control plane keeps."""
    participant = plane.host.dataspace.participant(participant_id)
    store = connect.secret_store(participant, plane.settings)
    did = f"did:web:localhost%3A{plane.settings.port}:dids:{participant_id}"
    now = int(time.time())
    private = keys.signing_jwk(store, participant_id)
    claims = {"iss": did, "sub": did, "aud": issuer_did, "iat": now, "exp": now + 300, "jti": "t-1"}
    return jwt.sign(private, claims, kid=f"{did}#{keys.public_jwk(private)['kid']}")


def credential_request(plane, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{plane.url}/issuer/dcp/credentials", json=REQUEST, headers=headers, timeout=30)


@pytest.fixture
def loopback_plane(tmp_path, monkeypatch) -> Iterator[Plane]:
    """A plane whose resolver may reach loopback over plain HTTP (the explicit settings)."""
    monkeypatch.setenv("MVD_ALLOW_HTTP_LOOPBACK", "true")
    monkeypatch.setenv("MVD_ALLOW_PRIVATE_HOSTS", "true")
    get_settings.cache_clear()
    yield from run_plane(monkeypatch)


def test_issuer_did_resolves_and_the_local_dataspaces_own_members_are_resolved_without_loopback_settings(plane):
    issuer_did = f"did:web:localhost%3A{plane.settings.port}:dids:issuer"
    document = resolve(issuer_did, allow_http_loopback=True, allow_private=True)
    assert document["service"][0]["type"] == "IssuerService"
    assert document["service"][0]["serviceEndpoint"] == f"{plane.settings.base_url}/issuer/dcp"
    kid = document["verificationMethod"][0]["id"]
    assert kid.startswith(issuer_did + "#")
    # the key was generated once, in the issuer's own vault; a second read serves the same document
    assert resolve(issuer_did, allow_http_loopback=True, allow_private=True) == document
    assert (plane.settings.home / "issuer-vault" / "issuer-did-signing-key").is_file()

    no_token = credential_request(plane, None)
    assert no_token.status_code == 401
    assert "missing self-issued token" in no_token.json()["error"]  # the issuer's answer, not the API's

    provision(plane)
    token = member_token(plane, "galactic-turbine", issuer_did)
    # default settings: the members' DIDs are this server's own local ones, resolved like it
    # resolves them itself (a DID on another host never reaches loopback: tests/identity)
    answer = credential_request(plane, token)
    assert answer.status_code == 400, answer.text  # verified; the simulated CredentialService does not answer
    assert "CredentialService cannot be called" in answer.json()["error"] and token not in answer.text


def test_with_loopback_allowed_a_member_token_verifies_and_a_stranger_is_refused(loopback_plane):
    plane = loopback_plane
    issuer_did = f"did:web:localhost%3A{plane.settings.port}:dids:issuer"
    provision(plane)
    answer = credential_request(plane, member_token(plane, "galactic-turbine", issuer_did))
    # authenticated: what stops it now is the simulated participant's CredentialService, which is not reachable
    assert answer.status_code == 400, answer.text
    assert "CredentialService cannot be called" in answer.json()["error"]
    wrong_audience = credential_request(plane, member_token(plane, "galactic-turbine", "did:web:other.example"))
    assert wrong_audience.status_code == 401 and "is meant for" in wrong_audience.json()["error"]
    stranger = keys.generate_private_jwk("EC-P256")
    now = int(time.time())
    token = jwt.sign(
        stranger,
        {"iss": "did:web:evil.example", "sub": "did:web:evil.example", "aud": issuer_did, "iat": now, "exp": now + 60},
        kid="did:web:evil.example#k",
    )
    refused = credential_request(plane, token)
    assert refused.status_code == 403 and "not a member" in refused.json()["error"]


def test_the_issuers_status_list_is_published_and_shows_a_revocation_made_by_another_process(plane):
    from mvd_core.identity.issuer import local_issuer
    from mvd_core.identity.statuslist import decode
    from mvd_core.platforms.secrets.local import LocalFileVault

    url = f"{plane.url}/issuer/status/membership"
    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/vc+ld+json"
    issuer_did = f"did:web:localhost%3A{plane.settings.port}:dids:issuer"
    listed = answer.json()
    assert listed["issuer"] == issuer_did and listed["id"] == f"{plane.settings.base_url}/issuer/status/membership"
    assert decode(listed["credentialSubject"]["encodedList"]) == set()
    # the reset's run revokes through its own Issuer over the same MVD_HOME
    other = local_issuer(LocalFileVault(plane.settings.home / "issuer-vault"), plane.host.dataspace, plane.settings)
    holder = f"did:web:localhost%3A{plane.settings.port}:dids:galactic-turbine"
    vc = jwt.unverified(other.credential(holder))[1]["vc"]
    assert vc["credentialStatus"]["statusListCredential"] == listed["id"]
    assert other.revoke(holder) == 1
    index = int(vc["credentialStatus"]["statusListIndex"])
    assert decode(httpx.get(url, timeout=30).json()["credentialSubject"]["encodedList"]) == {index}
    signed = httpx.get(url, headers={"Accept": "application/vc+jwt"}, timeout=30)
    document = resolve(issuer_did, allow_http_loopback=True, allow_private=True)
    claims = jwt.verify(signed.text, document["verificationMethod"][0]["publicKeyJwk"])
    assert decode(claims["credentialSubject"]["encodedList"]) == {index}
