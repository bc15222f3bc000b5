"""The seed's three participants published to their hosts' emulators: Cloudflare (R2 on
moto's server + the purge fake), Azure Blob (Azurite), S3 (moto's server); resolved over
HTTP, compared, and republished without a single write."""

from __future__ import annotations

import json
import urllib.request

import pydid
import pytest
from azure.storage.blob import BlobServiceClient

from mvd_core.dataspace.models import LocalVault
from mvd_core.errors import MvdError
from mvd_core.identity import keys
from mvd_core.identity.didweb import did_to_url
from mvd_core.identity.document import build_did_document, verification_keys
from mvd_core.identity.resolver import resolve, verify_published
from mvd_core.platforms.didhosts import CONTENT_TYPE, open_did_host
from mvd_core.platforms.secrets import open_secret_store
from mvd_core.settings import get_settings
from tests.platforms.didhost_support import (
    Requests,
    aws_env,
    forget_s3_document,
    open_web_container,
    prepare_r2_bucket,
    r2_env,
    seed,
    service_urls,
)

LOOPBACK = {"allow_http_loopback": True, "allow_private": True}
SEED_IDS = ("galactic-turbine", "space-enforcer", "interstellar-assembly")


@pytest.fixture
def seeded(azurite, moto_server, cloudflare, monkeypatch):
    """DID host clients for the three seed participants, each with a request counter."""
    r2_env(monkeypatch, cloudflare.url)
    aws_env(monkeypatch)
    monkeypatch.setenv("MVD_AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    get_settings.cache_clear()
    settings = get_settings()
    counters = {pid: Requests() for pid in SEED_IDS}
    clients = {}

    gt = seed("galactic-turbine")
    gt_host = gt.identity.host.model_copy(update={"endpoint_url": moto_server})
    prepare_r2_bucket(moto_server, gt_host.bucket, ".well-known/did.json")
    clients[gt.id] = open_did_host(gt_host, gt.id, settings)
    counters[gt.id].count_boto3(clients[gt.id].s3)

    se = seed("space-enforcer")
    service = BlobServiceClient.from_connection_string(
        azurite.connection_string, raw_request_hook=counters[se.id].azure_hook
    )
    clients[se.id] = open_did_host(se.identity.host, se.id, settings, service=service)
    clients[se.id].remove()  # a previous test in this session may have published it

    ia = seed("interstellar-assembly")
    ia_host = ia.identity.host.model_copy(update={"endpoint_url": moto_server})
    forget_s3_document(moto_server, ia_host.bucket, ".well-known/did.json")
    clients[ia.id] = open_did_host(ia_host, ia.id, settings)
    counters[ia.id].count_boto3(clients[ia.id].s3)

    for counter in counters.values():
        counter.clear()
    routes = {
        "https://did.galactic-turbine.example/": f"{moto_server}/{gt_host.bucket}/",
        "https://mvdspaceenforcerdid.z6.web.core.windows.net/": f"{azurite.blob_endpoint}/$web/",
        f"https://{ia_host.bucket}.s3.eu-central-1.amazonaws.com/": f"{moto_server}/{ia_host.bucket}/",
    }
    return settings, clients, counters, routes, service


def documents_for(settings, clients, rotate: str | None = None):
    docs = {}
    for pid, client in clients.items():
        store = open_secret_store(LocalVault(), pid, settings)
        participant = seed(pid)
        if pid == rotate:
            jwk = keys.rotate_participant_key(store, pid, participant.identity.key_type)
        else:
            jwk = keys.ensure_participant_key(store, pid, participant.identity.key_type)
        docs[pid] = build_did_document(client.did, jwk, **service_urls(pid))
    return docs


def test_publish_resolve_compare_and_republish_without_writes(seeded, cloudflare):
    settings, clients, counters, routes, service = seeded
    docs = documents_for(settings, clients)

    for pid, client in clients.items():
        result = client.publish(docs[pid])
        assert result.written, pid
        assert result.url == did_to_url(client.did)
        assert counters[pid].writes(), f"{pid}: the first publish must write"
    open_web_container(service)

    for pid, client in clients.items():
        served = verify_published(client.did, docs[pid], routes=routes, **LOOPBACK)
        parsed = pydid.deserialize_document(served)
        assert str(parsed.id) == client.did
        assert verification_keys(served) == [keys.public_key(open_secret_store(LocalVault(), pid, settings), pid)]
    assert cloudflare.purged == ["https://did.galactic-turbine.example/.well-known/did.json"]
    assert all(c.authorized and c.zone_id == "mvd-galactic-turbine-zone" for c in cloudflare.calls)

    # a reset: same keys, same documents -> reads only, no write, no purge
    for counter in counters.values():
        counter.clear()
    purges = len(cloudflare.calls)
    again = documents_for(settings, clients)
    assert again == docs
    for pid, client in clients.items():
        assert client.publish(again[pid]).written is False, pid
        assert counters[pid].seen, f"{pid}: the check must have asked the host"
        assert counters[pid].writes() == [], f"{pid} wrote on an unchanged document: {counters[pid].writes()}"
    assert len(cloudflare.calls) == purges


def test_rotation_republishes_and_purges_the_new_key(seeded, cloudflare):
    settings, clients, _counters, routes, service = seeded
    docs = documents_for(settings, clients)
    for pid, client in clients.items():
        client.publish(docs[pid])
    open_web_container(service)
    old_kid = verification_keys(docs["galactic-turbine"])[0]["kid"]

    rotated = documents_for(settings, clients, rotate="galactic-turbine")
    new_kid = verification_keys(rotated["galactic-turbine"])[0]["kid"]
    assert new_kid != old_kid
    for pid, client in clients.items():
        assert client.publish(rotated[pid]).written is (pid == "galactic-turbine")
    assert cloudflare.purged.count("https://did.galactic-turbine.example/.well-known/did.json") == 2
    served = resolve(clients["galactic-turbine"].did, routes=routes, **LOOPBACK)
    assert verification_keys(served)[0]["kid"] == new_kid


def test_no_private_key_material_in_files_logs_or_errors(seeded, capture_logs, azurite, moto_server):
    settings, clients, _counters, routes, service = seeded
    docs = documents_for(settings, clients)
    for pid, client in clients.items():
        client.publish(docs[pid])
    open_web_container(service)
    served = [resolve(c.did, routes=routes, **LOOPBACK) for c in clients.values()]

    # every failure path that touches keys or hosts, collected as messages
    errors: list[str] = []
    def failing(fn):
        try:
            fn()
        except MvdError as exc:
            errors.append(str(exc))
            errors.append(repr(exc))
        else:  # pragma: no cover - the point is that it fails
            raise AssertionError("expected an MvdError")

    private_jwks = {}
    for pid in clients:
        store = open_secret_store(LocalVault(), pid, settings)
        private_jwks[pid] = json.loads(store.get(keys.secret_name(pid)))
    failing(lambda: build_did_document("did:web:x.example", private_jwks["space-enforcer"], **service_urls("x")))
    tampered = {**private_jwks["galactic-turbine"], "d": private_jwks["interstellar-assembly"]["d"]}
    gt_store = open_secret_store(LocalVault(), "galactic-turbine", settings)
    gt_store.set(keys.secret_name("galactic-turbine"), json.dumps(tampered))
    failing(lambda: keys.public_key(gt_store, "galactic-turbine"))
    failing(lambda: verify_published(clients["space-enforcer"].did, docs["interstellar-assembly"], routes=routes, **LOOPBACK))

    secrets = [jwk["d"] for jwk in private_jwks.values()]
    assert all(len(s) >= 32 for s in secrets)
    published_files = [p.read_text() for p in settings.home.rglob("*") if p.is_file() and "vaults" not in p.parts]
    haystacks = {
        "log records": "\n".join(capture_logs.lines),
        "errors": "\n".join(errors),
        "served documents": json.dumps(served),
        "published documents": json.dumps(docs),
        "files outside the vault": "\n".join(published_files),
    }
    assert capture_logs.lines, "logging was captured"
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"private key material found in {where}"
    assert '"d"' not in haystacks["served documents"]


def test_content_type_and_cache_headers_on_every_host(seeded):
    settings, clients, _counters, routes, service = seeded
    docs = documents_for(settings, clients)
    for pid, client in clients.items():
        client.publish(docs[pid])
    open_web_container(service)
    for client in clients.values():
        url = client.url
        for prefix, target in routes.items():
            url = url.replace(prefix, target)
        with urllib.request.urlopen(url) as response:
            assert response.headers["Content-Type"] == CONTENT_TYPE
            assert response.headers["Cache-Control"] == "public, max-age=300"
