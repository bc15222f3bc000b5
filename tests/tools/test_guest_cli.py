"""`python -m tools.guest`: bad arguments are one-line errors before anything starts."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def guest(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.guest", "--home", str(home), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "url", ["localhost:7080", "ftp://localhost:7080", "http://localhost:7080/api", "http://", "http://[::1"]
)
def test_a_control_plane_that_is_no_base_url_is_refused_and_nothing_starts(tmp_path, url):
    answer = guest("--control-plane", url, home=tmp_path / "guest")
    assert answer.returncode == 2
    assert "--control-plane must be the base URL of mvd serve" in answer.stderr
    assert "Traceback" not in answer.stderr and answer.stdout == ""
    assert not (tmp_path / "guest").exists()


def test_a_port_out_of_range_or_taken_is_one_line_and_nothing_is_left(tmp_path):
    answer = guest("--port", "70000", home=tmp_path / "guest")
    assert answer.returncode == 2 and "--port must be between 0 and 65535" in answer.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        answer = guest("--port", str(taken.getsockname()[1]), home=tmp_path / "guest")
    assert answer.returncode == 1, answer.stderr
    assert answer.stderr.startswith("error: ") and len(answer.stderr.strip().splitlines()) == 1
    assert "Traceback" not in answer.stderr
    assert not (tmp_path / "guest" / "state").exists()  # no runtime was started
