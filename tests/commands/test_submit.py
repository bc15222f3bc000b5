"""submit: claim then enqueue; concurrent submits give exactly one run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from mvd_core.commands import CommandRequest, SqliteRunRegistry, parse_command, submit
from mvd_core.errors import ExternalError
from tests.commands.support import ListQueue, drain, queue_length


def _submit_concurrently(registry_factory, queue, n: int = 20):
    barrier = Barrier(n)

    def one(i: int):
        registry = registry_factory()
        barrier.wait()
        return submit(CommandRequest(action="reset", dataspace="ds", source="api"), registry, queue)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_twenty_concurrent_resets_make_one_run_sqlite(tmp_path):
    queue = ListQueue()
    path = tmp_path / "registry.db"
    SqliteRunRegistry(path)
    # one registry object per thread: as separate requests/processes would have
    accepted = _submit_concurrently(lambda: SqliteRunRegistry(path), queue)
    run_ids = {a.run_id for a in accepted}
    assert len(run_ids) == 1
    assert sorted(a.coalesced for a in accepted) == [False] + [True] * 19
    assert len(queue.commands) == 1 and queue.commands[0].run_id in run_ids
    registry = SqliteRunRegistry(path)
    assert len(registry.list()) == 1
    assert registry.get(run_ids.pop()).coalesced == 19


def test_twenty_concurrent_resets_make_one_run_table(azurite, azure_queue):
    from mvd_core.commands.table_registry import TableRunRegistry
    from tests.commands.support import unique

    prefix = unique("c")
    TableRunRegistry(azurite.connection_string, prefix=prefix)
    accepted = _submit_concurrently(lambda: TableRunRegistry(azurite.connection_string, prefix=prefix), azure_queue)
    run_ids = {a.run_id for a in accepted}
    assert len(run_ids) == 1
    assert sum(not a.coalesced for a in accepted) == 1
    messages = drain(azure_queue)
    assert len(messages) == 1
    command = parse_command(messages[0])
    assert command.run_id in run_ids and command.action == "reset"
    registry = TableRunRegistry(azurite.connection_string, prefix=prefix)
    assert [r.id for r in registry.list()] == list(run_ids)
    assert registry.get(command.run_id).coalesced == 19


def test_enqueue_failure_releases_the_claim(sqlite_registry):
    def broken(_command):
        raise ExternalError("queue 'mvd-commands': cannot enqueue command (ServiceRequestError)")

    from mvd_core.commands import CallbackCommandQueue

    with pytest.raises(ExternalError):
        submit(CommandRequest(action="provision", dataspace="ds", source="button"), sqlite_registry,
               CallbackCommandQueue(broken))
    assert sqlite_registry.current("ds") is None
    [record] = sqlite_registry.list()
    assert record.status == "failed" and "cannot enqueue" in record.error
    again = submit(CommandRequest(action="provision", dataspace="ds", source="button"), sqlite_registry, ListQueue())
    assert again.coalesced is False and again.run_id != record.id


def test_azure_queue_message_is_base64_json(azure_queue, sqlite_registry):
    accepted = submit(CommandRequest(action="teardown", dataspace="ds", source="cli", rotate_keys=["alpha"]),
                      sqlite_registry, azure_queue)
    assert queue_length(azure_queue) == 1
    [text] = drain(azure_queue)
    command = parse_command(text)
    assert command.run_id == accepted.run_id
    assert '"runId"' in text and '"rotateKeys": ["alpha"]' in text.replace('":[', '": [')
    assert command.rotate_keys == ["alpha"] and command.action == "teardown"
