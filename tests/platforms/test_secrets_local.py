"""The local file vault: permissions, atomic writes, idempotent operations, name rules."""

from __future__ import annotations

import stat

import pytest

from mvd_core.dataspace.models import AzureKeyVault, LocalVault
from mvd_core.errors import MvdError
from mvd_core.platforms.secrets import SecretStore, open_secret_store
from mvd_core.platforms.secrets.azure_keyvault import AzureKeyVaultStore
from mvd_core.platforms.secrets.local import LocalFileVault
from mvd_core.settings import get_settings
from tests.fixtures.keyvault_fake import StubCredential


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_set_get_delete_round_trip(tmp_path):
    vault = LocalFileVault(tmp_path / "v")
    assert vault.get("a-secret") is None
    vault.set("a-secret", "value 1")
    assert vault.get("a-secret") == "value 1"
    vault.set("a-secret", "value 2")
    assert vault.get("a-secret") == "value 2"
    assert vault.delete("a-secret") is True
    assert vault.delete("a-secret") is False
    assert vault.get("a-secret") is None


def test_directory_0700_and_files_0600_even_with_a_permissive_umask(tmp_path):
    import os

    old = os.umask(0)
    try:
        vault = LocalFileVault(tmp_path / "v")
        vault.set("k", "secret")
    finally:
        os.umask(old)
    assert mode(tmp_path / "v") == 0o700
    assert mode(tmp_path / "v" / "k") == 0o600


def test_existing_world_readable_directory_is_tightened(tmp_path):
    (tmp_path / "v").mkdir(mode=0o755)
    (tmp_path / "v").chmod(0o755)
    LocalFileVault(tmp_path / "v").set("k", "x")
    assert mode(tmp_path / "v") == 0o700


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path, monkeypatch):
    vault = LocalFileVault(tmp_path / "v")
    vault.set("k", "old")

    import os as os_module

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os_module, "replace", broken_replace)
    with pytest.raises(MvdError, match="cannot write secret 'k'.*No space left"):
        vault.set("k", "new")
    monkeypatch.undo()
    assert vault.get("k") == "old"
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == ["k"]


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "a.b", "x" * 128, "spaces not allowed"])
def test_invalid_names_are_refused_with_the_name(tmp_path, name):
    vault = LocalFileVault(tmp_path / "v")
    with pytest.raises(MvdError, match="is not a valid secret name"):
        vault.set(name, "v")
    assert not (tmp_path / "escape").exists()


def test_error_messages_never_carry_the_value(tmp_path):
    (tmp_path / "v").write_text("a file where the vault directory should be")
    vault = LocalFileVault(tmp_path / "v")
    with pytest.raises(MvdError) as caught:
        vault.set("k", "TOP-SECRET-VALUE")
    assert "TOP-SECRET-VALUE" not in str(caught.value)


def test_factory_local_vault_lives_under_the_state_directory():
    settings = get_settings()
    store = open_secret_store(LocalVault(), "galactic-turbine", settings)
    assert isinstance(store, LocalFileVault) and isinstance(store, SecretStore)
    assert store.root == settings.home / "vaults" / "galactic-turbine"


def test_factory_key_vault_uses_the_default_vault_url():
    store = open_secret_store(
        AzureKeyVault(kind="azure-key-vault", name="kv-mvd-x"), "x", get_settings(), credential=StubCredential()
    )
    assert isinstance(store, AzureKeyVaultStore) and isinstance(store, SecretStore)
    assert store.vault_url == "https://kv-mvd-x.vault.azure.net"
