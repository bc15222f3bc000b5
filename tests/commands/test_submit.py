"""submit: claim then enqueue; concurrent submits give exactly one run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from mvd_core.commands import CommandRequest, RunInProgress, parse_command, submit
from mvd_core.errors import ExternalError
from mvd_core.runs import SqliteRunRegistry
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
    assert len(registry.recent()) == 1
    assert registry.get(run_ids.pop()).coalesced == 19


def test_twenty_concurrent_resets_make_one_run_table(azurite, azure_queue):
    from mvd_core.runs.table_registry import TableRunRegistry
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
    assert [r.id for r in registry.recent()] == list(run_ids)
    assert registry.get(command.run_id).coalesced == 19


def test_enqueue_failure_releases_the_claim(sqlite_registry):
    def broken(_command):
        raise ExternalError("queue 'mvd-commands': cannot enqueue command (ServiceRequestError)")

    from mvd_core.commands import CallbackCommandQueue

    with pytest.raises(ExternalError):
        submit(CommandRequest(action="provision", dataspace="ds", source="button"), sqlite_registry,
               CallbackCommandQueue(broken))
    assert sqlite_registry.current("ds") is None
    [record] = sqlite_registry.recent()
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


def _request(action: str, rotate_keys: list[str] | None = None, source: str = "api") -> CommandRequest:
    return CommandRequest(action=action, dataspace="ds", source=source, rotate_keys=rotate_keys or [])


def test_only_the_same_command_joins_a_run_a_different_one_is_refused(registry):
    queue = ListQueue()
    first = submit(_request("reset", ["beta", "alpha"], source="timer"), registry, queue)
    # the same action and the same set of keys (in any order) joins the run
    same = submit(_request("reset", ["alpha", "beta"], source="webhook"), registry, queue)
    assert same.coalesced and same.run_id == first.run_id and same.action == "reset"
    for action, rotate in (("teardown", []), ("provision", []), ("reset", []), ("reset", ["alpha"]),
                           ("reset", ["alpha", "beta", "gamma"])):
        with pytest.raises(RunInProgress) as refused:
            submit(_request(action, rotate), registry, queue)
        assert refused.value.status == 409
        assert refused.value.run_id == first.run_id and refused.value.action == "reset"
        message = refused.value.message
        assert message.startswith(f"run {first.run_id} (reset rotating the keys of alpha, beta) is in progress; ")
        assert "was not started" in message and action in message.split(";")[1]
    assert [c.run_id for c in queue.commands] == [first.run_id]  # nothing else enqueued
    record = registry.get(first.run_id)
    assert record.coalesced == 1 and record.rotate_keys == ["alpha", "beta"]

    registry.fail(first.run_id, "done for the test")
    after = submit(_request("teardown"), registry, queue)
    assert after.coalesced is False and after.run_id != first.run_id


def test_a_registry_from_before_rotate_keys_were_recorded_is_upgraded(tmp_path):
    import sqlite3

    path = tmp_path / "registry.db"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE runs (id TEXT PRIMARY KEY, dataspace TEXT NOT NULL, action TEXT NOT NULL, source TEXT NOT NULL,
                           status TEXT NOT NULL, created_at TEXT NOT NULL, finished_at TEXT,
                           coalesced INTEGER NOT NULL DEFAULT 0, error TEXT, summary TEXT);
        INSERT INTO runs (id, dataspace, action, source, status, created_at)
            VALUES ('mvd-ds-20260101T000000-abcdef', 'ds', 'reset', 'timer', 'completed', '2026-01-01T00:00:00+00:00');
    """)
    old.close()
    registry = SqliteRunRegistry(path)
    assert registry.get("mvd-ds-20260101T000000-abcdef").rotate_keys == []
    accepted = submit(_request("reset", ["alpha"]), registry, ListQueue())
    assert registry.get(accepted.run_id).rotate_keys == ["alpha"]
