"""The queue trigger and the run status with the SDK's real DurableOrchestrationClient
(built by the durable-client middleware from the binding JSON), against a loopback fake of
the extension's RPC endpoints."""

from __future__ import annotations

import asyncio
import json

import azure.functions as func
import pytest
from azure.durable_functions.models.utils import http_utils
from azure.functions.queue import QueueMessage

from mvd_core.commands import parse_command
from tests.commands.support import drain
from tests.functions.durable_fake import FakeDurableHost
from tests.functions.support import by_name


@pytest.fixture
def durable_host():
    with FakeDurableHost() as host:
        yield host


def _http(method, path, route_params):
    return func.HttpRequest(method, f"http://localhost{path}", route_params=route_params, body=b"")


async def _close_sdk_session():
    # The SDK keeps one aiohttp session per process; close it inside the loop that made it.
    if http_utils._client_session is not None:
        await http_utils._client_session.close()
        http_utils._client_session = None


def test_command_starts_once_with_the_real_client(storage, durable_host):
    registry, queue = storage
    functions = by_name()
    client = durable_host.binding_json()

    async def scenario():
        try:
            accepted = await functions["dataspace_command"].get_user_function()(
                req=_http("POST", "/api/dataspace/reset", {"action": "reset"}), client=client)
            body = json.loads(accepted.get_body())
            [text] = drain(queue)
            for attempt in (1, 2):  # a redelivered message must not start a second instance
                await functions["command_received"].get_user_function()(
                    msg=QueueMessage(body=text, dequeue_count=attempt), client=client)
            durable_host.instances[body["runId"]].update(
                runtimeStatus="Running",
                customStatus={"participants": {"space-enforcer": {"participant": "space-enforcer",
                                                                  "status": "running", "currentStep": "vault"}}})
            status = await functions["run_status"].get_user_function()(
                req=_http("GET", f"/api/runs/{body['runId']}", {"id": body["runId"]}), client=client)
            return body, text, json.loads(status.get_body())
        finally:
            await _close_sdk_session()

    body, text, run = asyncio.run(scenario())
    assert len(durable_host.starts) == 1
    name, instance, payload = durable_host.starts[0]
    assert (name, instance) == ("dataspace_orchestrator", body["runId"])
    assert payload == json.loads(parse_command(text).model_dump_json(by_alias=True))
    assert registry.get(body["runId"]).status == "running"
    assert run["status"] == "running"
    assert run["participants"]["space-enforcer"]["currentStep"] == "vault"


def test_terminated_instance_releases_the_dataspace(storage, durable_host):
    registry, queue = storage
    functions = by_name()
    client = durable_host.binding_json()

    async def scenario():
        try:
            first = json.loads((await functions["dataspace_command"].get_user_function()(
                req=_http("POST", "/api/dataspace/reset", {"action": "reset"}), client=client)).get_body())
            [text] = drain(queue)
            await functions["command_received"].get_user_function()(msg=QueueMessage(body=text), client=client)
            durable_host.instances[first["runId"]]["runtimeStatus"] = "Terminated"
            second = json.loads((await functions["dataspace_command"].get_user_function()(
                req=_http("POST", "/api/dataspace/reset", {"action": "reset"}), client=client)).get_body())
            return first, second
        finally:
            await _close_sdk_session()

    first, second = asyncio.run(scenario())
    assert second["coalesced"] is False and second["runId"] != first["runId"]
    assert "Terminated" in registry.get(first["runId"]).error
    assert len(drain(queue)) == 1
