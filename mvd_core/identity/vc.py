"""The dataspace's MembershipCredential as a VC-JWT (VC Data Model 1.1 in a JWT, format
``VC1_0_JWT`` in EDC's terms): what EDC's DCP verifier reads from a presentation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from mvd_core.identity import jwt

MEMBERSHIP_CREDENTIAL = "MembershipCredential"
VC_FORMAT = "VC1_0_JWT"  # EDC's CredentialFormat enum name
VC_CONTEXT: list[Any] = [
    "https://www.w3.org/2018/credentials/v1",
    {
        "mvd": "https://w3id.org/mvd/credentials/",
        "membership": "mvd:membership",
        "membershipType": "mvd:membershipType",
        "since": "mvd:since",
    },
]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def membership_credential(
    issuer_jwk: Mapping[str, Any],
    *,
    kid: str,
    issuer_did: str,
    holder_did: str,
    validity: timedelta,
    membership_type: str = "FullMember",
    now: datetime | None = None,
    vc_id: str | None = None,
    status: Mapping[str, Any] | None = None,
    status_context: Mapping[str, Any] | None = None,
) -> str:
    """A MembershipCredential for ``holder_did``, signed by the issuer's key as a VC-JWT
    (``iss``/``sub``/``jti``/``iat``/``nbf``/``exp`` mirror the VC's issuer, subject, id and dates),
    with ``status`` as its ``credentialStatus`` (its terms in ``status_context``) when given."""
    issued = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    expires = issued + validity
    vc_id = vc_id or f"urn:uuid:{uuid.uuid4()}"
    context = [*VC_CONTEXT, dict(status_context)] if status_context else VC_CONTEXT
    vc: dict[str, Any] = {
        "@context": context,
        "id": vc_id,
        "type": ["VerifiableCredential", MEMBERSHIP_CREDENTIAL],
        "issuer": issuer_did,
        "issuanceDate": _iso(issued),
        "expirationDate": _iso(expires),
        "credentialSubject": {
            "id": holder_did,
            "membership": {"membershipType": membership_type, "since": _iso(issued)},
        },
    }
    if status is not None:
        vc["credentialStatus"] = dict(status)
    claims = {
        "iss": issuer_did,
        "sub": holder_did,
        "jti": vc_id,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "vc": vc,
    }
    return jwt.sign(issuer_jwk, claims, kid=kid)
