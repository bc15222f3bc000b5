"""How the app's storage and timer come from settings (the app settings infra/ writes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from blueprints import _runtime
from mvd_core.commands import open_queue
from mvd_core.errors import MvdError
from mvd_core.runs import open_registry
from mvd_core.runs.table_registry import TableRunRegistry
from mvd_core.settings import get_settings

REPO = Path(__file__).resolve().parents[2]


def _env(monkeypatch, **values):
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def test_managed_identity_storage_from_account_name(monkeypatch):
    """On Azure the account has no keys: MVD_STORAGE_ACCOUNT and the app's identity."""
    _env(monkeypatch, MVD_STORAGE_ACCOUNT="mvdstore", MVD_COMMAND_QUEUE="mvd-commands")
    registry = open_registry()  # offline: tables are created on first use
    assert isinstance(registry, TableRunRegistry)
    assert registry.account_url.startswith("https://mvdstore.table.core.windows.net")
    queue = open_queue()
    assert queue.client.url.startswith("https://mvdstore.queue.core.windows.net/mvd-commands")
    assert type(queue.client.credential).__name__ == "DefaultAzureCredential"


def test_without_storage_the_registry_is_local_and_the_queue_is_refused():
    assert type(open_registry()).__name__ == "SqliteRunRegistry"
    with pytest.raises(MvdError, match="MVD_STORAGE_CONNECTION .* or MVD_STORAGE_ACCOUNT"):
        open_queue()


def test_malformed_connection_string_is_named_not_echoed(monkeypatch):
    _env(monkeypatch, MVD_STORAGE_CONNECTION="AccountKey=c2VjcmV0;nonsense")
    with pytest.raises(MvdError) as info:
        open_queue()
    assert "malformed" in info.value.message and "c2VjcmV0" not in info.value.message


def test_reset_schedule_override(monkeypatch):
    _env(monkeypatch, MVD_RESET_SCHEDULE="0 30 2 * * *")
    _runtime.reset_caches()
    assert _runtime.reset_schedule() == "0 30 2 * * *"
    _env(monkeypatch, MVD_RESET_SCHEDULE="30 2 * * *")
    with pytest.raises(MvdError, match="MVD_RESET_SCHEDULE: .*must be 6 fields"):
        _runtime.reset_schedule()


def _index_in_subprocess(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import json, function_app\n"
        "fns = {f.get_function_name(): json.loads(f.get_function_json()) for f in function_app.app.get_functions()}\n"
        "print(json.dumps(fns['nightly_reset']['bindings']))\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=False)


def test_timer_schedule_follows_settings_and_blueprint_at_indexing(tmp_path):
    done = _index_in_subprocess({"MVD_RESET_SCHEDULE": "0 15 3 * * *"})
    assert done.returncode == 0, done.stderr
    [timer] = [b for b in json.loads(done.stdout) if b["type"] == "timerTrigger"]
    assert timer["schedule"] == "0 15 3 * * *"

    from mvd_core.dataspace.loader import DEFAULT_NAME

    text = (REPO / "mvd_core" / "dataspace" / DEFAULT_NAME).read_text()
    blueprint = tmp_path / "ds.yaml"
    assert 'reset: "0 0 0 * * *"' in text
    blueprint.write_text(text.replace('reset: "0 0 0 * * *"', 'reset: "0 45 1 * * *"'))
    done = _index_in_subprocess({"MVD_DATASPACE_FILE": str(blueprint)})
    assert done.returncode == 0, done.stderr
    [timer] = [b for b in json.loads(done.stdout) if b["type"] == "timerTrigger"]
    assert timer["schedule"] == "0 45 1 * * *"


@pytest.mark.parametrize(("env", "words"), [
    ({"MVD_WEBHOOK_SECRETS": json.dumps({"github": ""})}, "the secret of source 'github' is empty or shorter than 16"),
    ({"MVD_WEBHOOK_SECRETS": json.dumps({"github": "short-secret"})}, "shorter than 16 characters"),
    ({"MVD_WEBHOOK_SECRETS": json.dumps({"github": " " * 20})}, "empty or shorter than 16"),
    ({"MVD_WEBHOOK_SECRETS": json.dumps({"a": "one-secret-for-two-sources", "b": "one-secret-for-two-sources"})},
     "sources 'a' and 'b' share one secret"),
    ({"MVD_WEBHOOK_SECRETS": json.dumps({"GitHub": "a-long-enough-secret-1"})}, "'GitHub' is not a source name"),
])
def test_weak_webhook_secrets_are_named_by_the_api_not_fatal_at_indexing(env, words, storage, monkeypatch):
    """A webhook secret that is empty, short, or shared no longer stops the Functions app from
    indexing (nothing reads a secret then): every function is indexed, and the API answers 503
    with one line naming the setting and the rule, never the secret."""
    done = _index_in_subprocess(env)
    assert done.returncode == 0, done.stderr
    from tests.functions.test_invoke import call, http

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    status, body = call("dataspace_view", http("GET", "/api/dataspace"))
    assert status == 503 and body["error"].startswith("invalid settings: MVD_WEBHOOK_SECRETS") and words in body["error"]
    for secret in json.loads(env["MVD_WEBHOOK_SECRETS"]).values():
        if secret.strip():
            assert secret not in json.dumps(body)
