"""The indexed functions invoked as the worker would, with azure.functions request and
message types and a stand-in durable client; storage is Azurite."""

from __future__ import annotations

import asyncio
import json

import azure.functions as func
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

from blueprints import _runtime
from mvd_core.api import webhooks
from mvd_core.commands import parse_command
from tests.commands.support import drain, queue_length
from tests.commands.test_handler import StandInStarter
from tests.functions.support import by_name

HOOK_SECRET = "hook-secret-0123456789"


def user_code(name: str):
    fn = by_name()[name].get_user_function()
    return getattr(fn, "client_function", fn)  # the code under the durable-client middleware


def http(method: str, path: str, route_params=None, body: bytes = b"", headers=None, params=None):
    return func.HttpRequest(method, f"http://localhost{path}", headers=headers or {}, params=params or {},
                            route_params=route_params or {}, body=body)


def call(name: str, req: func.HttpRequest, client=None) -> tuple[int, dict]:
    response = asyncio.run(user_code(name)(req=req, client=client or StandInStarter()))
    assert response.mimetype == "application/json"
    return response.status_code, json.loads(response.get_body())


def test_post_reset_enqueues_and_run_is_readable(storage):
    _, queue = storage
    status, body = call("dataspace_command", http("POST", "/api/dataspace/reset", {"action": "reset"}))
    assert status == 202 and body["coalesced"] is False
    [message] = drain(queue)
    command = parse_command(message)
    assert command.run_id == body["runId"] and command.source == "api" and command.dataspace == "mvd"

    custom = {"participants": {"galactic-turbine": {"participant": "galactic-turbine", "status": "running"}}}
    client = StandInStarter()
    client.instances[body["runId"]] = {"custom": custom}
    status, run = call("run_status", http("GET", f"/api/runs/{body['runId']}", {"id": body["runId"]}), client)
    assert status == 200 and run["status"] == "running"  # the orchestration reports progress
    assert run["participants"]["galactic-turbine"]["status"] == "running"

    status, listed = call("runs_list", http("GET", "/api/runs", params={"limit": "3"}))
    assert status == 200 and [r["id"] for r in listed["runs"]] == [body["runId"]]


def test_twenty_concurrent_reset_requests_one_run(storage):
    registry, queue = storage

    async def many():
        fn = user_code("dataspace_command")
        requests = [http("POST", "/api/dataspace/reset", {"action": "reset"}) for _ in range(20)]
        return await asyncio.gather(*(fn(req=r, client=StandInStarter()) for r in requests))

    responses = asyncio.run(many())
    bodies = [json.loads(r.get_body()) for r in responses]
    assert {r.status_code for r in responses} == {202}
    assert len({b["runId"] for b in bodies}) == 1
    assert sum(not b["coalesced"] for b in bodies) == 1
    assert len(drain(queue)) == 1
    assert len(registry.recent()) == 1


def test_bad_action_and_bad_webhook_enqueue_nothing(storage, monkeypatch):
    registry, queue = storage
    from mvd_core.settings import get_settings

    monkeypatch.setenv("MVD_WEBHOOK_SECRETS", json.dumps({"github": HOOK_SECRET}))
    get_settings.cache_clear()
    status, body = call("dataspace_command", http("POST", "/api/dataspace/nuke", {"action": "nuke"}))
    assert status == 404 and "unknown action 'nuke'" in body["error"]
    payload = b'{"action": "provision"}'
    headers = webhooks.signed_headers("wrong-secret", payload, "d-1")
    status, body = call("webhook", http("POST", "/api/webhooks/github", {"source": "github"}, payload, headers))
    assert status == 401 and "signature does not match" in body["error"]
    assert queue_length(queue) == 0 and registry.recent() == []

    headers = webhooks.signed_headers(HOOK_SECRET, payload, "d-1")
    status, body = call("webhook", http("POST", "/api/webhooks/github", {"source": "github"}, payload, headers))
    assert status == 202 and body["action"] == "provision"
    status, _ = call("webhook", http("POST", "/api/webhooks/github", {"source": "github"}, payload, headers))
    assert status == 409
    assert len(drain(queue)) == 1


def test_a_renamed_webhook_delivery_is_refused_and_remembered_for_the_tolerance(storage, monkeypatch):
    """The Functions webhook uses the same scheme: a captured delivery re-posted under another
    X-MVD-Delivery is 401, and the id it carries is kept in Table Storage for at least twice the
    tolerance (here two days, so four)."""
    from datetime import UTC, datetime, timedelta

    from mvd_core.settings import get_settings

    registry, queue = storage
    monkeypatch.setenv("MVD_WEBHOOK_SECRETS", json.dumps({"github": HOOK_SECRET}))
    monkeypatch.setenv("MVD_WEBHOOK_TOLERANCE_SECONDS", str(2 * 86400))
    get_settings.cache_clear()
    payload = b'{"action": "teardown"}'
    captured = webhooks.signed_headers(HOOK_SECRET, payload, "gh-1")
    status, _ = call("webhook", http("POST", "/api/webhooks/github", {"source": "github"}, payload, captured))
    assert status == 202
    for renamed in ("gh-2", "GH-1", "gh-1-again"):
        headers = {**captured, webhooks.DELIVERY_HEADER: renamed}
        status, body = call("webhook", http("POST", "/api/webhooks/github", {"source": "github"}, payload, headers))
        assert status == 401 and "signature does not match" in body["error"], body
    assert len(drain(queue)) == 1
    kept = registry._deliveries.get_entity("github", "gh-1")
    assert datetime.fromisoformat(kept["expires_at"]) >= datetime.now(UTC) + timedelta(days=4)


def test_queue_trigger_starts_the_orchestration_once(storage):
    registry, queue = storage
    call("dataspace_command", http("POST", "/api/dataspace/provision", {"action": "provision"}))
    [text] = drain(queue)
    starter = StandInStarter()
    for attempt in (1, 2):  # at-least-once delivery
        asyncio.run(user_code("command_received")(msg=QueueMessage(body=text, dequeue_count=attempt), client=starter))
    assert len(starter.started) == 1
    run_id = parse_command(text).run_id
    assert starter.started[0][:2] == ("dataspace_orchestrator", run_id)
    assert registry.get(run_id).status == "running"


def test_poison_trigger_keeps_the_message_and_fails_the_run(storage):
    registry, queue = storage
    _, accepted = call("dataspace_command", http("POST", "/api/dataspace/reset", {"action": "reset"}))
    [text] = drain(queue)
    asyncio.run(user_code("command_poisoned")(msg=QueueMessage(body=text, dequeue_count=5)))
    [poison] = registry.list_poison()
    assert poison.id == parse_command(text).id and "after 5 attempts" in poison.reason
    _, run = call("run_status", http("GET", f"/api/runs/{accepted['runId']}", {"id": accepted["runId"]}))
    assert run["status"] == "failed" and "after 5 attempts" in run["failures"][0]["reason"]
    # the dataspace is free again
    _, again = call("dataspace_command", http("POST", "/api/dataspace/reset", {"action": "reset"}))
    assert again["coalesced"] is False and again["runId"] != accepted["runId"]


def test_timer_enqueues_a_reset(storage):
    registry, queue = storage
    asyncio.run(user_code("nightly_reset")(timer=TimerRequest(past_due=True), client=StandInStarter()))
    [text] = drain(queue)
    command = parse_command(text)
    assert command.action == "reset" and command.source == "timer"
    assert registry.get(command.run_id).source == "timer"


def test_storage_from_settings(storage_env, azurite):
    """Without patches: registry and queue come from MVD_STORAGE_CONNECTION / MVD_COMMAND_QUEUE."""
    from azure.storage.queue import QueueClient

    from mvd_core.settings import get_settings

    _runtime.reset_caches()
    try:
        status, body = call("dataspace_command", http("POST", "/api/dataspace/teardown", {"action": "teardown"}))
        assert status == 202, body
        # the default tables may be shared with other tests: finish the run so it blocks nobody
        _runtime.registry().fail(body["runId"], "test cleanup")
        queue = QueueClient.from_connection_string(azurite.connection_string, get_settings().command_queue)
        assert queue.get_queue_properties().approximate_message_count == 1
        assert _runtime.registry().get(body["runId"]).action == "teardown"
    finally:
        _runtime.reset_caches()


def test_missing_storage_is_a_json_error(monkeypatch):
    _runtime.reset_caches()
    try:
        status, body = call("dataspace_command", http("POST", "/api/dataspace/reset", {"action": "reset"}))
    finally:
        _runtime.reset_caches()
    assert status == 503 and "MVD_STORAGE_CONNECTION" in body["error"]


def test_dashboard_page_and_files_are_served_with_a_strict_policy():
    """The Functions app serves the same page and files as `mvd serve`: nothing inlined, so the
    Content-Security-Policy allows no inline script."""
    from mvd_core.api.dashboard import CONTENT_SECURITY_POLICY, STATIC_FILES

    response = by_name()["dashboard"].get_user_function()(req=http("GET", "/"))
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_body().decode("utf-8")
    assert page == (STATIC_FILES / "index.html").read_text("utf-8")
    assert '<script src="/static/app.js" defer></script>' in page and "<script>" not in page
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    asset = by_name()["dashboard_asset"].get_user_function()
    for name, media_type in (("app.js", "text/javascript"), ("style.css", "text/css")):
        served = asset(req=http("GET", f"/static/{name}", {"name": name}))
        assert served.status_code == 200 and served.mimetype == media_type
        assert served.get_body() == (STATIC_FILES / name).read_bytes()
        assert served.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    for name in ("index.html", "..", "app.js.map", "%2e%2e%2fsettings.py"):
        missing = asset(req=http("GET", f"/static/{name}", {"name": name}))
        assert missing.status_code == 404 and missing.mimetype == "application/json", name


def test_api_answers_carry_the_security_headers(storage):
    response = asyncio.run(user_code("runs_list")(req=http("GET", "/api/runs"), client=StandInStarter()))
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
