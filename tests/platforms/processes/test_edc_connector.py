"""One real EDC connector (the assembled runtime, Java 17) run by the processes platform:
started with its settings file, ready on its readiness endpoint, answering its management API
with the key from its vault, then stopped with nothing left behind."""

from __future__ import annotations

import secrets

import httpx
import psutil

from mvd_core.dataspace.loader import load
from mvd_core.platforms.processes import JavaCommand, ProcessPlatform
from mvd_core.platforms.secrets.local import LocalFileVault
from mvd_core.runtimes.participant import MANAGEMENT_API_KEY, participant_runtimes, required_ports
from tests.fixtures.polling import until
from tests.platforms.processes.conftest import home, settle


def _not_405(response: httpx.Response) -> httpx.Response | None:
    return None if response.status_code == 405 else response


def test_a_real_edc_connector_runs_answers_and_stops(edc_runtimes):
    participant = load().participants[0]
    platform = ProcessPlatform(home(), command=JavaCommand(edc_runtimes))
    vault = LocalFileVault(home() / "vaults" / participant.id)
    api_key = secrets.token_urlsafe(24)
    vault.set(MANAGEMENT_API_KEY, api_key)
    specs = participant_runtimes(
        participant,
        did=f"did:web:localhost%3A7080:dids:{participant.id}",
        issuer_did="did:web:localhost%3A7080:dids:issuer",
        participant_list_url="http://localhost:7080/api/participants.json",
        vault_path=vault.root,
        ports=platform.allocate_ports(participant.id, required_ports(participant)),
    )
    connector = next(s for s in specs if s.name == "connector").model_copy(update={"start_after": []})

    assert platform.apply([connector]).started == ["connector"]
    state = settle(platform, participant.id, timeout=180)["connector"]

    jvm = psutil.Process(state.pid)
    assert jvm.name() == "java" and jvm.ppid() == psutil.Process().pid
    assert f"-Dedc.fs.config={home() / 'runtimes' / participant.id / 'connector.properties'}" in jvm.cmdline()
    assert api_key not in " ".join(jvm.cmdline())
    assert api_key not in (home() / "runtimes" / participant.id / "connector.properties").read_text()
    assets = f"{connector.url('management')}/v3/assets"
    asset = {
        "@context": ["https://w3id.org/edc/connector/management/v0.0.1"],
        "@type": "Asset",
        "@id": "asset-1",
        "properties": {"name": "asset 1"},
        "dataAddress": {"@type": "DataAddress", "type": "HttpData", "baseUrl": "http://localhost:1/data"},
    }
    # EDC 0.15.1 reports ready before Jersey has set up the management context: its very first
    # request may be answered 405 by Jetty
    refused = until(
        "the management API serving",
        lambda: _not_405(httpx.post(assets, json=asset, headers={"x-api-key": "wrong"}, timeout=30)),
        timeout=60,
    )
    assert refused.status_code == 401
    assert httpx.post(assets, json=asset, headers={"x-api-key": api_key}, timeout=30).status_code == 200
    got = httpx.get(f"{assets}/asset-1", headers={"x-api-key": api_key}, timeout=30)
    assert got.status_code == 200 and got.json()["@id"] == "asset-1"
    assert platform.apply([connector]).started == []

    assert platform.restart(participant.id).started == ["connector"]  # a reset: in-memory state gone
    restarted = settle(platform, participant.id, timeout=180)["connector"]
    assert restarted.pid != state.pid and not psutil.pid_exists(state.pid)
    after = until(
        "the asset readable",
        lambda: _not_405(httpx.get(f"{assets}/asset-1", headers={"x-api-key": api_key}, timeout=30)),
        timeout=60,
    )
    assert after.status_code == 404

    assert platform.stop(participant.id) == ["connector"]
    assert not psutil.pid_exists(restarted.pid)
    log = (home() / "logs" / participant.id / "connector.log").read_text()
    assert log.count("--- mvd: starting") == 2 and api_key not in log
