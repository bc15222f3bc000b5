"""Each DID host's own behaviour: local files, S3 bucket set-up, R2 + purge retries and
failures, Azure static website; plus the factory and configuration errors."""

from __future__ import annotations

import json
import stat
from functools import partial
from http.server import SimpleHTTPRequestHandler

import pytest
from azure.storage.blob import BlobServiceClient

from mvd_core.dataspace.models import AzureBlobDidHost, CloudflareDidHost, LocalDidHost, S3DidHost
from mvd_core.errors import ExternalError, MvdError
from mvd_core.identity import keys
from mvd_core.identity.document import build_did_document, to_bytes
from mvd_core.identity.resolver import HttpStatusError, resolve, verify_published
from mvd_core.platforms.didhosts import CACHE_CONTROL, CONTENT_TYPE, DidHostClient, open_did_host
from mvd_core.platforms.didhosts.azure_blob import AzureBlobDidHostClient
from mvd_core.platforms.didhosts.cloudflare import CloudflareDidHostClient, CloudflareError
from mvd_core.platforms.didhosts.local import LocalDidHostClient
from mvd_core.platforms.didhosts.s3 import POLICY_SID, S3DidHostClient
from mvd_core.settings import get_settings
from tests.fixtures.loopback import serve
from tests.platforms.didhost_support import (
    Requests,
    aws_env,
    moto_client,
    prepare_r2_bucket,
    r2_env,
    service_urls,
)

LOOPBACK = {"allow_http_loopback": True, "allow_private": True}


def document(did: str, key_type: str = "EC-P256") -> dict:
    jwk = keys.public_jwk(keys.generate_private_jwk(key_type))  # type: ignore[arg-type]
    return build_did_document(did, jwk, **service_urls("p"))


# --- local ------------------------------------------------------------------------------


def test_local_host_writes_once_serves_and_removes(monkeypatch):
    settings = get_settings()
    client = open_did_host(LocalDidHost(kind="local", path=["org"]), "p1", settings)
    assert isinstance(client, LocalDidHostClient) and isinstance(client, DidHostClient)
    doc = document(client.did)
    first = client.publish(doc)
    assert first.written and client.path == settings.home / "dids" / "p1" / "org" / "did.json"
    assert client.path.read_bytes() == to_bytes(doc)
    assert stat.S_IMODE(client.path.stat().st_mode) == 0o600  # public once served, private on disk
    before = client.path.stat().st_mtime_ns, client.path.stat().st_ino
    assert client.publish(json.loads(json.dumps(doc))).written is False
    assert (client.path.stat().st_mtime_ns, client.path.stat().st_ino) == before

    # what `mvd serve` does: serve $MVD_HOME/dids under /dids
    handler = partial(SimpleHTTPRequestHandler, directory=str(settings.home))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    with serve(handler) as url:  # type: ignore[arg-type]
        port = url.rsplit(":", 1)[1]
        monkeypatch.setenv("MVD_PORT", port)
        get_settings.cache_clear()
        served_client = open_did_host(LocalDidHost(kind="local", path=["org"]), "p1", get_settings())
        assert served_client.did == f"did:web:localhost%3A{port}:dids:p1:org"
        assert served_client.url == f"http://localhost:{port}/dids/p1/org/did.json"
        served_doc = document(served_client.did)
        served_client.publish(served_doc)
        assert verify_published(served_client.did, served_doc, **LOOPBACK) == served_doc
        assert served_client.remove() is True
        with pytest.raises(HttpStatusError, match="HTTP 404"):
            resolve(served_client.did, **LOOPBACK)
    assert served_client.remove() is False
    assert not (settings.home / "dids" / "p1").exists() or not any((settings.home / "dids" / "p1").rglob("*.json"))


# --- S3 ---------------------------------------------------------------------------------


@pytest.fixture
def s3_host(moto_server, monkeypatch, request):
    aws_env(monkeypatch)
    bucket = f"mvd-test-{request.node.name.replace('_', '-')[:40].strip('-')}"
    return S3DidHost(kind="s3", bucket=bucket, region="eu-west-1", endpoint_url=moto_server, path=["did"])


def test_s3_creates_the_bucket_with_cors_and_a_public_read_statement(s3_host, moto_server):
    client = open_did_host(s3_host, "p", get_settings())
    assert isinstance(client, S3DidHostClient)
    doc = document(client.did)
    assert client.publish(doc).written
    s3 = moto_client(moto_server, "eu-west-1")
    assert s3.get_bucket_location(Bucket=s3_host.bucket)["LocationConstraint"] == "eu-west-1"
    rules = s3.get_bucket_cors(Bucket=s3_host.bucket)["CORSRules"]
    assert any(r["AllowedOrigins"] == ["*"] and "GET" in r["AllowedMethods"] for r in rules)
    policy = json.loads(s3.get_bucket_policy(Bucket=s3_host.bucket)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Sid"] == POLICY_SID and statement["Resource"] == f"arn:aws:s3:::{s3_host.bucket}/did/did.json"
    head = s3.head_object(Bucket=s3_host.bucket, Key="did/did.json")
    assert (head["ContentType"], head["CacheControl"]) == (CONTENT_TYPE, CACHE_CONTROL)
    # anonymous GET through the public policy
    routes = {f"https://{s3_host.public_host}/": f"{moto_server}/{s3_host.bucket}/"}
    assert verify_published(client.did, doc, routes=routes, **LOOPBACK) == doc


def test_s3_keeps_the_operators_policy_and_cors_rules(s3_host, moto_server):
    s3 = moto_client(moto_server, "eu-west-1")
    s3.create_bucket(Bucket=s3_host.bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    theirs = {"Sid": "Theirs", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
              "Resource": f"arn:aws:s3:::{s3_host.bucket}/public/*"}
    s3.put_bucket_policy(Bucket=s3_host.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [theirs]}))
    their_rule = {"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["PUT"]}
    s3.put_bucket_cors(Bucket=s3_host.bucket, CORSConfiguration={"CORSRules": [their_rule]})
    client = open_did_host(s3_host, "p", get_settings())
    client.publish(document(client.did))
    statements = json.loads(s3.get_bucket_policy(Bucket=s3_host.bucket)["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["Theirs", POLICY_SID]
    rules = s3.get_bucket_cors(Bucket=s3_host.bucket)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["https://app.example"] and len(rules) == 2


def test_s3_changed_document_is_rewritten_and_remove_is_idempotent(s3_host):
    counter = Requests()
    client = open_did_host(s3_host, "p", get_settings())
    counter.count_boto3(client.s3)  # type: ignore[attr-defined]
    client.publish(document(client.did))
    counter.clear()
    assert client.publish(document(client.did, "Ed25519")).written
    assert [m for m, _ in counter.writes()] == ["PUT"]  # the object only; bucket set-up unchanged
    assert client.remove() is True
    assert client.remove() is False


def test_s3_without_credentials_says_so(moto_server, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    host = S3DidHost(kind="s3", bucket="mvd-no-creds", endpoint_url=moto_server)
    client = open_did_host(host, "p", get_settings())
    with pytest.raises(ExternalError, match="S3 bucket mvd-no-creds: no credentials"):
        client.publish(document(client.did))


# --- Cloudflare (R2 + purge) --------------------------------------------------------------


@pytest.fixture
def r2_host(moto_server, cloudflare, monkeypatch, request):
    r2_env(monkeypatch, cloudflare.url)
    get_settings.cache_clear()
    bucket = f"r2-{request.node.name.replace('_', '-')[:40].strip('-')}"
    host = CloudflareDidHost(
        kind="cloudflare", domain="did.test.example", account_id="acct", zone_id="zone-1",
        bucket=bucket, endpoint_url=moto_server,
    )
    prepare_r2_bucket(moto_server, bucket, ".well-known/did.json")
    return host


def fast(client: CloudflareDidHostClient) -> CloudflareDidHostClient:
    client.purger._sleep = lambda seconds: None  # type: ignore[attr-defined]
    return client


def test_r2_purge_retries_429_and_5xx(r2_host, cloudflare):
    cloudflare.script[:] = [(429, {"Retry-After": "0"}), (503, {})]
    client = fast(open_did_host(r2_host, "p", get_settings()))  # type: ignore[arg-type]
    assert client.publish(document(client.did)).written
    assert [c.status for c in cloudflare.calls] == [429, 503, 200]
    assert cloudflare.purged == ["https://did.test.example/.well-known/did.json"]


def test_r2_failed_purge_makes_the_next_publish_upload_and_purge_again(r2_host, cloudflare):
    cloudflare.script[:] = [(500, {})] * 4
    client = fast(open_did_host(r2_host, "p", get_settings()))  # type: ignore[arg-type]
    doc = document(client.did)
    with pytest.raises(CloudflareError, match="purge of https://did.test.example/.well-known/did.json in zone zone-1 failed after 4 attempts"):
        client.publish(doc)
    assert cloudflare.purged == []
    assert client.publish(doc).written is True  # not "unchanged": the purge is still owed
    assert cloudflare.purged == ["https://did.test.example/.well-known/did.json"]
    assert client.publish(doc).written is False


def test_r2_bad_token_is_a_clear_error_without_the_token(r2_host, cloudflare, monkeypatch):
    monkeypatch.setenv("MVD_CLOUDFLARE_API_TOKEN", "wrong-token-value")
    get_settings.cache_clear()
    client = open_did_host(r2_host, "p", get_settings())
    with pytest.raises(CloudflareError) as caught:
        client.publish(document(client.did))
    assert "Cloudflare refused to purge" in str(caught.value) and "10000: Authentication error" in str(caught.value)
    assert "wrong-token-value" not in str(caught.value)


def test_r2_missing_bucket_and_missing_settings(r2_host, monkeypatch):
    missing = r2_host.model_copy(update={"bucket": "r2-never-created"})
    client = open_did_host(missing, "p", get_settings())
    with pytest.raises(CloudflareError, match="R2 bucket r2-never-created does not exist in account acct; create it and connect it to did.test.example"):
        client.publish(document(client.did))
    monkeypatch.delenv("MVD_R2_SECRET_ACCESS_KEY")
    get_settings.cache_clear()
    with pytest.raises(MvdError, match="MVD_R2_ACCESS_KEY_ID and MVD_R2_SECRET_ACCESS_KEY"):
        open_did_host(r2_host, "p", get_settings())
    monkeypatch.setenv("MVD_R2_SECRET_ACCESS_KEY", "x")
    monkeypatch.delenv("MVD_CLOUDFLARE_API_TOKEN")
    get_settings.cache_clear()
    with pytest.raises(MvdError, match="MVD_CLOUDFLARE_API_TOKEN"):
        open_did_host(r2_host, "p", get_settings())


def test_r2_remove_purges(r2_host, cloudflare):
    client = open_did_host(r2_host, "p", get_settings())
    client.publish(document(client.did))
    assert client.remove() is True
    assert client.remove() is False
    assert cloudflare.purged == ["https://did.test.example/.well-known/did.json"] * 2


# --- Azure Blob ---------------------------------------------------------------------------


def test_azure_factory_uses_the_connection_string_and_enables_the_website(azurite, monkeypatch):
    monkeypatch.setenv("MVD_AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    get_settings.cache_clear()
    host = AzureBlobDidHost(kind="azure-blob", storage_account="mvdtest", domain="mvdtest.z6.web.core.windows.net",
                            path=["factory-test"])
    client = open_did_host(host, "p", get_settings())
    assert isinstance(client, AzureBlobDidHostClient)
    doc = document(client.did)
    assert client.publish(doc).written
    assert client.publish(doc).written is False
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    assert service.get_service_properties()["static_website"].enabled
    props = service.get_blob_client("$web", "factory-test/did.json").get_blob_properties()
    assert (props.content_settings.content_type, props.content_settings.cache_control) == (CONTENT_TYPE, CACHE_CONTROL)
    assert service.get_blob_client("$web", "factory-test/did.json").download_blob().readall() == to_bytes(doc)
    assert client.remove() is True and client.remove() is False


def test_azure_unreachable_account_is_an_external_error(monkeypatch):
    monkeypatch.setenv(
        "MVD_AZURE_STORAGE_CONNECTION_STRING",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0LWtleQ==;"
        "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;",
    )
    get_settings.cache_clear()
    host = AzureBlobDidHost(kind="azure-blob", storage_account="mvdtest", domain="x.example")
    from mvd_core.platforms.didhosts.azure_blob import service_client

    client = open_did_host(host, "p", get_settings(), service=service_client(host, get_settings(), retry_total=0))
    with pytest.raises(ExternalError) as caught:
        client.publish(document(client.did))
    assert "Azure static website of storage account mvdtest: could not read its service properties" in str(caught.value)
    assert "c2VjcmV0LWtleQ" not in str(caught.value)


def test_azure_wrong_key_is_not_authorized_and_does_not_echo_the_key(azurite, monkeypatch):
    wrong = azurite.connection_string.replace(azurite.account_key, "d3Jvbmcta2V5LXZhbHVl")
    monkeypatch.setenv("MVD_AZURE_STORAGE_CONNECTION_STRING", wrong)
    get_settings.cache_clear()
    host = AzureBlobDidHost(kind="azure-blob", storage_account="mvdtest", domain="x.example", path=["wrong-key"])
    client = open_did_host(host, "p", get_settings())
    with pytest.raises(ExternalError) as caught:
        client.publish(document(client.did))
    message = str(caught.value)
    assert "Azure static website of storage account mvdtest: not authorized to" in message and "HTTP 403" in message
    assert "d3Jvbmcta2V5LXZhbHVl" not in message and azurite.account_key not in message


def _sas_service(azurite, *, service: bool = True, **permissions) -> BlobServiceClient:
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    sas = generate_account_sas(
        azurite.account_name, azurite.account_key,
        resource_types=ResourceTypes(service=service, container=True, object=True),
        permission=AccountSasPermissions(**permissions),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    return BlobServiceClient(azurite.blob_endpoint, credential=sas)


def test_azure_website_off_and_not_ours_to_switch_on_says_how(azurite):
    from azure.storage.blob import StaticWebsite

    admin = BlobServiceClient.from_connection_string(azurite.connection_string)
    admin.set_service_properties(static_website=StaticWebsite(enabled=False))
    try:
        host = AzureBlobDidHost(kind="azure-blob", storage_account="mvdtest", domain="x.example", path=["off"])
        client = open_did_host(host, "p", get_settings(), service=_sas_service(azurite, read=True, list=True))
        with pytest.raises(ExternalError) as caught:
            client.publish(document(client.did))
        message = str(caught.value)
        assert "the static website is off and could not be switched on (HTTP 403" in message
        assert "az storage blob service-properties update --account-name mvdtest --static-website" in message
        assert ("lacks Microsoft.Storage/storageAccounts/blobServices/write: assign it "
                "<name_prefix>-control-plane-did-website from infra/roles.tf") in message
        assert "sig=" not in message
    finally:
        admin.set_service_properties(static_website=StaticWebsite(enabled=True))


def test_azure_role_without_account_settings_fails_the_step_and_uploads_nothing(azurite):
    """A data-plane role limited to blobs cannot read service properties: whether the website
    serves the document is unknown, so the DID step fails loudly instead of uploading."""
    host = AzureBlobDidHost(kind="azure-blob", storage_account="mvdtest", domain="x.example", path=["blob-only"])
    sas = _sas_service(azurite, service=False, read=True, write=True, create=True, list=True, delete=True)
    client = open_did_host(host, "p", get_settings(), service=sas)
    with pytest.raises(ExternalError) as caught:
        client.publish(document(client.did))
    message = str(caught.value)
    assert "not authorized to read its service properties (HTTP 403" in message
    assert "cannot check that the static website is on" in message
    assert "Microsoft.Storage/storageAccounts/blobServices/read and /write" in message and "sig=" not in message
    admin = BlobServiceClient.from_connection_string(azurite.connection_string)
    assert not admin.get_blob_client("$web", "blob-only/did.json").exists()
