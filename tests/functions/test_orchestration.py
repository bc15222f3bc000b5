"""Orchestrators registered from mvd_core.workflow.functions, replayed by the real
azure-functions-durable executor through the indexed function."""

from __future__ import annotations

import json

import azure.durable_functions as df
import azure.functions as func
import pytest

from blueprints.orchestration import make_blueprint
from mvd_core.workflow import functions as wf

T0 = "2026-01-01T00:00:00.000000Z"


def _test_orchestrator(context: df.DurableOrchestrationContext):
    command = context.get_input()
    try:
        greeting = yield context.call_activity("test_greet", command["runId"])
    except Exception as exc:  # noqa: BLE001 - an activity failure is thrown into the generator
        return {"failed": str(exc)}
    context.set_custom_status({"participants": {}})
    return {"greeting": greeting}


def _test_greet(name: str) -> str:
    return f"hello {name}"


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setitem(wf.ORCHESTRATORS, "test_orchestrator", _test_orchestrator)
    monkeypatch.setitem(wf.ACTIVITIES, "test_greet", _test_greet)
    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
    app.register_functions(make_blueprint())
    return {f.get_function_name(): f for f in app.get_functions()}


def _event(kind: int, event_id: int = -1, **fields) -> dict:
    return {"EventType": kind, "EventId": event_id, "IsPlayed": False, "Timestamp": T0, **fields}


def _context(history: list[dict]) -> str:
    return json.dumps({"history": history, "input": json.dumps({"runId": "r-1"}),
                       "instanceId": "mvd-mvd-20260101T000000-abcdef", "isReplaying": False,
                       "parentInstanceId": None})


def test_registered_under_registry_names(app):
    orch = json.loads(app["test_orchestrator"].get_function_json())["bindings"][0]
    act = json.loads(app["test_greet"].get_function_json())["bindings"][0]
    assert orch == {"direction": "IN", "type": "orchestrationTrigger", "name": "context",
                    "orchestration": "test_orchestrator"}
    assert act == {"direction": "IN", "type": "activityTrigger", "name": "payload", "activity": "test_greet"}
    assert app["test_greet"].get_user_function()("x") == "hello x"


def test_replay_schedules_then_completes(app):
    handle = app["test_orchestrator"].get_user_function()
    started = [_event(12), _event(0, Name="test_orchestrator", Version="", Input=json.dumps({"runId": "r-1"}))]

    first = json.loads(handle(_context(started)))
    assert first["isDone"] is False
    [[action]] = first["actions"]
    assert action["functionName"] == "test_greet" and json.loads(action["input"]) == "r-1"

    history = started + [
        _event(4, 0, Name="test_greet"),
        _event(13),
        _event(12),
        _event(5, TaskScheduledId=0, Result=json.dumps("hello r-1")),
    ]
    second = json.loads(handle(_context(history)))
    assert second["isDone"] is True
    assert second["output"] == {"greeting": "hello r-1"}
    assert second["customStatus"] == {"participants": {}}


def test_activity_failure_is_thrown_into_the_orchestrator(app):
    handle = app["test_orchestrator"].get_user_function()
    history = [
        _event(12), _event(0, Name="test_orchestrator", Version="", Input=json.dumps({"runId": "r-1"})),
        _event(4, 0, Name="test_greet"), _event(13), _event(12),
        _event(6, TaskScheduledId=0, Reason="boom", Details="activity failed"),
    ]
    result = json.loads(handle(_context(history)))
    assert result["isDone"] is True
    assert "boom" in result["output"]["failed"]


def test_async_activity_is_awaited(monkeypatch):
    import asyncio

    async def async_greet(name: str) -> str:
        return f"hi {name}"

    monkeypatch.setitem(wf.ACTIVITIES, "test_async_greet", async_greet)
    fns = {f.get_function_name(): f for f in _register()}
    assert asyncio.run(fns["test_async_greet"].get_user_function()("y")) == "hi y"


def _register():
    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
    app.register_functions(make_blueprint())
    return app.get_functions()


def test_real_dataspace_orchestrator_schedules_indexed_functions():
    """The dataspace orchestrator, started by the queue trigger's input (a Command), asks for
    functions that the app indexes with the matching trigger."""
    from datetime import UTC, datetime

    from mvd_core.commands import Command
    from mvd_core.runs import new_run_id
    from tests.functions.support import by_name

    functions = by_name()
    run_id = new_run_id("mvd")
    command = Command(id="c0ffee", run_id=run_id, action="reset", dataspace="mvd", source="api",
                      requested_at=datetime.now(UTC)).wire()
    context = json.dumps({
        "history": [_event(12), _event(0, Name=wf.DATASPACE_ORCHESTRATOR, Version="", Input=json.dumps(command))],
        "input": json.dumps(command), "instanceId": run_id, "isReplaying": False, "parentInstanceId": None,
    })
    result = json.loads(functions[wf.DATASPACE_ORCHESTRATOR].get_user_function()(context))
    assert result["isDone"] is False
    scheduled = [a for group in result["actions"] for a in group]
    assert scheduled
    for action in scheduled:
        name = action["functionName"]
        trigger = json.loads(functions[name].get_function_json())["bindings"][0]["type"]
        assert trigger in {"activityTrigger", "orchestrationTrigger"}, name
