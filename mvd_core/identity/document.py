"""did:web DID documents: one JsonWebKey2020 verification method and services (a participant's two,
the issuer's IssuerService).

``build_did_document`` is deterministic and ``to_bytes`` canonical (sorted keys, no
insignificant whitespace, UTF-8), so the same input gives the same bytes; DID hosts compare
those bytes' hash to skip unchanged uploads.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mvd_core.errors import MvdError
from mvd_core.identity.keys import PRIVATE_MEMBERS, public_jwk

CONTEXT = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"]
CREDENTIAL_SERVICE_FRAGMENT = "credential-service"
PROTOCOL_ENDPOINT_FRAGMENT = "dsp"


def build_did_document(
    did: str,
    public_key: dict[str, Any] | None,
    *,
    credential_service_url: str,
    protocol_url: str,
) -> dict[str, Any]:
    """A participant's DID document for ``did``. Without a key (not generated yet) it has services only."""
    return did_document(
        did,
        public_key,
        [
            (CREDENTIAL_SERVICE_FRAGMENT, "CredentialService", credential_service_url),
            (PROTOCOL_ENDPOINT_FRAGMENT, "ProtocolEndpoint", protocol_url),
        ],
    )


def did_document(did: str, public_key: dict[str, Any] | None, services: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The DID document for ``did``: one JsonWebKey2020 verification method and ``services``
    as (fragment, type, endpoint URL).

    A JWK carrying private members is refused rather than stripped: it means a caller
    passed the wrong object, and the document must never be a step away from a leak.
    """
    document: dict[str, Any] = {"@context": list(CONTEXT), "id": did}
    if public_key is not None:
        leaked = sorted(PRIVATE_MEMBERS & set(public_key))
        if leaked:
            raise MvdError(
                f"refusing to put a private JWK into the DID document of {did} "
                f"(it has private member(s) {', '.join(leaked)})"
            )
        jwk = public_jwk(public_key)
        method_id = f"{did}#{jwk['kid']}"
        document["verificationMethod"] = [
            {"id": method_id, "type": "JsonWebKey2020", "controller": did, "publicKeyJwk": jwk}
        ]
        document["authentication"] = [method_id]
        document["assertionMethod"] = [method_id]
    document["service"] = [
        {"id": f"{did}#{fragment}", "type": kind, "serviceEndpoint": url} for fragment, kind, url in services
    ]
    return document


def to_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_hash(document: dict[str, Any]) -> str:
    """SHA-256 (hex) of ``to_bytes(document)``: what hosts store to recognise an unchanged file."""
    return hashlib.sha256(to_bytes(document)).hexdigest()


def verification_keys(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``publicKeyJwk`` of every verification method (empty when there is none)."""
    methods = document.get("verificationMethod") or []
    return [m["publicKeyJwk"] for m in methods if isinstance(m, dict) and isinstance(m.get("publicKeyJwk"), dict)]
