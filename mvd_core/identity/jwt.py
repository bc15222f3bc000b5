"""Compact JWS JWTs signed and verified with the control plane's JWKs (joserfc underneath).

The algorithm follows the key, never the token: an EC P-256 key is ES256, an Ed25519 key
EdDSA (EDC's name for it; RFC 9864's ``Ed25519`` is accepted too). A token whose header names
another algorithm than its key's is refused, so ``alg`` confusion is impossible.
"""

from __future__ import annotations

import base64
import json
import time
import warnings
from collections.abc import Mapping
from typing import Any

from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, JWKRegistry, OKPKey

from mvd_core.errors import MvdError

# EDC signs with Ed25519 keys as "EdDSA"; joserfc warns that RFC 9864 deprecates the name.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)

MAX_TOKEN_CHARS = 16 * 1024
_ALGORITHMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("EC", "P-256"): ("ES256",),
    ("OKP", "Ed25519"): ("EdDSA", "Ed25519"),
}


class TokenError(MvdError):
    """A token that cannot be trusted; the message says why (never the token itself)."""

    status = 401


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _algorithms(jwk: Mapping[str, Any]) -> tuple[str, ...]:
    algs = _ALGORITHMS.get((str(jwk.get("kty")), str(jwk.get("crv"))))
    if algs is None:
        raise TokenError(f"unsupported key type {jwk.get('kty')!r}/{jwk.get('crv')!r} (expected EC P-256 or Ed25519)")
    return algs


def _import(jwk: Mapping[str, Any]) -> ECKey | OKPKey:
    members = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y", "d")}
    try:
        key = JWKRegistry.import_key(members)
    except (JoseError, ValueError, TypeError) as exc:
        raise TokenError(f"unusable JWK ({type(exc).__name__})") from None
    assert isinstance(key, ECKey | OKPKey)
    return key


def sign(private_jwk: Mapping[str, Any], claims: Mapping[str, Any], *, kid: str, typ: str = "JWT") -> str:
    """A compact JWS of ``claims`` signed with ``private_jwk``, header ``{alg, kid, typ}``."""
    alg = _algorithms(private_jwk)[0]
    return jose_jwt.encode({"alg": alg, "kid": kid, "typ": typ}, dict(claims), _import(private_jwk), algorithms=[alg])


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a compact JWS, NOT verified: only to find out who says they signed it."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise TokenError(f"the token is not a string of at most {MAX_TOKEN_CHARS} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("the token is not a compact JWS (three dot-separated parts)")
    try:
        header, claims = (json.loads(_b64decode(p)) for p in parts[:2])
    except (ValueError, UnicodeDecodeError):
        raise TokenError("the token's header or claims are not base64url-encoded JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError("the token's header and claims must be JSON objects")
    return header, claims


def verify(
    token: str,
    public_jwk: Mapping[str, Any],
    *,
    audience: str | None = None,
    now: float | None = None,
    leeway: int = 30,
    max_lifetime: int | None = None,
) -> dict[str, Any]:
    """The claims of ``token`` once its signature checks out against ``public_jwk`` and it is
    within ``exp`` (required) / ``nbf`` / ``iat`` (each with ``leeway`` seconds), and, given an
    ``audience``, names it in ``aud``. ``max_lifetime`` bounds ``exp - iat`` (``iat`` then required)."""
    header, _ = unverified(token)
    allowed = _algorithms(public_jwk)
    if header.get("alg") not in allowed:
        raise TokenError(f"the token is signed with {header.get('alg')!r}, but its key only signs {'/'.join(allowed)}")
    try:
        claims = jose_jwt.decode(token, _import(public_jwk), algorithms=list(allowed)).claims
    except JoseError as exc:
        if "signature" in type(exc).__name__.lower() or "signature" in str(exc).lower():
            raise TokenError("the token's signature does not verify with the signer's key") from None
        raise TokenError(f"the token cannot be verified ({exc.error})") from None
    at = time.time() if now is None else now
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    for name, value in (("exp", exp), ("nbf", nbf), ("iat", iat)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise TokenError(f"the token's {name!r} claim is not a number")
    if exp is None:
        raise TokenError("the token has no 'exp' claim")
    if exp + leeway < at:
        raise TokenError(f"the token expired {int(at - exp)} s ago")
    if nbf is not None and nbf - leeway > at:
        raise TokenError("the token is not valid yet ('nbf' is in the future)")
    if iat is not None and iat - leeway > at:
        raise TokenError("the token was issued in the future ('iat')")
    if max_lifetime is not None:
        if iat is None:
            raise TokenError("the token has no 'iat' claim")
        if exp - iat > max_lifetime:
            raise TokenError(f"the token is valid for {int(exp - iat)} s; at most {max_lifetime} s are accepted")
    if audience is not None:
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if audience not in audiences:
            raise TokenError(f"the token is meant for {aud!r}, not for {audience!r}")
    return dict(claims)
