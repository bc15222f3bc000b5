"""Webhook verification, and that every refusal enqueues nothing (on Azurite)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from pydantic import SecretStr

from mvd_core.api import webhooks
from mvd_core.api.handlers import ApiRequest, dispatch, webhook_handler
from mvd_core.commands import parse_command
from mvd_core.errors import MvdError
from tests.api.support import make_backend
from tests.commands.support import ListQueue, drain, queue_length

SECRET = "s3cret-for-tests"
SECRETS = {"github": SecretStr(SECRET)}
BODY = json.dumps({"action": "reset", "ref": "refs/heads/main"}).encode()


def _verify(headers, body=BODY, now=None):
    return webhooks.verify("github", headers, body, SECRETS, 300, now=now)


def test_sign_matches_documented_construction():
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1700000000.d-1." + BODY, hashlib.sha256).hexdigest()
    assert webhooks.sign(SECRET, 1700000000, "d-1", BODY) == f"sha256={expected}"


@pytest.mark.parametrize("renamed", ["d-2", "D-1", "d-1.", "d-1:retry", "x" * 128])
def test_a_renamed_delivery_breaks_the_signature(renamed):
    """The delivery id is signed: a captured delivery re-posted under another id is refused."""
    headers = webhooks.signed_headers(SECRET, BODY, "d-1")
    headers[webhooks.DELIVERY_HEADER] = renamed
    with pytest.raises(MvdError, match="does not match") as info:
        _verify(headers)
    assert info.value.status == 401


@pytest.mark.parametrize("timestamp", ["\u0661\u0667\u0660\u0660", "1" * 5000, "+1700000000", "1e9", "0x10"])
def test_a_timestamp_that_is_not_ascii_unix_seconds_is_401(timestamp):
    headers = webhooks.signed_headers(SECRET, BODY, "d-1")
    headers[webhooks.TIMESTAMP_HEADER] = timestamp
    with pytest.raises(MvdError, match="unix seconds") as info:
        _verify(headers)
    assert info.value.status == 401


def test_valid_delivery_is_accepted():
    verified = _verify(webhooks.signed_headers(SECRET, BODY, "d-1"))
    assert verified.payload.action == "reset" and verified.delivery_id == "d-1"


@pytest.mark.parametrize(
    ("mutate", "status", "words"),
    [
        (lambda h: h.pop(webhooks.SIGNATURE_HEADER), 401, "missing X-MVD-Signature"),
        (lambda h: h.__setitem__(webhooks.SIGNATURE_HEADER, "sha256=" + "0" * 64), 401, "does not match"),
        (lambda h: h.__setitem__(webhooks.SIGNATURE_HEADER, "md5=abc"), 401, "sha256=<64 hex"),
        (lambda h: h.pop(webhooks.TIMESTAMP_HEADER), 401, "missing X-MVD-Timestamp"),
        (lambda h: h.pop(webhooks.DELIVERY_HEADER), 400, "missing X-MVD-Delivery"),
        (lambda h: h.__setitem__(webhooks.DELIVERY_HEADER, "../x"), 400, "X-MVD-Delivery must match"),
    ],
)
def test_bad_headers_are_refused(mutate, status, words):
    headers = webhooks.signed_headers(SECRET, BODY, "d-1")
    mutate(headers)
    with pytest.raises(MvdError, match=words) as info:
        _verify(headers)
    assert info.value.status == status


def test_re_dated_timestamp_breaks_the_signature():
    headers = webhooks.signed_headers(SECRET, BODY, "d-1", timestamp=int(time.time()) - 3600)
    headers[webhooks.TIMESTAMP_HEADER] = str(int(time.time()))
    with pytest.raises(MvdError, match="does not match"):
        _verify(headers)


def test_stale_timestamp_names_tolerance():
    headers = webhooks.signed_headers(SECRET, BODY, "d-1", timestamp=int(time.time()) - 3600)
    with pytest.raises(MvdError, match="tolerance is 300 s") as info:
        _verify(headers)
    assert info.value.status == 401


def test_unknown_source_is_named_without_listing_the_configured_ones():
    secrets = {**SECRETS, "jenkins-prod": SecretStr("another-secret-of-16")}
    for source in ("gitlab", "GitHub", "github\n", "../github"):
        with pytest.raises(MvdError, match="unknown webhook source") as info:
            webhooks.verify(source, {}, b"", secrets, 300)
        assert info.value.status == 404
        assert info.value.message == f"unknown webhook source {source!r}"


def test_oversized_body_is_refused_before_hashing():
    body = b"x" * (webhooks.MAX_BODY_BYTES + 1)
    with pytest.raises(MvdError, match="limit is 1048576") as info:
        _verify(webhooks.signed_headers(SECRET, body, "d-1"), body=body)
    assert info.value.status == 413


@pytest.mark.parametrize(
    ("body", "words"),
    [(b"{not json", "not valid JSON"), (b"[1]", "JSON object"), (b'{"action": "explode"}', "action")],
)
def test_bad_payload_is_400(body, words):
    with pytest.raises(MvdError, match=words) as info:
        _verify(webhooks.signed_headers(SECRET, body, "d-1"), body=body)
    assert info.value.status == 400


def test_empty_body_means_reset():
    assert _verify(webhooks.signed_headers(SECRET, b"", "d-1"), body=b"").payload.action == "reset"


def _post(backend, body, headers, source="github"):
    handler = webhook_handler(SECRETS, 300)
    request = ApiRequest("POST", f"/api/webhooks/{source}", {"source": source}, {}, headers, body)
    return asyncio.run(handler(request, backend))


def test_accepted_then_replay_is_409(sqlite_registry):
    queue = ListQueue()
    backend = make_backend(sqlite_registry, queue)
    headers = webhooks.signed_headers(SECRET, BODY, "delivery-42")
    first = _post(backend, BODY, headers)
    assert first.status == 202 and first.body["coalesced"] is False
    replay = _post(backend, BODY, headers)
    assert replay.status == 409 and "delivery-42" in replay.body["error"]
    assert len(queue.commands) == 1
    assert queue.commands[0].source == "webhook" and queue.commands[0].delivery_id == "delivery-42"


def test_refusals_enqueue_nothing_on_azurite(table_registry, azure_queue):
    backend = make_backend(table_registry, azure_queue)
    big = b"{" + b" " * webhooks.MAX_BODY_BYTES + b"}"
    now = int(time.time())
    cases = {
        "bad signature": (BODY, {**webhooks.signed_headers(SECRET, BODY, "d-bad"),
                                 webhooks.SIGNATURE_HEADER: webhooks.sign("wrong", now, "d-bad", BODY)}, 401),
        "stale": (BODY, webhooks.signed_headers(SECRET, BODY, "d-stale", timestamp=now - 10_000), 401),
        "oversized": (big, webhooks.signed_headers(SECRET, big, "d-big"), 413),
        "bad json": (b"{", webhooks.signed_headers(SECRET, b"{", "d-json"), 400),
        "unknown participant": (b'{"rotateKeys": ["nobody"]}',
                                webhooks.signed_headers(SECRET, b'{"rotateKeys": ["nobody"]}', "d-who"), 404),
    }
    for name, (body, headers, status) in cases.items():
        response = _post(backend, body, headers)
        assert response.status == status, (name, response.body)
        assert "Traceback" not in json.dumps(response.body)
    assert _post(backend, BODY, webhooks.signed_headers(SECRET, BODY, "x"), source="gitlab").status == 404
    assert queue_length(azure_queue) == 0
    assert table_registry.recent() == []
    # Refused delivery ids were not remembered (the unsigned one, and the signed one naming
    # an unknown participant): a proper delivery with the same id still works, once.
    for delivery in ("d-bad", "d-who"):
        ok = _post(backend, BODY, webhooks.signed_headers(SECRET, BODY, delivery))
        assert ok.status == 202, (delivery, ok.body)
        replay = _post(backend, BODY, webhooks.signed_headers(SECRET, BODY, delivery))
        assert replay.status == 409, delivery
    assert len(drain(azure_queue)) == 1  # the second coalesced into the first run


def test_unknown_participant_is_named_with_the_known_ones(sqlite_registry):
    queue = ListQueue()
    backend = make_backend(sqlite_registry, queue)
    body = b'{"rotateKeys": ["nobody"]}'
    response = _post(backend, body, webhooks.signed_headers(SECRET, body, "d-nobody"))
    assert response.status == 404
    assert "'nobody'" in response.body["error"] and "known:" in response.body["error"]
    assert queue.commands == []


def test_webhook_route_uses_settings_secrets(monkeypatch, sqlite_registry):
    from mvd_core.settings import get_settings

    monkeypatch.setenv("MVD_WEBHOOK_SECRETS", json.dumps({"ci": "from-env-0123456789"}))
    get_settings.cache_clear()
    backend = make_backend(sqlite_registry, ListQueue())
    headers = webhooks.signed_headers("from-env-0123456789", BODY, "d-env")
    response = asyncio.run(dispatch(ApiRequest("POST", "/api/webhooks/ci", headers=headers, body=BODY), backend))
    assert response.status == 202, response.body
    assert "from-env" not in repr(get_settings())


def test_a_renamed_replay_starts_nothing(sqlite_registry):
    """One captured delivery re-posted under fresh delivery ids: one run, every rename 401."""
    queue = ListQueue()
    backend = make_backend(sqlite_registry, queue)
    captured = webhooks.signed_headers(SECRET, b'{"action": "teardown"}', "delivery-7")
    assert _post(backend, b'{"action": "teardown"}', captured).status == 202
    for n in range(5):
        renamed = {**captured, webhooks.DELIVERY_HEADER: f"delivery-7-{n}"}
        response = _post(backend, b'{"action": "teardown"}', renamed)
        assert response.status == 401, response.body
    assert _post(backend, b'{"action": "teardown"}', captured).status == 409
    assert [c.delivery_id for c in queue.commands] == ["delivery-7"]


def test_a_delivery_is_remembered_for_longer_than_it_stays_acceptable(sqlite_registry):
    """With a tolerance of two days a delivery is acceptable for four: its id is kept at least
    that long (the registry's own 24 h would let it be replayed on day two)."""
    import sqlite3
    from datetime import UTC, datetime, timedelta

    tolerance = 2 * 86400
    backend = make_backend(sqlite_registry, ListQueue())
    handler = webhook_handler(SECRETS, tolerance)
    headers = webhooks.signed_headers(SECRET, BODY, "d-long")
    request = ApiRequest("POST", "/api/webhooks/github", {"source": "github"}, {}, headers, BODY)
    assert asyncio.run(handler(request, backend)).status == 202
    with sqlite3.connect(sqlite_registry.path) as db:
        [(expires,)] = db.execute("SELECT expires_at FROM deliveries WHERE delivery_id = 'd-long'").fetchall()
    assert datetime.fromisoformat(expires) >= datetime.now(UTC) + timedelta(seconds=2 * tolerance)
    assert webhooks.delivery_ttl(300) == timedelta(hours=24)


def test_a_different_command_during_the_nightly_reset_is_refused_and_can_come_again(table_registry, azure_queue):
    backend = make_backend(table_registry, azure_queue)
    nightly = asyncio.run(backend.submit("reset", "timer", []))
    teardown = b'{"action": "teardown"}'
    refused = _post(backend, teardown, webhooks.signed_headers(SECRET, teardown, "d-teardown"))
    assert refused.status == 409, refused.body
    assert refused.body["error"].startswith(f"run {nightly.run_id} (reset) is in progress; teardown was not started")
    rotate = b'{"action": "reset", "rotateKeys": ["space-enforcer"]}'
    other_keys = _post(backend, rotate, webhooks.signed_headers(SECRET, rotate, "d-rotate"))
    assert other_keys.status == 409 and "reset rotating the keys of space-enforcer was not started" in other_keys.body["error"]
    same = _post(backend, BODY, webhooks.signed_headers(SECRET, BODY, "d-reset"))
    assert same.status == 202 and same.body["coalesced"] is True and same.body["runId"] == nightly.run_id
    assert [parse_command(m).run_id for m in drain(azure_queue)] == [nightly.run_id]
    assert table_registry.get(nightly.run_id).coalesced == 1

    table_registry.fail(nightly.run_id, "ended for the test")
    # the refused delivery was not kept as seen: delivered again (re-signed), it starts its run
    again = _post(backend, teardown, webhooks.signed_headers(SECRET, teardown, "d-teardown"))
    assert again.status == 202 and again.body["action"] == "teardown" and again.body["coalesced"] is False
    assert _post(backend, teardown, webhooks.signed_headers(SECRET, teardown, "d-teardown")).status == 409
