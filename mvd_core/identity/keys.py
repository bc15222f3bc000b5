"""Participants' signing keys as JWK, kept only in the participant's vault.

One key per participant: EC P-256 by default, Ed25519 as an option. It is generated once
and then read back, so it is stable across resets; only ``rotate_participant_key`` replaces
it. The vault holds the private JWK as JSON; everything this module returns is the public
JWK with ``kid`` set to its RFC 7638 thumbprint. Every function is given the participant's
store (``mvd_core.workflow.connect`` picks it); none opens one.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from mvd_core.errors import MvdError
from mvd_core.identity.store import SecretStore, UnreadableSecret
from mvd_core.logs import get_logger

log = get_logger(__name__)

KeyType = Literal["EC-P256", "Ed25519"]

# RFC 7638 section 3.2 / RFC 8037 section 2: the required members per key type.
_REQUIRED = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
_ALG = {("EC", "P-256"): "ES256", ("OKP", "Ed25519"): "EdDSA"}
# Members that carry private key material in any JWK (RFC 7518 section 6, RFC 8037).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class KeyMaterialError(MvdError):
    """A stored key cannot be used (never carries key material in its message)."""


def secret_name(participant_id: str) -> str:
    return f"{participant_id}-did-signing-key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC or OKP key."""
    kty = jwk.get("kty")
    members = _REQUIRED.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise KeyMaterialError(f"unsupported JWK key type {kty!r} (expected EC or OKP)")
    missing = [m for m in members if not isinstance(jwk.get(m), str)]
    if missing:
        raise KeyMaterialError(f"JWK lacks required member(s) {', '.join(missing)}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(jwk: dict[str, Any]) -> dict[str, Any]:
    """The public part of a JWK, with ``kid`` (thumbprint), ``alg`` and ``use``."""
    members = _REQUIRED.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None:
        raise KeyMaterialError(f"unsupported JWK key type {jwk.get('kty')!r} (expected EC or OKP)")
    public = {m: jwk[m] for m in members if m in jwk}
    kid = thumbprint(public)
    alg = _ALG.get((public["kty"], public["crv"]))
    if alg is None:
        raise KeyMaterialError(f"unsupported curve {public['crv']!r} for key type {public['kty']}")
    return {**public, "kid": kid, "alg": alg, "use": "sig"}


def generate_private_jwk(key_type: KeyType) -> dict[str, Any]:
    if key_type == "EC-P256":
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.private_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64(numbers.public_numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.public_numbers.y.to_bytes(32, "big")),
            "d": _b64(numbers.private_value.to_bytes(32, "big")),
        }
    elif key_type == "Ed25519":
        okp = ed25519.Ed25519PrivateKey.generate()
        from cryptography.hazmat.primitives import serialization as s

        jwk = {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64(okp.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)),
            "d": _b64(okp.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())),
        }
    else:
        raise KeyMaterialError(f"unsupported key type {key_type!r} (expected EC-P256 or Ed25519)")
    return {**jwk, "kid": thumbprint(jwk)}


def key_type_of(jwk: dict[str, Any]) -> KeyType:
    return "Ed25519" if jwk.get("kty") == "OKP" else "EC-P256"


def _repair(participant_id: str) -> str:
    return f"run `mvd rotate-keys {participant_id}` to replace it with a new key (the DID document follows)"


def _load(store: SecretStore, participant_id: str) -> dict[str, Any] | None:
    where = f"secret {secret_name(participant_id)!r} in {store.description}"
    try:
        raw = store.get(secret_name(participant_id))
    except UnreadableSecret as exc:
        raise KeyMaterialError(f"{exc.message}; {_repair(participant_id)}") from None
    if raw is None:
        return None
    try:
        jwk = json.loads(raw)
    except ValueError:
        raise KeyMaterialError(f"{where} is not a JSON JWK; {_repair(participant_id)}") from None
    if not isinstance(jwk, dict) or not isinstance(jwk.get("d"), str):
        raise KeyMaterialError(f"{where} is not a private JWK; {_repair(participant_id)}")
    try:
        _check_private(jwk)
    except (ValueError, KeyMaterialError, KeyError, TypeError) as exc:
        reason = exc.message if isinstance(exc, MvdError) else "its members do not form a valid key"
        raise KeyMaterialError(f"{where} holds an unusable key ({reason}); {_repair(participant_id)}") from None
    return jwk


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _check_private(jwk: dict[str, Any]) -> None:
    """The private value must match the public members (a torn or edited secret fails)."""
    public_jwk(jwk)
    d = _unb64(jwk["d"])
    if jwk["kty"] == "EC":
        key = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
        pub = key.public_key().public_numbers()
        ok = (_unb64(jwk["x"]), _unb64(jwk["y"])) == (pub.x.to_bytes(32, "big"), pub.y.to_bytes(32, "big"))
    else:
        from cryptography.hazmat.primitives import serialization as s

        okp = ed25519.Ed25519PrivateKey.from_private_bytes(d)
        ok = okp.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw) == _unb64(jwk["x"])
    if not ok:
        raise KeyMaterialError("private and public parts do not match")


def public_key(store: SecretStore, participant_id: str) -> dict[str, Any] | None:
    """The participant's public JWK, or None when it has no key yet."""
    jwk = _load(store, participant_id)
    return public_jwk(jwk) if jwk is not None else None


def signing_jwk(store: SecretStore, participant_id: str) -> dict[str, Any] | None:
    """The private JWK, or None when there is none yet: only for signing inside this process
    (the dataspace issuer signs with its own); never logged, returned by an API or stored elsewhere."""
    return _load(store, participant_id)


def ensure_participant_key(store: SecretStore, participant_id: str, key_type: KeyType) -> dict[str, Any]:
    """The participant's public JWK, generating and storing the key pair only if absent.

    An existing key of another type is kept (DIDs stay stable); ``rotate_participant_key``
    switches the type.
    """
    jwk = _load(store, participant_id)
    if jwk is None:
        generated = generate_private_jwk(key_type)
        store.set(secret_name(participant_id), json.dumps(generated, sort_keys=True))
        # read back: if two runs raced, both return the key that was stored last
        jwk = _load(store, participant_id) or generated
        log.info("generated %s signing key %s for %s in %s", key_type, jwk["kid"], participant_id, store.description)
    elif key_type_of(jwk) != key_type:
        log.warning(
            "%s keeps its %s key %s although %s is declared; run `mvd rotate-keys %s` to switch",
            participant_id,
            key_type_of(jwk),
            jwk["kid"],
            key_type,
            participant_id,
        )
    return public_jwk(jwk)


def rotate_participant_key(store: SecretStore, participant_id: str, key_type: KeyType) -> dict[str, Any]:
    """Replace the participant's key with a new one; returns the new public JWK. A stored key
    that cannot be read is replaced too: rotation is how it is repaired."""
    try:
        before = "" if store.get(secret_name(participant_id)) else " (there was none)"
    except UnreadableSecret:
        before = " (it replaces an unreadable one)"
    jwk = generate_private_jwk(key_type)
    store.set(secret_name(participant_id), json.dumps(jwk, sort_keys=True))
    log.info(
        "rotated signing key of %s in %s: new %s key %s%s",
        participant_id,
        store.description,
        key_type,
        jwk["kid"],
        before,
    )
    return public_jwk(jwk)
