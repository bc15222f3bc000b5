"""DID documents on Cloudflare: an R2 bucket (through its S3 API) behind a proxied domain.

After an upload the document's public URL is purged from Cloudflare's cache
(``POST /zones/{zone_id}/purge_cache`` with ``{"files": [url]}``) so the CDN serves the new
file at once. If the purge fails the object is marked stale, so the next publish uploads
and purges again instead of seeing "unchanged" and leaving the old copy cached.

The bucket and its public custom domain are set up once outside the control plane (the
S3 API cannot connect a domain), so a missing bucket is an error, not something to create.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import httpx

from mvd_core.dataspace.models import CloudflareDidHost
from mvd_core.errors import ExternalError, MvdError
from mvd_core.identity.didweb import did_for, did_to_url, document_path
from mvd_core.identity.document import to_bytes
from mvd_core.logs import get_logger
from mvd_core.platforms.didhosts import PublishResult
from mvd_core.platforms.didhosts.s3 import Bucket, s3_config
from mvd_core.settings import Settings

if TYPE_CHECKING:  # the boto3 stubs are a development dependency
    from mypy_boto3_s3 import S3Client

log = get_logger(__name__)

PURGE_ATTEMPTS = 4
MAX_RETRY_AFTER = 30.0


class CloudflareError(ExternalError):
    pass


class CachePurger:
    """The one Cloudflare API call the DID host needs."""

    def __init__(
        self,
        api_url: str,
        token: str,
        zone_id: str,
        *,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        verify: Any = True,
    ) -> None:
        self.endpoint = f"{api_url.rstrip('/')}/zones/{zone_id}/purge_cache"
        self.zone_id = zone_id
        self._token = token
        self._timeout = timeout
        self._sleep = sleep
        self._verify = verify

    def purge(self, urls: list[str]) -> None:
        failure = "no attempt made"
        with httpx.Client(timeout=self._timeout, verify=self._verify) as client:
            for attempt in range(1, PURGE_ATTEMPTS + 1):
                try:
                    response = client.post(
                        self.endpoint,
                        json={"files": urls},
                        headers={"Authorization": f"Bearer {self._token}"},
                    )
                except httpx.HTTPError as exc:
                    failure = f"{type(exc).__name__}"
                    self._backoff(attempt, None)
                    continue
                if response.status_code == 429 or response.status_code >= 500:
                    failure = f"HTTP {response.status_code}"
                    self._backoff(attempt, response.headers.get("Retry-After"))
                    continue
                body = _json(response)
                if response.is_success and body.get("success") is True:
                    log.info("purged %s from Cloudflare zone %s", ", ".join(urls), self.zone_id)
                    return
                errors = "; ".join(
                    f"{e.get('code')}: {e.get('message')}" for e in body.get("errors", []) if isinstance(e, dict)
                )
                raise CloudflareError(
                    f"Cloudflare refused to purge {', '.join(urls)} in zone {self.zone_id}: "
                    f"HTTP {response.status_code}" + (f" ({errors})" if errors else "")
                )
        raise CloudflareError(
            f"Cloudflare cache purge of {', '.join(urls)} in zone {self.zone_id} failed "
            f"after {PURGE_ATTEMPTS} attempts (last: {failure})"
        )

    def _backoff(self, attempt: int, retry_after: str | None) -> None:
        if attempt == PURGE_ATTEMPTS:
            return
        delay = float(2 ** (attempt - 1))
        if retry_after is not None:
            try:
                delay = max(0.0, float(retry_after))
            except ValueError:
                pass
        self._sleep(min(delay, MAX_RETRY_AFTER))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class CloudflareDidHostClient:
    def __init__(
        self,
        host: CloudflareDidHost,
        participant_id: str,
        settings: Settings,
        *,
        s3_client: S3Client | None = None,
        purger: CachePurger | None = None,
    ) -> None:
        self.host = host
        self.did = did_for(host, participant_id)
        self.url = did_to_url(self.did)
        self.description = f"R2 bucket {host.bucket} behind {host.domain}"
        if s3_client is None:
            settings.require_resolved("r2_access_key_id", "r2_secret_access_key")
            if settings.r2_access_key_id is None or settings.r2_secret_access_key is None:
                raise MvdError(
                    f"{participant_id}: a Cloudflare DID host needs R2 credentials "
                    "(set MVD_R2_ACCESS_KEY_ID and MVD_R2_SECRET_ACCESS_KEY)"
                )
            endpoint = host.endpoint_url or f"https://{host.account_id}.r2.cloudflarestorage.com"
            s3_client = boto3.session.Session().client(
                "s3",
                region_name="auto",
                endpoint_url=endpoint,
                aws_access_key_id=settings.r2_access_key_id.get_secret_value(),
                aws_secret_access_key=settings.r2_secret_access_key.get_secret_value(),
                config=s3_config(endpoint),
            )
        if purger is None:
            settings.require_resolved("cloudflare_api_token")
            if settings.cloudflare_api_token is None:
                raise MvdError(
                    f"{participant_id}: a Cloudflare DID host needs an API token for cache purges "
                    "(set MVD_CLOUDFLARE_API_TOKEN)"
                )
            purger = CachePurger(
                settings.cloudflare_api_url, settings.cloudflare_api_token.get_secret_value(), host.zone_id
            )
        self.s3 = s3_client
        self.purger = purger
        self.bucket = Bucket(s3_client, host.bucket, document_path(host.path), self.description)

    def _require_bucket(self) -> None:
        if not self.bucket.exists():
            raise CloudflareError(
                f"R2 bucket {self.host.bucket} does not exist in account {self.host.account_id}; "
                f"create it and connect it to {self.host.domain}"
            )

    def publish(self, document: dict[str, Any]) -> PublishResult:
        self._require_bucket()
        self.bucket.ensure_cors()
        written, digest = self.bucket.put_if_changed(to_bytes(document))
        if written:
            log.info("published %s to R2 bucket %s", self.did, self.host.bucket)
            try:
                self.purger.purge([self.url])
            except CloudflareError:
                self.bucket.forget_hash()
                raise
        return PublishResult(url=self.url, written=written, sha256=digest)

    def remove(self) -> bool:
        self._require_bucket()
        removed = self.bucket.delete()
        if removed:
            log.info("removed %s from R2 bucket %s", self.did, self.host.bucket)
            self.purger.purge([self.url])
        return removed
