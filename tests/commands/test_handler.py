"""The queue trigger's logic: start the run once, keep poison, fail the run it belonged to."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from blueprints._runtime import DurableOrchestrations
from mvd_core.commands import CommandRequest, handle_command, handle_poison, submit
from mvd_core.workflow.functions import DATASPACE_ORCHESTRATOR
from tests.commands.support import ListQueue, drain


class StandInStarter:
    """Same async methods as DurableOrchestrationClient; keeps instances in a dict. A missing
    instance answers like the real client does for a 404: a status without runtime_status."""

    def __init__(self) -> None:
        self.instances: dict[str, dict] = {}
        self.started: list[tuple[str, str, object]] = []

    async def get_status(self, instance_id: str):
        if instance_id not in self.instances:
            return SimpleNamespace(runtime_status=None, custom_status=None)
        instance = self.instances[instance_id]
        return SimpleNamespace(runtime_status=instance.get("status", "Running"), custom_status=instance.get("custom"))

    async def start_new(self, orchestration_function_name, instance_id=None, client_input=None):
        self.started.append((orchestration_function_name, instance_id, client_input))
        self.instances[instance_id] = {"input": client_input}
        return instance_id


def _one_command(registry) -> str:
    queue = ListQueue()
    submit(CommandRequest(action="reset", dataspace="ds", source="timer"), registry, queue)
    return queue.commands[0].model_dump_json(by_alias=True)


def test_command_starts_the_run_once(registry):
    message = _one_command(registry)
    starter = StandInStarter()
    run_id = asyncio.run(handle_command(message, DurableOrchestrations(starter), registry))
    assert run_id is not None
    assert asyncio.run(handle_command(message, DurableOrchestrations(starter), registry)) is None  # redelivery
    assert len(starter.started) == 1
    name, instance, payload = starter.started[0]
    assert name == DATASPACE_ORCHESTRATOR and instance == run_id
    assert payload["runId"] == run_id and payload["action"] == "reset" and payload["dataspace"] == "ds"
    assert registry.get(run_id).status == "running"


def test_command_for_a_finished_run_is_ignored(sqlite_registry):
    message = _one_command(sqlite_registry)
    run_id = json.loads(message)["runId"]
    sqlite_registry.fail(run_id, "poisoned earlier")
    starter = StandInStarter()
    assert asyncio.run(handle_command(message, DurableOrchestrations(starter), sqlite_registry)) is None
    assert starter.started == []


def test_malformed_message_goes_to_poison_without_starting(registry):
    starter = StandInStarter()
    assert asyncio.run(handle_command(b'{"id": "abc", "action": "explode"}', DurableOrchestrations(starter), registry)) is None
    assert starter.started == []
    [poison] = registry.list_poison()
    assert poison.id == "abc"
    assert "action" in poison.reason and "runId" in poison.reason


def test_poison_fails_the_run_and_releases_the_dataspace(registry):
    message = _one_command(registry)
    run_id = json.loads(message)["runId"]
    poison = handle_poison(message, registry, dequeue_count=5)
    assert "after 5 attempts" in poison.reason
    assert registry.get(run_id).status == "failed"
    assert registry.current("ds") is None
    assert [p.id for p in registry.list_poison()] == [json.loads(message)["id"]]
    handle_poison(message, registry, dequeue_count=5)  # idempotent
    assert len(registry.list_poison()) == 1


def test_message_from_azure_queue_round_trips(azure_queue, sqlite_registry):
    submit(CommandRequest(action="provision", dataspace="ds", source="button"), sqlite_registry, azure_queue)
    [text] = drain(azure_queue)
    starter = StandInStarter()
    run_id = asyncio.run(handle_command(text.encode(), DurableOrchestrations(starter), sqlite_registry))
    assert starter.started[0][1] == run_id


def test_run_whose_orchestration_ended_without_summary_is_released(registry):
    from mvd_core.commands import release_if_ended

    message = _one_command(registry)
    starter = StandInStarter()
    run_id = asyncio.run(handle_command(message, DurableOrchestrations(starter), registry))
    assert asyncio.run(release_if_ended(registry, run_id, DurableOrchestrations(starter))) is False  # still running
    starter.instances[run_id]["status"] = "Terminated"
    assert asyncio.run(release_if_ended(registry, run_id, DurableOrchestrations(starter))) is True
    record = registry.get(run_id)
    assert record.status == "failed" and "Terminated" in record.error
    assert registry.current("ds") is None
