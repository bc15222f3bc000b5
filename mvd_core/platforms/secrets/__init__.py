"""Secret stores behind one Protocol (``SecretStore``, defined where identity is given one):
the local file vault and Azure Key Vault.

A store holds one participant's secrets (its vault). Names are 1-127 characters of
letters, digits and '-', the rule Key Vault imposes, so a name works in every store.
Values are strings; no store ever puts a value into a log record or an error message.
"""

from __future__ import annotations

import re
from typing import Any

from mvd_core.dataspace.models import AzureKeyVault, LocalVault, Vault
from mvd_core.errors import MvdError
from mvd_core.identity.store import SecretStore, UnreadableSecret
from mvd_core.settings import Settings

__all__ = ["SecretStore", "UnreadableSecret", "check_name", "open_secret_store"]

_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")  # fullmatch: "$" would also match before a final newline


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise MvdError(f"{name!r} is not a valid secret name (1-127 letters, digits and '-')")
    return name


def open_secret_store(vault: Vault, participant_id: str, settings: Settings, *, credential: Any = None) -> SecretStore:
    """The store a participant's blueprint declares.

    ``local``: ``$MVD_HOME/vaults/<participant-id>/``. ``azure-key-vault``: the vault's URL
    (``https://<name>.vault.azure.net`` unless ``vaultUrl`` says otherwise) with
    ``DefaultAzureCredential`` unless a ``credential`` is passed.
    """
    match vault:
        case LocalVault():
            from mvd_core.platforms.secrets.local import LocalFileVault

            return LocalFileVault(settings.home / "vaults" / participant_id)
        case AzureKeyVault():
            from mvd_core.platforms.secrets.azure_keyvault import AzureKeyVaultStore

            url = vault.vault_url or f"https://{vault.name}.vault.azure.net"
            return AzureKeyVaultStore(url, credential)
    raise MvdError(f"unknown vault kind {vault!r}")  # pragma: no cover
