"""Shared set-up for the DID host tests: seed participants pointed at the emulators, request
counters, and the routes that map each DID's public URL to the emulator serving it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
from azure.storage.blob import BlobServiceClient

from mvd_core.dataspace import load
from mvd_core.dataspace.models import Participant
from tests.fixtures.cloudflare_fake import TOKEN as CLOUDFLARE_TOKEN
from tests.fixtures.emulators import MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY

WRITE_METHODS = {"PUT", "POST", "DELETE", "PATCH"}
SERVICE_URLS = {
    "credential_service_url": "https://{id}.mvd.example/api/identity/v1/participants/{id}",
    "protocol_url": "https://{id}.mvd.example/api/dsp",
}


def service_urls(participant_id: str) -> dict[str, str]:
    return {k: v.format(id=participant_id) for k, v in SERVICE_URLS.items()}


@dataclass
class Requests:
    """(method, url) of every request an SDK client sent."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.seen if r[0] in WRITE_METHODS]

    def clear(self) -> None:
        self.seen.clear()

    def count_boto3(self, client: Any) -> Any:
        def before_send(request: Any, **_: Any) -> None:
            self.seen.append((request.method, request.url))

        client.meta.events.register("before-send.s3", before_send)
        return client

    def azure_hook(self, request: Any) -> None:
        self.seen.append((request.http_request.method, request.http_request.url))


def seed(participant_id: str) -> Participant:
    return load().participant(participant_id)


def moto_client(endpoint: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=MOTO_ACCESS_KEY_ID,
        aws_secret_access_key=MOTO_SECRET_ACCESS_KEY,
    )


def prepare_r2_bucket(endpoint: str, bucket: str, key: str) -> None:
    """What an operator sets up once on Cloudflare: the bucket, publicly readable (R2 does
    that through a custom domain; moto through a bucket policy), without a document yet."""
    s3 = moto_client(endpoint)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
                ],
            }
        ),
    )
    s3.delete_object(Bucket=bucket, Key=key)


def forget_s3_document(endpoint: str, bucket: str, key: str) -> None:
    s3 = moto_client(endpoint)
    if bucket in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.delete_object(Bucket=bucket, Key=key)


def open_web_container(service: BlobServiceClient) -> None:
    """Azurite has no static website endpoint; anonymous reads of ``$web`` stand in for it."""
    service.get_container_client("$web").set_container_access_policy(signed_identifiers={}, public_access="blob")


def r2_env(monkeypatch: Any, cloudflare_url: str) -> None:
    monkeypatch.setenv("MVD_R2_ACCESS_KEY_ID", MOTO_ACCESS_KEY_ID)
    monkeypatch.setenv("MVD_R2_SECRET_ACCESS_KEY", MOTO_SECRET_ACCESS_KEY)
    monkeypatch.setenv("MVD_CLOUDFLARE_API_TOKEN", CLOUDFLARE_TOKEN)
    monkeypatch.setenv("MVD_CLOUDFLARE_API_URL", cloudflare_url)


def aws_env(monkeypatch: Any) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", MOTO_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", MOTO_SECRET_ACCESS_KEY)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
