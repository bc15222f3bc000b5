"""Participant keys: generated once, stable, rotated on request, thumbprints per RFC 7638."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from mvd_core.identity import keys
from mvd_core.identity.keys import KeyMaterialError
from mvd_core.platforms.secrets.local import LocalFileVault


def b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@pytest.fixture
def vault(tmp_path) -> LocalFileVault:
    return LocalFileVault(tmp_path / "vault")


def test_rfc8037_thumbprint_vector():
    # RFC 8037, appendix A.3
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert keys.thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_ec_thumbprint_covers_only_required_members_in_order():
    jwk = keys.public_jwk(keys.generate_private_jwk("EC-P256"))
    import hashlib

    x, y = jwk["x"], jwk["y"]
    canonical = f'{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}'
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    assert jwk["kid"] == expected
    assert keys.thumbprint({**jwk, "use": "enc", "kid": "other"}) == expected


@pytest.mark.parametrize("key_type", ["EC-P256", "Ed25519"])
def test_generated_once_and_stable(vault, key_type):
    first = keys.ensure_participant_key(vault, "galactic-turbine", key_type)
    stored = vault.get(keys.secret_name("galactic-turbine"))
    second = keys.ensure_participant_key(vault, "galactic-turbine", key_type)
    assert first == second
    assert vault.get(keys.secret_name("galactic-turbine")) == stored  # not rewritten
    assert keys.public_key(vault, "galactic-turbine") == first
    assert not keys.PRIVATE_MEMBERS & set(first)
    assert first["kid"] == keys.thumbprint(first)


def test_ec_key_signs_and_the_public_jwk_verifies(vault):
    public = keys.ensure_participant_key(vault, "p", "EC-P256")
    private = json.loads(vault.get(keys.secret_name("p")))
    key = ec.derive_private_key(int.from_bytes(b64(private["d"]), "big"), ec.SECP256R1())
    signature = key.sign(b"message", ec.ECDSA(hashes.SHA256()))
    verifier = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64(public["x"]), "big"), int.from_bytes(b64(public["y"]), "big"), ec.SECP256R1()
    ).public_key()
    verifier.verify(signature, b"message", ec.ECDSA(hashes.SHA256()))
    assert (public["kty"], public["crv"], public["alg"]) == ("EC", "P-256", "ES256")


def test_ed25519_key_signs_and_the_public_jwk_verifies(vault):
    public = keys.ensure_participant_key(vault, "p", "Ed25519")
    private = json.loads(vault.get(keys.secret_name("p")))
    signature = ed25519.Ed25519PrivateKey.from_private_bytes(b64(private["d"])).sign(b"m")
    ed25519.Ed25519PublicKey.from_public_bytes(b64(public["x"])).verify(signature, b"m")
    assert (public["kty"], public["crv"], public["alg"]) == ("OKP", "Ed25519", "EdDSA")


def test_rotation_replaces_the_key(vault):
    old = keys.ensure_participant_key(vault, "p", "EC-P256")
    new = keys.rotate_participant_key(vault, "p", "EC-P256")
    assert new["kid"] != old["kid"]
    assert keys.ensure_participant_key(vault, "p", "EC-P256") == new


def test_a_declared_type_change_keeps_the_key_until_rotation(vault, caplog):
    old = keys.ensure_participant_key(vault, "p", "EC-P256")
    logger = logging.getLogger("mvd")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="mvd"):
            assert keys.ensure_participant_key(vault, "p", "Ed25519") == old
    finally:
        logger.removeHandler(caplog.handler)
    assert "mvd rotate-keys p" in caplog.text
    assert keys.rotate_participant_key(vault, "p", "Ed25519")["crv"] == "Ed25519"


def test_absent_key_is_none(vault):
    assert keys.public_key(vault, "nobody") is None


@pytest.mark.parametrize(
    "stored, reason",
    [
        ("not json at all {", "is not a JSON JWK"),
        ('{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}', "is not a private JWK"),
        ('{"kty": "RSA", "d": "SECRETD"}', "unsupported JWK key type"),
    ],
)
def test_unusable_stored_key_is_an_error_naming_the_secret(vault, stored, reason):
    vault.set(keys.secret_name("p"), stored)
    with pytest.raises(KeyMaterialError) as caught:
        keys.ensure_participant_key(vault, "p", "EC-P256")
    message = str(caught.value)
    assert reason in message and "p-did-signing-key" in message and "rotate" in message
    assert "SECRETD" not in message


def test_a_key_file_of_binary_garbage_is_named_kept_and_repaired_only_by_rotation(vault):
    keys.ensure_participant_key(vault, "p", "EC-P256")
    garbage = bytes(range(128, 256)) * 4  # not UTF-8
    path = vault.root / keys.secret_name("p")
    path.write_bytes(garbage)
    for read in (lambda: keys.public_key(vault, "p"), lambda: keys.ensure_participant_key(vault, "p", "EC-P256")):
        with pytest.raises(KeyMaterialError) as caught:
            read()
        message = str(caught.value)
        assert "'p-did-signing-key'" in message and str(vault.root) in message and "not UTF-8 text" in message
        assert "run `mvd rotate-keys p`" in message
    assert path.read_bytes() == garbage  # nothing replaced it unasked
    new = keys.rotate_participant_key(vault, "p", "EC-P256")
    assert keys.public_key(vault, "p") == new


def test_a_tampered_key_whose_parts_do_not_match_is_refused(vault):
    keys.ensure_participant_key(vault, "p", "EC-P256")
    other = keys.generate_private_jwk("EC-P256")
    stored = json.loads(vault.get(keys.secret_name("p")))
    stored["d"] = other["d"]
    vault.set(keys.secret_name("p"), json.dumps(stored))
    with pytest.raises(KeyMaterialError, match="private and public parts do not match") as caught:
        keys.public_key(vault, "p")
    assert other["d"] not in str(caught.value)
