"""DID documents, checked with an independent library (pydid)."""

from __future__ import annotations

import pydid
import pytest

from mvd_core.errors import MvdError
from mvd_core.identity import keys
from mvd_core.identity.document import build_did_document, content_hash, to_bytes, verification_keys

DID = "did:web:did.galactic-turbine.example"
URLS = {
    "credential_service_url": "https://galactic-turbine.mvd.dataspace.example/api/identity/v1/participants/galactic-turbine",
    "protocol_url": "https://galactic-turbine.mvd.dataspace.example/api/dsp",
}


@pytest.mark.parametrize("key_type", ["EC-P256", "Ed25519"])
def test_document_is_a_valid_did_document(key_type):
    jwk = keys.public_jwk(keys.generate_private_jwk(key_type))
    raw = build_did_document(DID, jwk, **URLS)
    doc = pydid.deserialize_document(raw)
    assert str(doc.id) == DID == raw["id"]
    (method,) = doc.verification_method
    assert isinstance(method, pydid.VerificationMethod) and method.type == "JsonWebKey2020"
    assert str(method.controller) == DID
    assert method.public_key_jwk == jwk
    assert str(method.id) == f"{DID}#{jwk['kid']}"
    assert [str(r) for r in doc.authentication] == [str(method.id)]
    assert [str(r) for r in doc.assertion_method] == [str(method.id)]
    # every reference dereferences within the document
    assert doc.dereference(str(method.id)) == method
    services = {s.type: s.service_endpoint for s in doc.service}
    assert services == {"CredentialService": URLS["credential_service_url"], "ProtocolEndpoint": URLS["protocol_url"]}
    assert "https://w3id.org/security/suites/jws-2020/v1" in raw["@context"]


def test_same_input_same_bytes_regardless_of_member_order():
    jwk = keys.public_jwk(keys.generate_private_jwk("EC-P256"))
    shuffled = dict(reversed(list(jwk.items())))
    a = to_bytes(build_did_document(DID, jwk, **URLS))
    b = to_bytes(build_did_document(DID, shuffled, **URLS))
    assert a == b
    assert content_hash(build_did_document(DID, jwk, **URLS)) == content_hash(build_did_document(DID, shuffled, **URLS))
    assert b" " not in a.replace(b"Galactic Turbine", b"")  # compact canonical form


def test_without_a_key_only_services():
    raw = build_did_document(DID, None, **URLS)
    doc = pydid.deserialize_document(raw)
    assert doc.verification_method is None and "authentication" not in raw
    assert verification_keys(raw) == []
    assert len(doc.service) == 2


def test_a_private_jwk_is_refused_without_echoing_it():
    private = keys.generate_private_jwk("EC-P256")
    with pytest.raises(MvdError, match="refusing to put a private JWK") as caught:
        build_did_document(DID, private, **URLS)
    assert private["d"] not in str(caught.value)


def test_unknown_extra_members_are_dropped_from_the_published_key():
    jwk = keys.public_jwk(keys.generate_private_jwk("Ed25519"))
    raw = build_did_document(DID, {**jwk, "x5u": "https://evil.example/chain"}, **URLS)
    assert verification_keys(raw) == [jwk]
