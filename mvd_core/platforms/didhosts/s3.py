"""DID documents in an S3 bucket (AWS, or any S3 API: R2 uses the bucket helpers here).

``S3DidHostClient`` makes sure the bucket exists, lets browsers read the document (a CORS
rule) and lets anyone GET just the did.json key (one bucket-policy statement, merged into
whatever policy the bucket already has), then uploads the document if its hash changed.
Every check is a read, so republishing an unchanged document writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from mvd_core.dataspace.models import S3DidHost
from mvd_core.errors import ExternalError
from mvd_core.identity.didweb import did_for, did_to_url, document_path
from mvd_core.identity.document import to_bytes
from mvd_core.logs import get_logger, redact
from mvd_core.platforms.didhosts import CACHE_CONTROL, CONTENT_TYPE, HASH_METADATA, PublishResult
from mvd_core.settings import Settings, require_resolved_environment

if TYPE_CHECKING:  # the boto3 stubs are a development dependency
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CORSRuleTypeDef

log = get_logger(__name__)

POLICY_SID = "MvdDidWebPublicRead"
CORS_RULE: CORSRuleTypeDef = {
    "AllowedOrigins": ["*"],
    "AllowedMethods": ["GET", "HEAD"],
    "AllowedHeaders": ["*"],
    "MaxAgeSeconds": 3600,
}


def s3_config(endpoint_url: str | None) -> Config:
    return Config(
        # custom endpoints (moto, R2, MinIO) are addressed by path, not by virtual host
        s3={"addressing_style": "path"} if endpoint_url else {},
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=5,
        read_timeout=30,
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class S3Error(ExternalError):
    pass


def s3_failure(where: str, action: str, exc: Exception) -> S3Error:
    if isinstance(exc, NoCredentialsError):
        return S3Error(
            f"{where}: no credentials to {action} (boto3 looked in the environment, ~/.aws and the instance role)"
        )
    if isinstance(exc, ClientError):
        message = exc.response.get("Error", {}).get("Message", "")
        return S3Error(redact(f"{where}: could not {action}: {_code(exc) or _status(exc)} {message}".rstrip()))
    return S3Error(redact(f"{where}: could not {action}: {type(exc).__name__}: {exc}"))


class Bucket:
    """The S3 calls a DID host needs, on one bucket and key."""

    def __init__(self, s3: S3Client, bucket: str, key: str, where: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.where = where

    def exists(self) -> bool:
        try:
            self.s3.head_bucket(Bucket=self.bucket)
            return True
        except ClientError as exc:
            if _status(exc) == 404 or _code(exc) in ("404", "NoSuchBucket"):
                return False
            raise s3_failure(self.where, f"read bucket {self.bucket}", exc) from None
        except BotoCoreError as exc:
            raise s3_failure(self.where, f"read bucket {self.bucket}", exc) from None

    def create(self, region: str) -> None:
        args: dict[str, Any] = {"Bucket": self.bucket}
        if region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.s3.create_bucket(**args)
            log.info("created bucket %s (%s)", self.bucket, self.where)
        except ClientError as exc:
            if _code(exc) != "BucketAlreadyOwnedByYou":
                raise s3_failure(self.where, f"create bucket {self.bucket}", exc) from None
        except BotoCoreError as exc:
            raise s3_failure(self.where, f"create bucket {self.bucket}", exc) from None

    def ensure_cors(self) -> bool:
        """Add a GET-from-anywhere CORS rule unless one is there; True if it wrote."""
        try:
            try:
                rules = self.s3.get_bucket_cors(Bucket=self.bucket).get("CORSRules", [])
            except ClientError as exc:
                if _code(exc) != "NoSuchCORSConfiguration":
                    raise
                rules = []
            if any("*" in r.get("AllowedOrigins", []) and "GET" in r.get("AllowedMethods", []) for r in rules):
                return False
            self.s3.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": [*rules, CORS_RULE]})
            log.info("added a CORS rule to bucket %s (%s)", self.bucket, self.where)
            return True
        except (ClientError, BotoCoreError) as exc:
            raise s3_failure(self.where, f"set CORS on bucket {self.bucket}", exc) from None

    def ensure_public_read(self) -> bool:
        """Merge a statement letting anyone GET the document's key; True if it wrote."""
        statement = {
            "Sid": POLICY_SID,
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{self.bucket}/{self.key}",
        }
        try:
            try:
                policy = json.loads(self.s3.get_bucket_policy(Bucket=self.bucket)["Policy"])
            except ClientError as exc:
                if _code(exc) != "NoSuchBucketPolicy":
                    raise
                policy = {"Version": "2012-10-17", "Statement": []}
            statements = policy.get("Statement", [])
            if isinstance(statements, dict):
                statements = [statements]
            if statement in statements:
                return False
            policy["Statement"] = [s for s in statements if s.get("Sid") != POLICY_SID] + [statement]
            self.s3.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy))
            log.info("bucket %s now lets anyone read %s (%s)", self.bucket, self.key, self.where)
            return True
        except ClientError as exc:
            if _code(exc) == "AccessDenied":
                raise S3Error(
                    f"{self.where}: may not make {self.key} public in bucket {self.bucket} "
                    "(Block Public Access may forbid public bucket policies; allow them for this "
                    "bucket or serve it through a CDN and set `domain`)"
                ) from None
            raise s3_failure(self.where, f"set the policy of bucket {self.bucket}", exc) from None
        except BotoCoreError as exc:
            raise s3_failure(self.where, f"set the policy of bucket {self.bucket}", exc) from None

    def current_hash(self) -> str | None:
        """The stored content hash if the object's bytes and headers are what we would write."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            if _status(exc) == 404 or _code(exc) in ("404", "NoSuchKey"):
                return None
            raise s3_failure(self.where, f"read {self.key}", exc) from None
        except BotoCoreError as exc:
            raise s3_failure(self.where, f"read {self.key}", exc) from None
        if head.get("ContentType") != CONTENT_TYPE or head.get("CacheControl") != CACHE_CONTROL:
            return None
        return head.get("Metadata", {}).get(HASH_METADATA)

    def put_if_changed(self, body: bytes) -> tuple[bool, str]:
        digest = hashlib.sha256(body).hexdigest()
        if self.current_hash() == digest:
            return False, digest
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=body,
                ContentType=CONTENT_TYPE,
                CacheControl=CACHE_CONTROL,
                Metadata={HASH_METADATA: digest},
            )
        except (ClientError, BotoCoreError) as exc:
            raise s3_failure(self.where, f"upload {self.key}", exc) from None
        return True, digest

    def forget_hash(self) -> None:
        """Make the next publish rewrite the object (used when a follow-up step failed)."""
        try:
            self.s3.copy_object(
                Bucket=self.bucket,
                Key=self.key,
                CopySource={"Bucket": self.bucket, "Key": self.key},
                MetadataDirective="REPLACE",
                ContentType=CONTENT_TYPE,
                CacheControl=CACHE_CONTROL,
                Metadata={HASH_METADATA: "stale"},
            )
        except (ClientError, BotoCoreError) as exc:
            log.warning(
                "%s: could not mark %s for rewrite: %s", self.where, self.key, s3_failure(self.where, "mark", exc)
            )

    def delete(self) -> bool:
        if not self._object_exists():
            return False
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self.key)
        except (ClientError, BotoCoreError) as exc:
            raise s3_failure(self.where, f"delete {self.key}", exc) from None
        return True

    def _object_exists(self) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self.key)
            return True
        except ClientError as exc:
            if _status(exc) == 404 or _code(exc) in ("404", "NoSuchKey", "NoSuchBucket"):
                return False
            raise s3_failure(self.where, f"read {self.key}", exc) from None
        except BotoCoreError as exc:
            raise s3_failure(self.where, f"read {self.key}", exc) from None


class S3DidHostClient:
    def __init__(
        self, host: S3DidHost, participant_id: str, settings: Settings, *, s3_client: S3Client | None = None
    ) -> None:
        self.host = host
        self.did = did_for(host, participant_id)
        self.url = did_to_url(self.did)
        self.description = f"S3 bucket {host.bucket}"
        if s3_client is None:
            # boto3 reads these itself: a Key Vault reference left in them would be sent as a key
            require_resolved_environment("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        # a session of its own: the default session caches the credentials it found first
        self.s3 = s3_client or boto3.session.Session().client(
            "s3", region_name=host.region, endpoint_url=host.endpoint_url, config=s3_config(host.endpoint_url)
        )
        self.bucket = Bucket(self.s3, host.bucket, document_path(host.path), self.description)

    def publish(self, document: dict[str, Any]) -> PublishResult:
        if not self.bucket.exists():
            self.bucket.create(self.host.region)
        self.bucket.ensure_cors()
        self.bucket.ensure_public_read()
        written, digest = self.bucket.put_if_changed(to_bytes(document))
        if written:
            log.info("published %s to s3://%s/%s", self.did, self.host.bucket, self.bucket.key)
        return PublishResult(url=self.url, written=written, sha256=digest)

    def remove(self) -> bool:
        if not self.bucket.exists():
            return False
        removed = self.bucket.delete()
        if removed:
            log.info("removed %s from s3://%s/%s", self.did, self.host.bucket, self.bucket.key)
        return removed
