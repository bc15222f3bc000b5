"""Azure Key Vault through the real azure-keyvault-secrets SDK against a loopback HTTPS fake
of its REST API, including the bearer challenge."""

from __future__ import annotations

import json

import pytest

from mvd_core.dataspace.models import AzureKeyVault
from mvd_core.errors import ExternalError
from mvd_core.identity import keys
from mvd_core.platforms.secrets import open_secret_store
from mvd_core.platforms.secrets.azure_keyvault import AzureKeyVaultStore
from mvd_core.settings import get_settings
from tests.fixtures.keyvault_fake import RESOURCE, TENANT, StubCredential, fake_key_vault


@pytest.fixture
def vault(tmp_path):
    with fake_key_vault(tmp_path) as fake:
        yield fake


def store_for(fake, credential=None) -> AzureKeyVaultStore:
    return AzureKeyVaultStore(fake.url, credential or StubCredential(), polling_interval=0.01, **fake.client_kwargs())


def test_challenge_then_bearer_token_for_the_vault_resource(vault):
    credential = StubCredential()
    store = store_for(vault, credential)
    store.set("s1", "v1")
    # the SDK's first request is unauthenticated and answered with the challenge
    assert vault.state.calls[0] == ("PUT", "/secrets/s1", False)
    assert vault.state.calls[1] == ("PUT", "/secrets/s1", True)
    scopes, tenant = credential.requests[0]
    assert scopes == (f"{RESOURCE}/.default",)
    assert tenant == TENANT
    assert vault.state.secrets["s1"][-1]["value"] == "v1"


def test_get_set_delete_round_trip_and_idempotence(vault):
    store = store_for(vault)
    assert store.get("missing") is None
    store.set("s", "one")
    store.set("s", "two")
    assert store.get("s") == "two"
    assert store.delete("s") is True
    assert store.get("s") is None
    assert store.delete("s") is False
    assert "s" not in vault.state.deleted  # purged


def test_delete_then_set_recovers_under_purge_protection(tmp_path):
    with fake_key_vault(tmp_path, purge_protection=True) as fake:
        store = store_for(fake)
        store.set("s", "one")
        assert store.delete("s") is True
        assert "s" in fake.state.deleted  # soft-deleted, purge refused
        store.set("s", "two")
        assert store.get("s") == "two"
        assert ("POST", "/deletedsecrets/s/recover", True) in fake.state.calls


def test_wrong_token_is_an_external_error_without_secrets(vault):
    store = store_for(vault, StubCredential(token="not-the-right-token"))
    with pytest.raises(ExternalError) as caught:
        store.set("s", "TOP-SECRET-VALUE")
    message = str(caught.value)
    assert "not authorized to write secret 's'" in message
    # the data action Key Vault checked and the project's role that grants it
    assert ("lacks Microsoft.KeyVault/vaults/secrets/setSecret/action: assign it "
            "<name_prefix>-control-plane-participants from infra/roles.tf") in message
    assert vault.url in message
    assert "TOP-SECRET-VALUE" not in message and "not-the-right-token" not in message


def test_unreachable_vault_names_the_vault(vault):
    store = AzureKeyVaultStore(
        "https://127.0.0.1:9", StubCredential(), retry_total=0, **vault.client_kwargs()
    )
    with pytest.raises(ExternalError, match=r"Azure Key Vault https://127.0.0.1:9 cannot be reached to read secret 'x'"):
        store.get("x")


def test_participant_key_in_key_vault_is_generated_once(vault):
    store = store_for(vault)
    first = keys.ensure_participant_key(store, "space-enforcer", "EC-P256")
    second = keys.ensure_participant_key(store, "space-enforcer", "EC-P256")
    assert first == second
    versions = vault.state.secrets[keys.secret_name("space-enforcer")]
    assert len(versions) == 1
    stored = json.loads(versions[0]["value"])
    assert stored["d"] and "d" not in first
    rotated = keys.rotate_participant_key(store, "space-enforcer", "Ed25519")
    assert rotated["kid"] != first["kid"] and rotated["crv"] == "Ed25519"
    assert keys.public_key(store, "space-enforcer") == rotated


def test_factory_honours_vault_url(vault):
    model = AzureKeyVault(kind="azure-key-vault", name="kv-mvd-test", vault_url=vault.url)
    store = open_secret_store(model, "p", get_settings(), credential=StubCredential())
    assert isinstance(store, AzureKeyVaultStore) and store.vault_url == vault.url


def test_private_key_never_reaches_the_logs(vault, capture_logs):
    """The private JWK travels to Key Vault in a request body; no logger (ours or the
    SDK's, at DEBUG) may record it, nor may an error about the secret."""
    store = store_for(vault)
    keys.ensure_participant_key(store, "galactic-turbine", "EC-P256")
    keys.rotate_participant_key(store, "galactic-turbine", "Ed25519")
    secrets = [json.loads(v["value"])["d"] for v in vault.state.secrets[keys.secret_name("galactic-turbine")]]
    broken = store_for(vault, StubCredential(token="wrong"))
    with pytest.raises(ExternalError) as caught:
        keys.public_key(broken, "galactic-turbine")
    assert len(secrets) == 2 and capture_logs.lines
    text = "\n".join(capture_logs.lines) + str(caught.value)
    assert "PUT" in text or "put" in text.lower()  # the SDK's request logging was captured
    assert not any(secret in text for secret in secrets)


def test_a_vault_that_does_not_exist_is_one_clear_error():
    """No code creates a participant's Key Vault: a declared vault that is not there fails the
    vault step with one error saying so and how to create it, not a connection traceback."""
    store = AzureKeyVaultStore("https://127.0.0.1:9", StubCredential(), polling_interval=0.01, retry_total=0)
    for call in (lambda: store.get("signing-key"), lambda: store.set("signing-key", "value-0123456789")):
        with pytest.raises(ExternalError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith("Azure Key Vault https://127.0.0.1:9 cannot be reached to ")
        assert "The control plane does not create Key Vaults" in message and "participants_enabled = true" in message
        assert "value-0123456789" not in message
