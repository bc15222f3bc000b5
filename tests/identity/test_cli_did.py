"""`mvd did resolve|url|list` through typer's runner."""

from __future__ import annotations

import json
from functools import partial
from http.server import SimpleHTTPRequestHandler

from typer.testing import CliRunner

from mvd_core.cli.did import app
from mvd_core.dataspace import load
from mvd_core.dataspace.targets import apply_targets
from mvd_core.identity import keys
from mvd_core.identity.document import build_did_document
from mvd_core.platforms.didhosts import open_did_host
from mvd_core.platforms.secrets import open_secret_store
from mvd_core.settings import get_settings
from tests.fixtures.loopback import serve
from tests.identity.test_resolver import Site, handler_for

runner = CliRunner()


def test_resolve_prints_the_document():
    site = Site()
    with serve(handler_for(site)) as url:
        did = f"did:web:localhost%3A{url.rsplit(':', 1)[1]}:cli"
        doc = site.document("/cli/did.json", did)
        result = runner.invoke(app, ["resolve", did, "--allow-http-loopback", "--allow-private"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == doc


def test_resolve_errors_are_one_clear_line():
    result = runner.invoke(app, ["resolve", "did:key:z6Mkabc"])
    assert result.exit_code == 1
    assert "cannot resolve did:key:z6Mkabc: 'did:key:z6Mkabc' is a did:key DID; only did:web" in result.stderr
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["resolve", "did:web:localhost%3A1"])
    assert result.exit_code == 1 and "loopback address" in result.stderr and "MVD_ALLOW_PRIVATE_HOSTS" in result.stderr


def test_url():
    result = runner.invoke(app, ["url", "did:web:example.com%3A8443:user:alice"])
    assert result.stdout.strip() == "https://example.com:8443/user/alice/did.json"
    assert runner.invoke(app, ["url", "did:web:10.0.0.1"]).exit_code == 1


def test_list_shows_dids_keys_and_resolution(monkeypatch):
    result = runner.invoke(app, ["list", "--targets", "embedded", "--no-check"])
    assert result.exit_code == 0, result.output
    assert "galactic-turbine  did:web:localhost%3A7080:dids:galactic-turbine" in result.stdout
    assert result.stdout.count("none yet") == 3

    settings = get_settings()
    handler = partial(SimpleHTTPRequestHandler, directory=str(settings.home))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    with serve(handler) as url:  # type: ignore[arg-type]
        monkeypatch.setenv("MVD_PORT", url.rsplit(":", 1)[1])
        get_settings.cache_clear()
        settings = get_settings()
        dataspace = apply_targets(load(), "embedded")
        kids = {}
        for p in dataspace.participants:
            jwk = keys.ensure_participant_key(open_secret_store(p.vault, p.id, settings), p.id, p.identity.key_type)
            kids[p.id] = jwk["kid"]
            host = open_did_host(p.identity.host, p.id, settings)
            if p.id != "space-enforcer":
                host.publish(build_did_document(host.did, jwk, credential_service_url="https://x", protocol_url="https://y"))
        result = runner.invoke(app, ["list", "--targets", "embedded"])
    assert result.exit_code == 1
    assert result.stdout.count("  resolves") == 2
    assert "space-enforcer" in result.stdout and "does not resolve: GET http://localhost" in result.stdout
    assert all(kid in result.stdout for kid in kids.values())
    assert "1 DID(s) do not resolve as expected (embedded targets)" in result.stderr
