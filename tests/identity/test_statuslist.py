"""The issuer's revocation list: the bitstring as EDC 0.15.1 parses it, an index per credential
that survives a restart, revocation per holder, and the credentials that carry and publish it."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from mvd_core.identity import jwt, keys
from mvd_core.identity.issuer import Issuer
from mvd_core.identity.statuslist import LIST_SIZE, StatusList, StatusListFull, decode, encode
from mvd_core.platforms.secrets.local import LocalFileVault

ISSUER_DID = "did:web:issuer.example:dataspace"
STATUS_URL = "https://issuer.example/issuer/status/membership"
ALICE, BOB = "did:web:alice.example", "did:web:bob.example"


def test_the_encoded_list_is_base64url_gzip_with_index_0_the_first_bytes_high_bit():
    encoded = encode({0, 9, LIST_SIZE - 1})
    assert encoded.startswith("u") and "=" not in encoded and "+" not in encoded and "/" not in encoded
    raw = encoded[1:]
    bits = gzip.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    # BitString.Parser (leftToRightIndexing): index i is bit 7 - i % 8 of byte i / 8
    assert len(bits) == LIST_SIZE // 8 and bits[0] == 0x80 and bits[1] == 0x40 and bits[-1] == 0x01
    assert sum(bits) == 0x80 + 0x40 + 0x01
    assert decode(encoded) == {0, 9, LIST_SIZE - 1}
    assert decode(encode(set())) == set()


def test_indexes_are_allocated_once_persisted_and_revoked_per_holder(tmp_path):
    path = tmp_path / "status.sqlite"
    status = StatusList(path)
    assert [status.allocate(ALICE, "urn:a1"), status.allocate(BOB, "urn:b1"), status.allocate(ALICE, "urn:a2")] == [
        0,
        1,
        2,
    ]
    again = StatusList(path)  # a restart, or the reset's process: the same list
    assert again.allocate(BOB, "urn:b2") == 3
    assert again.revoke(ALICE) == 2
    assert again.revoke(ALICE) == 0  # idempotent
    assert again.revoke("did:web:nobody.example") == 0
    assert status.revoked() == {0, 2}  # what the server publishes sees the other process's revocation
    assert [e["credential_id"] for e in status.entries(ALICE)] == ["urn:a1", "urn:a2"]
    assert all(e["revoked_at"] for e in status.entries(ALICE)) and not any(e["revoked_at"] for e in status.entries(BOB))


def test_a_full_list_refuses_to_allocate_and_names_the_remedy(tmp_path):
    status = StatusList(tmp_path / "status.sqlite", size=8)
    for n in range(8):
        status.allocate(ALICE, f"urn:{n}")
    with pytest.raises(StatusListFull, match="no free index left"):
        status.allocate(ALICE, "urn:9")


@pytest.fixture
def issuer(tmp_path) -> Issuer:
    return Issuer(
        LocalFileVault(tmp_path / "vault"),
        ISSUER_DID,
        "https://issuer.example/issuer/dcp",
        {ALICE, BOB},
        status_list=StatusList(tmp_path / "status.sqlite"),
        status_url=STATUS_URL,
    )


def public(issuer: Issuer) -> dict:
    return issuer.did_document()["verificationMethod"][0]["publicKeyJwk"]


def test_each_membership_credential_carries_a_bitstring_status_entry_of_its_own(issuer):
    first = jwt.verify(issuer.credential(ALICE), public(issuer))["vc"]
    second = jwt.verify(issuer.credential(BOB), public(issuer))["vc"]
    assert first["credentialStatus"] == {
        "id": f"{STATUS_URL}#0",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "0",
        "statusListCredential": STATUS_URL,
    }
    assert second["credentialStatus"]["statusListIndex"] == "1"
    assert "statusListCredential" in json.dumps(first["@context"])  # the terms are defined
    assert issuer.status_list is not None and issuer.status_list.entries(ALICE)[0]["credential_id"] == first["id"]


def test_revoking_a_holder_sets_its_bits_in_the_published_list_and_nobody_elses(issuer):
    issuer.credential(ALICE)
    issuer.credential(BOB)
    issuer.credential(ALICE)
    assert decode(issuer.status_list_credential()["credentialSubject"]["encodedList"]) == set()
    assert issuer.revoke(ALICE) == 2 and issuer.revoke(ALICE) == 0
    published = issuer.status_list_credential()
    assert published["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert published["id"] == STATUS_URL and published["issuer"] == ISSUER_DID and published["validFrom"]
    subject = published["credentialSubject"]
    assert subject["statusPurpose"] == "revocation" and subject["type"] == "BitstringStatusList"
    assert decode(subject["encodedList"]) == {0, 2}


def test_the_status_list_is_served_as_json_or_as_a_vc_jwt_the_issuer_signed(issuer):
    issuer.credential(ALICE)
    issuer.revoke(ALICE)
    for accept in (None, "*/*", "application/json", "application/vc+ld+json, application/json"):
        answer = issuer.handle_status_request(accept)
        assert answer.status == 200 and answer.headers["Content-Type"] == "application/vc+ld+json"
        assert decode(json.loads(answer.body)["credentialSubject"]["encodedList"]) == {0}
    answer = issuer.handle_status_request("application/vc+jwt")
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/vc+jwt"
    claims = jwt.verify(answer.body.decode(), public(issuer))
    assert claims["iss"] == ISSUER_DID and claims["type"][-1] == "BitstringStatusListCredential"
    assert decode(claims["credentialSubject"]["encodedList"]) == {0}
    other = keys.generate_private_jwk("EC-P256")
    with pytest.raises(jwt.TokenError):
        jwt.verify(answer.body.decode(), keys.public_jwk(other))


def test_an_issuer_without_a_status_list_cannot_revoke_and_publishes_nothing(tmp_path):
    plain = Issuer(LocalFileVault(tmp_path / "vault"), ISSUER_DID, "https://issuer.example/issuer/dcp", {ALICE})
    assert "credentialStatus" not in jwt.verify(plain.credential(ALICE), public(plain))["vc"]
    assert plain.handle_status_request(None).status == 404
    with pytest.raises(Exception, match="keeps no status list"):
        plain.revoke(ALICE)
