"""Damaged state files: a vault key, engine.db, registry.db or clusters/simulated.db of
binary garbage is one line naming the file and what to do (CLI), or a 503 naming it (API);
nothing replaces it unasked, and `mvd rotate-keys` repairs an unreadable key."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_cli import mvd
from tests.fixtures.emulators import free_port

GARBAGE = bytes(range(128, 256)) * 64  # not UTF-8, not SQLite


def env_for(home: Path) -> dict[str, str]:
    return {**os.environ, "MVD_HOME": str(home), "MVD_PORT": str(free_port()), "MVD_SIM_READY_DELAY": "0.05"}


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


@pytest.mark.parametrize(
    ("name", "args", "consequence"),
    [
        ("engine.db", ("provision",), "the engine starts with no orchestration history"),
        ("registry.db", ("provision",), "the run history starts empty"),
        ("clusters/simulated.db", ("plan",), "the simulated clusters start empty"),
        ("clusters/simulated.db", ("clusters", "status"), "the simulated clusters start empty"),
        ("onboarding.db", ("participants",), "every onboarded participant and invite is forgotten"),
    ],
)
def test_a_damaged_database_is_one_line_naming_it_and_is_kept(tmp_path, name, args, consequence):
    home = tmp_path / "home"
    path = home / name
    path.parent.mkdir(parents=True)
    path.write_bytes(GARBAGE)
    res = mvd(env_for(home), *args)
    assert res.returncode == 1, res.stdout + res.stderr
    line = one_line(res.stderr)
    assert line.startswith(f"error: {path} is not a readable SQLite database (file is not a database); ")
    assert f"move it aside (mv {path.name} {path.name}.damaged)" in line and consequence in line
    assert path.read_bytes() == GARBAGE


def test_the_plan_api_answers_503_naming_a_damaged_cluster_database(plane, caplog):
    path = plane.settings.home / "clusters" / "simulated.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(GARBAGE)
    with caplog.at_level(logging.DEBUG, logger="mvd"):
        res = httpx.get(f"{plane.url}/api/dataspace/plan", timeout=30)
    assert res.status_code == 503, res.text
    error = res.json()["error"]
    assert error.startswith("$MVD_HOME/clusters/simulated.db is not a readable SQLite database")
    assert "move it aside" in error and str(plane.settings.home) not in error
    assert "Traceback" not in caplog.text
    assert path.read_bytes() == GARBAGE


def test_a_binary_vault_key_is_named_and_only_rotate_keys_replaces_it(tmp_path):
    home = tmp_path / "home"
    env = env_for(home)
    assert mvd(env, "provision").returncode == 0
    key = home / "vaults" / "space-enforcer" / "space-enforcer-did-signing-key"
    key.write_bytes(GARBAGE)

    listed = mvd(env, "did", "list", "--no-check")
    assert listed.returncode == 0 and "Traceback" not in listed.stdout + listed.stderr, listed.stderr
    assert ("key   unavailable: secret 'space-enforcer-did-signing-key' in local vault "
            f"{key.parent} is not UTF-8 text") in listed.stdout
    assert "run `mvd rotate-keys space-enforcer`" in listed.stdout

    reset = mvd(env, "reset")
    assert reset.returncode == 1 and "space-enforcer failed at vault" in reset.stdout
    assert "run `mvd rotate-keys space-enforcer`" in reset.stdout and "UnicodeDecodeError" not in reset.stdout
    assert key.read_bytes() == GARBAGE  # a reset does not replace it

    rotated = mvd(env, "rotate-keys", "space-enforcer")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert json.loads(key.read_text())["kty"] == "EC"
    after = mvd(env, "did", "list", "--no-check")
    assert after.returncode == 0 and "unavailable" not in after.stdout
