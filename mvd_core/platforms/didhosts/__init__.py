"""DID hosts behind one Protocol: where a participant's did.json is published.

Every host writes the canonical bytes of the document (``identity.document.to_bytes``) with
a JSON content type and cache headers, and records the content's SHA-256 next to it
(object metadata, or the file itself for ``local``) so an unchanged document costs only a
read. CORS is set where the host lets us (S3 and R2 buckets; the local server sets it
itself; Azure's static website endpoint does not support CORS).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from mvd_core.dataspace.models import (
    AzureBlobDidHost,
    CloudflareDidHost,
    DidHost,
    LocalDidHost,
    S3DidHost,
)
from mvd_core.errors import MvdError
from mvd_core.settings import Settings

CONTENT_TYPE = "application/did+json"
CACHE_CONTROL = "public, max-age=300"
HASH_METADATA = "mvd-sha256"  # object metadata key holding the content hash


class PublishResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str  # where the document is served (the DID's URL)
    written: bool  # False: the host already had these exact bytes
    sha256: str


@runtime_checkable
class DidHostClient(Protocol):
    did: str
    url: str
    description: str

    def publish(self, document: dict[str, Any]) -> PublishResult:
        """Upload the document unless the host already serves the same bytes."""
        ...

    def remove(self) -> bool:
        """Delete the document; False when there was none."""
        ...


def open_did_host(host: DidHost, participant_id: str, settings: Settings, **options: Any) -> DidHostClient:
    """The client for a participant's declared DID host.

    ``options`` go to the host's client (e.g. ``s3_client=``, ``service=`` or ``purger=`` to
    hand in a preconfigured SDK client).
    """
    match host:
        case LocalDidHost():
            from mvd_core.platforms.didhosts.local import LocalDidHostClient

            return LocalDidHostClient(host, participant_id, settings, **options)
        case AzureBlobDidHost():
            from mvd_core.platforms.didhosts.azure_blob import AzureBlobDidHostClient

            return AzureBlobDidHostClient(host, participant_id, settings, **options)
        case S3DidHost():
            from mvd_core.platforms.didhosts.s3 import S3DidHostClient

            return S3DidHostClient(host, participant_id, settings, **options)
        case CloudflareDidHost():
            from mvd_core.platforms.didhosts.cloudflare import CloudflareDidHostClient

            return CloudflareDidHostClient(host, participant_id, settings, **options)
    raise MvdError(f"unknown DID host kind {host!r}")  # pragma: no cover
