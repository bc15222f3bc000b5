"""DID documents on an Azure Storage static website (the ``$web`` container).

The static website endpoint serves ``$web`` at the domain's root, so ``did.json`` (or
``.well-known/did.json``) goes there with a JSON content type and cache headers. The
website feature is switched on if it is off; the container is created if it is missing
(Azure creates it with the feature, Azurite does not). The website endpoint does not
support CORS, so none is set.

Credentials: ``MVD_AZURE_STORAGE_CONNECTION_STRING`` when set (Azurite, development),
otherwise ``DefaultAzureCredential`` against the host's account URL.
"""

from __future__ import annotations

import hashlib
from typing import Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobServiceClient, ContentSettings, StaticWebsite

from mvd_core.dataspace.models import AzureBlobDidHost
from mvd_core.errors import ExternalError
from mvd_core.identity.didweb import did_for, did_to_url, document_path
from mvd_core.identity.document import to_bytes
from mvd_core.logs import get_logger, redact
from mvd_core.platforms.azure_errors import permission_hint, reason, refused
from mvd_core.platforms.didhosts import CACHE_CONTROL, CONTENT_TYPE, PublishResult
from mvd_core.settings import Settings

log = get_logger(__name__)

WEB_CONTAINER = "$web"
# The data action Azure checks for each verb of this client's errors.
BLOB_ACTIONS = {
    "create": "Microsoft.Storage/storageAccounts/blobServices/containers/write",
    "read": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
    "upload": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
    "delete": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
}
HASH_METADATA = "mvdsha256"  # Azure metadata names are C# identifiers: no '-'


class AzureBlobError(ExternalError):
    pass


def service_client(host: AzureBlobDidHost, settings: Settings, **kwargs: Any) -> BlobServiceClient:
    settings.require_resolved("azure_storage_connection_string")
    if settings.azure_storage_connection_string is not None:
        return BlobServiceClient.from_connection_string(
            settings.azure_storage_connection_string.get_secret_value(), **kwargs
        )
    from azure.identity import DefaultAzureCredential

    account_url = host.account_url or f"https://{host.storage_account}.blob.core.windows.net"
    return BlobServiceClient(account_url=account_url, credential=DefaultAzureCredential(), **kwargs)


class AzureBlobDidHostClient:
    def __init__(self, host: AzureBlobDidHost, participant_id: str, settings: Settings, *, service: Any = None) -> None:
        self.host = host
        self.did = did_for(host, participant_id)
        self.url = did_to_url(self.did)
        self.description = f"Azure static website of storage account {host.storage_account}"
        self.service: BlobServiceClient = service or service_client(host, settings)
        self.container = self.service.get_container_client(WEB_CONTAINER)
        self.key = document_path(host.path)
        self.blob = self.container.get_blob_client(self.key)

    def _fail(self, action: str, exc: AzureError) -> AzureBlobError:
        if refused(exc):
            needed = (
                "Microsoft.Storage/storageAccounts/blobServices/read"
                if "service properties" in action
                else BLOB_ACTIONS.get(action.split()[0])
            )
            return AzureBlobError(
                f"{self.description}: not authorized to {action} ({reason(exc)}; {permission_hint(exc, needed)})"
            )
        return AzureBlobError(redact(f"{self.description}: could not {action} ({reason(exc)})"))

    def _ensure_static_website(self) -> None:
        try:
            props = self.service.get_service_properties()
        except HttpResponseError as exc:
            if exc.status_code == 403:
                # Uploading to a website that may be off would publish a DID nobody can resolve.
                raise AzureBlobError(
                    f"{self.description}: not authorized to read its service properties ({reason(exc)}), so it cannot "
                    f"check that the static website is on and the DID document might never be served; the control "
                    f"plane's identity needs "
                    f"Microsoft.Storage/storageAccounts/blobServices/read and /write on the account (infra/ grants them "
                    f"in its did_website role)"
                ) from None
            raise self._fail("read its service properties", exc) from None
        except AzureError as exc:
            raise self._fail("read its service properties", exc) from None
        website = props.get("static_website")
        if website is not None and website.enabled:
            return
        try:
            self.service.set_service_properties(static_website=StaticWebsite(enabled=True))
        except AzureError as exc:
            grant = ""
            if refused(exc):
                grant = f"{permission_hint(exc, 'Microsoft.Storage/storageAccounts/blobServices/write')}, or "
            raise AzureBlobError(
                f"{self.description}: the static website is off and could not be switched on ({reason(exc)}); "
                f"{grant}enable it once with `az storage blob service-properties update --account-name "
                f"{self.host.storage_account} --static-website --auth-mode login`"
            ) from None
        log.info("enabled the static website of storage account %s", self.host.storage_account)

    def _ensure_container(self) -> None:
        try:
            if self.container.exists():
                return
            self.container.create_container()
        except ResourceExistsError:
            return
        except AzureError as exc:
            raise self._fail(f"create container {WEB_CONTAINER}", exc) from None

    def _current_hash(self) -> str | None:
        try:
            props = self.blob.get_blob_properties()
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise self._fail(f"read {self.key}", exc) from None
        settings = props.content_settings
        if settings.content_type != CONTENT_TYPE or settings.cache_control != CACHE_CONTROL:
            return None
        return (props.metadata or {}).get(HASH_METADATA)

    def publish(self, document: dict[str, Any]) -> PublishResult:
        body = to_bytes(document)
        digest = hashlib.sha256(body).hexdigest()
        self._ensure_static_website()
        self._ensure_container()
        if self._current_hash() == digest:
            return PublishResult(url=self.url, written=False, sha256=digest)
        try:
            self.blob.upload_blob(
                body,
                overwrite=True,
                content_settings=ContentSettings(content_type=CONTENT_TYPE, cache_control=CACHE_CONTROL),
                metadata={HASH_METADATA: digest},
            )
        except AzureError as exc:
            raise self._fail(f"upload {self.key}", exc) from None
        log.info("published %s to %s/%s", self.did, WEB_CONTAINER, self.key)
        return PublishResult(url=self.url, written=True, sha256=digest)

    def remove(self) -> bool:
        try:
            self.blob.delete_blob()
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            raise self._fail(f"delete {self.key}", exc) from None
        log.info("removed %s from %s/%s", self.did, WEB_CONTAINER, self.key)
        return True
