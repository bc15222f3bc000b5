"""One two-member dataspace (five JVMs) shared by test_exchange.py and test_revocation.py
instead of one each: starting and enrolling the members is most of either module's time.

test_revocation revokes the consumer, so it takes the dataspace with ``spoil=True``: whichever
module asks after that gets a fresh one, in any order the modules run in."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.platforms.edc.harness import SHARED_DATA, SHARED_DATASET, TwoMembers


class SharedMembers:
    """Hands out the running two-member dataspace until a test spoils it, then starts another."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, argfiles: Mapping[str, Path]) -> None:
        self._tmp = tmp_path_factory
        self._argfiles = argfiles
        self._current: TwoMembers | None = None
        self._started: list[TwoMembers] = []

    def get(self, *, spoil: bool = False) -> TwoMembers:
        members = self._current
        if members is None:
            members = TwoMembers(self._tmp.mktemp("two-members"))
            self._started.append(members)
            members.start_members(self._argfiles)
            members.offer(SHARED_DATASET, SHARED_DATA)
        self._current = None if spoil else members
        return members

    def stop(self) -> None:
        for members in self._started:
            members.stop()


@pytest.fixture(scope="package")
def shared_members(tmp_path_factory, edc_runtimes) -> Iterator[SharedMembers]:
    shared = SharedMembers(tmp_path_factory, edc_runtimes)
    try:
        yield shared
    finally:
        shared.stop()
