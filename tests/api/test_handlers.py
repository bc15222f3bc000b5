"""The framework-neutral handlers: validation, status codes, JSON errors, no tracebacks."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from mvd_core.api.handlers import ApiRequest, dispatch
from mvd_core.commands import CommandRequest, submit
from tests.api.support import make_backend
from tests.commands.support import ListQueue


def call(backend, method, path, body=b"", query=None, headers=None):
    return asyncio.run(dispatch(ApiRequest(method, path, {}, query or {}, headers or {}, body), backend))


@pytest.fixture
def queue():
    return ListQueue()


@pytest.fixture
def backend(sqlite_registry, queue):
    return make_backend(sqlite_registry, queue)


def test_post_command_accepts_then_coalesces(backend, queue):
    first = call(backend, "POST", "/api/dataspace/provision", headers={"x-mvd-source": "button"})
    assert first.status == 202
    assert first.body["statusUrl"] == f"/api/runs/{first.body['runId']}"
    assert first.headers["Location"] == first.body["statusUrl"]
    second = call(backend, "POST", "/api/dataspace/provision")
    assert second.status == 202 and second.body["runId"] == first.body["runId"]
    assert second.body["coalesced"] is True and second.body["action"] == "provision"
    # a different command is refused naming the run going, not answered with it and dropped
    for action, body in (("reset", b""), ("teardown", b""), ("provision", b'{"rotateKeys": ["space-enforcer"]}')):
        refused = call(backend, "POST", f"/api/dataspace/{action}", body)
        assert refused.status == 409, refused.body
        assert refused.body["error"].startswith(f"run {first.body['runId']} (provision) is in progress; ")
    assert [c.source for c in queue.commands] == ["button"]


def test_rotate_keys_are_passed_and_checked(backend, queue):
    ok = call(backend, "POST", "/api/dataspace/reset", json.dumps({"rotateKeys": ["space-enforcer"]}).encode())
    assert ok.status == 202
    assert queue.commands[0].rotate_keys == ["space-enforcer"]


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/api/dataspace/explode", b"", 404, "unknown action 'explode'"),
        ("/api/dataspace/reset", b"{", 400, "not valid JSON"),
        ("/api/dataspace/reset", b"[]", 400, "JSON object"),
        ("/api/dataspace/reset", b'{"rotate": []}', 400, "unknown field(s) in request body: 'rotate'"),
        ("/api/dataspace/reset", b'{"rotateKeys": "alpha"}', 400, "list of participant ids"),
        ("/api/dataspace/reset", b'{"rotateKeys": ["nobody"]}', 404, "unknown participant 'nobody'"),
        ("/api/dataspace/reset", b'{"rotateKeys": ["../etc"]}', 404, "unknown participant"),
        ("/api/dataspace/reset", b"{" + b" " * 70_000 + b"}", 413, "limit is 65536"),
    ],
)
def test_bad_commands_are_refused_and_change_nothing(backend, queue, sqlite_registry, path, body, status, words):
    response = call(backend, "POST", path, body)
    assert response.status == status
    assert words in response.body["error"]
    assert queue.commands == [] and sqlite_registry.recent() == []


def test_unknown_participant_lists_known_ones(backend):
    response = call(backend, "POST", "/api/dataspace/reset", b'{"rotateKeys": ["nobody"]}')
    assert "galactic-turbine" in response.body["error"]


def test_runs_list_and_get(backend, sqlite_registry, queue):
    accepted = submit(CommandRequest(action="reset", dataspace="mvd", source="timer"), sqlite_registry, queue)
    listed = call(backend, "GET", "/api/runs", query={"limit": "5"})
    assert listed.status == 200 and [r["id"] for r in listed.body["runs"]] == [accepted.run_id]
    one = call(backend, "GET", f"/api/runs/{accepted.run_id}")
    assert one.status == 200 and one.body["status"] == "pending" and one.body["source"] == "timer"


def test_run_progress_comes_from_custom_status(sqlite_registry, queue):
    custom = {"participants": {"space-enforcer": {"participant": "space-enforcer", "status": "running",
                                                  "currentStep": "cluster", "steps": []}}}
    backend = make_backend(sqlite_registry, queue, custom_status=custom)
    accepted = submit(CommandRequest(action="reset", dataspace="mvd", source="api"), sqlite_registry, queue)
    body = call(backend, "GET", f"/api/runs/{accepted.run_id}").body
    assert body["participants"]["space-enforcer"]["currentStep"] == "cluster"


@pytest.mark.parametrize(
    ("query", "words"), [({"limit": "0"}, "1 to 200"), ({"limit": "201"}, "1 to 200"), ({"limit": "ten"}, "'ten'")]
)
def test_limit_bounds(backend, query, words):
    response = call(backend, "GET", "/api/runs", query=query)
    assert response.status == 400 and words in response.body["error"]


def test_bad_and_unknown_run_ids(backend):
    bad = call(backend, "GET", "/api/runs/..%2Fetc")
    assert bad.status == 400 and "is not a run id" in bad.body["error"]
    missing = call(backend, "GET", "/api/runs/mvd-mvd-20260101T000000-abcdef")
    assert missing.status == 404 and "mvd-mvd-20260101T000000-abcdef" in missing.body["error"]


def test_routing(backend):
    assert call(backend, "GET", "/api/dataspace").body["name"] == "mvd"
    assert call(backend, "GET", "/api/dataspace/plan").body == {"dataspace": "mvd", "targets": "embedded",
                                                               "participants": {}}
    wrong = call(backend, "GET", "/api/dataspace/reset")
    assert wrong.status == 405 and wrong.headers["Allow"] == "POST"
    assert call(backend, "GET", "/api/nothing").status == 404


def test_unexpected_error_is_500_without_details(backend, caplog):
    async def boom(limit):
        raise RuntimeError("secret internal detail")

    backend.list_runs = boom
    caplog.set_level(logging.ERROR)
    logging.getLogger("mvd").propagate = True
    response = call(backend, "GET", "/api/runs")
    assert response.status == 500
    assert "secret internal detail" not in json.dumps(response.body)
    assert response.body["error"].startswith("internal error")
    assert any(r.exc_info for r in caplog.records)


def test_submit_releases_a_run_whose_orchestration_died(sqlite_registry, queue):
    backend = make_backend(sqlite_registry, queue)
    first = call(backend, "POST", "/api/dataspace/reset").body["runId"]
    sqlite_registry.mark_running(first)
    assert call(backend, "POST", "/api/dataspace/reset").body["runId"] == first  # client says Running

    async def failed(instance_id):
        from types import SimpleNamespace

        return SimpleNamespace(runtime_status="Failed", custom_status=None)

    backend.client.get_status = failed
    second = call(backend, "POST", "/api/dataspace/reset").body
    assert second["coalesced"] is False and second["runId"] != first
    dead = call(backend, "GET", f"/api/runs/{first}").body
    assert dead["status"] == "failed" and "Failed" in dead["failures"][0]["reason"]
