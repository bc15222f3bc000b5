"""Helpers shared by the commands, api and functions tests: registries and queues on
Azurite with names of their own (the Azurite fixture is shared by the whole session)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.storage.queue import QueueClient

from mvd_core.commands import AzureStorageCommandQueue, CallbackCommandQueue, Command
from mvd_core.runs import SqliteRunRegistry
from mvd_core.runs.table_registry import TableRunRegistry


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


class ListQueue(CallbackCommandQueue):
    """A local queue that keeps what it was given."""

    def __init__(self) -> None:
        self.commands: list[Command] = []
        super().__init__(self.commands.append)


def drain(queue: AzureStorageCommandQueue) -> list[str]:
    """Every message on an Azure queue, decoded as the Functions host would (base64 -> text)."""
    raw = QueueClient.from_queue_url(queue.client.url, credential=queue.client.credential)
    out: list[str] = []
    while True:
        batch = list(raw.receive_messages(messages_per_page=32, max_messages=32))
        if not batch:
            return out
        for msg in batch:
            out.append(base64.b64decode(msg.content).decode("utf-8"))
            raw.delete_message(msg)


def queue_length(queue: AzureStorageCommandQueue) -> int:
    queue._ensure()
    return queue.client.get_queue_properties().approximate_message_count


@pytest.fixture
def sqlite_registry(tmp_path) -> SqliteRunRegistry:
    return SqliteRunRegistry(tmp_path / "registry.db")


@pytest.fixture
def table_registry(azurite) -> TableRunRegistry:
    return TableRunRegistry(azurite.connection_string, prefix=unique("t"))


@pytest.fixture(params=["sqlite", "table"])
def registry(request) -> Any:
    return request.getfixturevalue(f"{request.param}_registry")


@pytest.fixture
def azure_queue(azurite) -> AzureStorageCommandQueue:
    return AzureStorageCommandQueue(azurite.connection_string, unique("mvd-commands-"))


@pytest.fixture
def storage_env(azurite, monkeypatch) -> Iterator[Callable[[], None]]:
    """MVD_STORAGE_CONNECTION on Azurite with a queue of this test's own."""
    from mvd_core.settings import get_settings

    monkeypatch.setenv("MVD_STORAGE_CONNECTION", azurite.connection_string)
    monkeypatch.setenv("MVD_COMMAND_QUEUE", unique("mvd-commands-"))
    get_settings.cache_clear()
    yield get_settings.cache_clear
    get_settings.cache_clear()
