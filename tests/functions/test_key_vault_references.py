"""A secret App Service could not resolve stays the literal ``@Microsoft.KeyVault(...)`` in its
app setting (likely on the first start: the app's vault role is assigned after the site
exists). The app must still index every function, and only what needs that secret fails, with
a 503 naming the setting; everything else keeps working."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mvd_core.dataspace.models import CloudflareDidHost, S3DidHost
from mvd_core.platforms.didhosts import open_did_host
from mvd_core.settings import UnresolvedReference, get_settings
from tests.commands.support import drain, queue_length
from tests.functions.support import indexed
from tests.functions.test_invoke import HOOK_SECRET, call, http

REPO = Path(__file__).resolve().parents[2]
REFERENCE = "@Microsoft.KeyVault(SecretUri=https://kv-mvd-cp-abc123.vault.azure.net/secrets/{}/)"
# infra/main.tf's secret_settings: every app setting that is a Key Vault reference on Azure.
SECRET_SETTINGS = {
    "MVD_WEBHOOK_SECRETS": "webhook-secrets",
    "MVD_CLOUDFLARE_API_TOKEN": "cloudflare-api-token",
    "MVD_R2_ACCESS_KEY_ID": "r2-access-key-id",
    "MVD_R2_SECRET_ACCESS_KEY": "r2-secret-access-key",
    "AWS_ACCESS_KEY_ID": "aws-access-key-id",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-access-key",
}


def test_the_secret_settings_are_infras():
    from tests.infra.terraform import load

    secret_settings = load().locals["secret_settings"]
    assert secret_settings == SECRET_SETTINGS


def _index(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import json, function_app\n"
        "print(json.dumps(sorted(f.get_function_name() for f in function_app.app.get_functions())))\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("setting", [*SECRET_SETTINGS, "all"])
def test_every_function_is_indexed_with_an_unresolved_secret(setting):
    names = list(SECRET_SETTINGS) if setting == "all" else [setting]
    done = _index({name: REFERENCE.format(SECRET_SETTINGS[name]) for name in names})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == sorted(f.get_function_name() for f in indexed())
    assert "Traceback" not in done.stderr


def _unresolved(monkeypatch, *names: str) -> None:
    for name in names:
        monkeypatch.setenv(name, REFERENCE.format(SECRET_SETTINGS[name]))
    get_settings.cache_clear()


def test_an_unresolved_webhook_secret_is_a_503_naming_it_and_the_rest_works(storage, monkeypatch):
    registry, queue = storage
    _unresolved(monkeypatch, *SECRET_SETTINGS)
    payload = b'{"action": "reset"}'
    from mvd_core.api import webhooks

    headers = webhooks.signed_headers(HOOK_SECRET, payload, "d-1")
    status, body = call("webhook", http("POST", "/api/webhooks/github", {"source": "github"}, payload, headers))
    assert status == 503, body
    assert body["error"].startswith("MVD_WEBHOOK_SECRETS is an unresolved Key Vault reference")
    assert "vault.azure.net" not in body["error"]
    assert queue_length(queue) == 0 and registry.recent() == []

    status, view = call("dataspace_view", http("GET", "/api/dataspace"))
    assert status == 200 and view["participants"], view
    status, accepted = call("dataspace_command", http("POST", "/api/dataspace/reset", {"action": "reset"}))
    assert status == 202 and len(drain(queue)) == 1, accepted


def test_a_resolved_webhook_secret_works_again(storage, monkeypatch):
    _, queue = storage
    monkeypatch.setenv("MVD_WEBHOOK_SECRETS", json.dumps({"github": HOOK_SECRET}))
    _unresolved(monkeypatch, "MVD_CLOUDFLARE_API_TOKEN")
    payload = b'{"action": "reset"}'
    from mvd_core.api import webhooks

    headers = webhooks.signed_headers(HOOK_SECRET, payload, "d-2")
    status, body = call("webhook", http("POST", "/api/webhooks/github", {"source": "github"}, payload, headers))
    assert status == 202, body
    assert len(drain(queue)) == 1


def test_a_did_host_needing_an_unresolved_secret_names_it(monkeypatch):
    _unresolved(monkeypatch, "MVD_R2_ACCESS_KEY_ID", "MVD_CLOUDFLARE_API_TOKEN")
    monkeypatch.setenv("MVD_R2_SECRET_ACCESS_KEY", "resolved-r2-secret-value")
    r2 = CloudflareDidHost(kind="cloudflare", domain="did.test.example", account_id="acct", zone_id="zone-1",
                           bucket="dids", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(UnresolvedReference) as info:
        open_did_host(r2, "p", get_settings())  # type: ignore[arg-type]
    assert info.value.status == 503 and info.value.names == ["MVD_R2_ACCESS_KEY_ID"]

    _unresolved(monkeypatch, "AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIARESOLVED")
    s3 = S3DidHost(kind="s3", bucket="dids", region="eu-west-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(UnresolvedReference) as info:
        open_did_host(s3, "p", get_settings())  # type: ignore[arg-type]
    assert info.value.names == ["AWS_SECRET_ACCESS_KEY"]
    assert "AKIARESOLVED" not in info.value.message
