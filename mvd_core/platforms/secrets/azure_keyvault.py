"""Azure Key Vault as a secret store, through azure-keyvault-secrets.

Key Vault soft-deletes: a deleted secret keeps its name until purged, and setting it again
meanwhile answers 409. ``delete`` therefore purges when the vault allows it, and ``set``
recovers a soft-deleted secret before writing, so delete-then-set works either way.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.keyvault.secrets import SecretClient

from mvd_core.errors import ExternalError
from mvd_core.logs import get_logger
from mvd_core.platforms.azure_errors import permission_hint, reason, refused
from mvd_core.platforms.secrets import check_name

log = get_logger(__name__)


# The data action Key Vault checks for each of this store's verbs (the RBAC permission model).
SECRET_ACTIONS = {
    "read": "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    "write": "Microsoft.KeyVault/vaults/secrets/setSecret/action",
    "delete": "Microsoft.KeyVault/vaults/secrets/delete",
    "purge": "Microsoft.KeyVault/vaults/secrets/purge/action",
}


class AzureKeyVaultStore:
    def __init__(
        self,
        vault_url: str,
        credential: Any = None,
        *,
        polling_interval: float = 1.0,
        **client_kwargs: Any,
    ) -> None:
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self.vault_url = vault_url.rstrip("/")
        self.description = f"Azure Key Vault {self.vault_url}"
        self._polling_interval = polling_interval
        self.client = SecretClient(self.vault_url, credential, **client_kwargs)

    def _fail(self, action: str, name: str, exc: AzureError) -> ExternalError:
        if isinstance(exc, ServiceRequestError):
            # No answer at all: most likely no vault by that name exists (its DNS name does not resolve).
            return ExternalError(
                f"{self.description} cannot be reached to {action} secret {name!r} ({reason(exc, message=True)}). "
                "The control plane does not create Key Vaults: create each declared vault first (infra/ does with "
                "participants_enabled = true, or `az keyvault create --name <name> --resource-group <group> "
                "--enable-rbac-authorization true`) and let the control plane's identity use its secrets"
            )
        if refused(exc):
            return ExternalError(
                f"{self.description}: not authorized to {action} secret {name!r} ({reason(exc)}; "
                f"{permission_hint(exc, SECRET_ACTIONS.get(action))})"
            )
        return ExternalError(f"{self.description}: could not {action} secret {name!r} ({reason(exc, message=True)})")

    def get(self, name: str) -> str | None:
        check_name(name)
        try:
            return self.client.get_secret(name).value
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise self._fail("read", name, exc) from None

    def set(self, name: str, value: str) -> None:
        check_name(name)
        try:
            try:
                self.client.set_secret(name, value)
            except ResourceExistsError:
                log.info("secret %s is soft-deleted in %s; recovering it before writing", name, self.description)
                self.client.begin_recover_deleted_secret(name, _polling_interval=self._polling_interval).wait()
                self.client.set_secret(name, value)
        except AzureError as exc:
            raise self._fail("write", name, exc) from None

    def delete(self, name: str) -> bool:
        check_name(name)
        try:
            self.client.begin_delete_secret(name, _polling_interval=self._polling_interval).wait()
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            raise self._fail("delete", name, exc) from None
        try:
            self.client.purge_deleted_secret(name)
        except HttpResponseError as exc:
            # purge protection (403) or soft delete off (404): the secret is deleted either way
            log.info("secret %s deleted but not purged from %s (%s)", name, self.description, reason(exc, message=True))
        except AzureError as exc:
            raise self._fail("purge", name, exc) from None
        return True
