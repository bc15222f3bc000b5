"""The read commands' reader is a context manager: whatever the command does with it, the
reader is closed when the block ends (the HTTP client of ``--api`` included)."""

from __future__ import annotations

import pytest

from mvd_core.cli.client import RemoteControlPlane, reader
from mvd_core.errors import ExternalError
from mvd_core.settings import Settings


def test_the_reader_is_closed_when_the_block_ends_or_raises(tmp_path):
    settings = Settings(home=tmp_path)
    with reader(settings, "http://127.0.0.1:9") as source:
        assert isinstance(source, RemoteControlPlane)
    assert source._http.is_closed

    held: list[RemoteControlPlane] = []
    with (
        pytest.raises(ExternalError, match="cannot reach the control plane at http://127.0.0.1:9"),
        reader(settings, "http://127.0.0.1:9") as failing,
    ):
        assert isinstance(failing, RemoteControlPlane)
        held.append(failing)
        failing.runs(5)  # nothing listens on port 9
    assert held[0]._http.is_closed
