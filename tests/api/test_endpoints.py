"""The participant list every catalog crawler reads (public) and the endpoints of each
participant's runtimes (token only), on a real `mvd serve` in this process. No runtime needs
to run: both read the ports a provision records, which the test records the same way."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mvd_core.plan.desired import dataspace_dids
from mvd_core.platforms.processes import ProcessPlatform
from mvd_core.workflow import connect, runtimes
from tests.e2e.conftest import TOKEN, Plane, run_plane

LIST = "/api/dataspace/participants.json"
ENDPOINTS = "/api/dataspace/endpoints"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def plane(monkeypatch) -> Iterator[Plane]:
    """The suite's default target: simulated clusters."""
    yield from run_plane(monkeypatch)


@pytest.fixture
def embedded(monkeypatch) -> Iterator[Plane]:
    """The embedded target (participants on processes), nothing provisioned."""
    monkeypatch.setenv("MVD_TARGETS", "embedded")
    yield from run_plane(monkeypatch)


def allocate(plane: Plane, pid: str) -> list:
    """What a provision's did step does first: the participant's runtimes get their ports."""
    participant = plane.host.dataspace.participant(pid)
    return runtimes.specs(participant, dataspace_dids(plane.host.dataspace, plane.settings)[pid], plane.settings)


def test_the_participant_list_names_each_participant_with_ports_without_a_token(embedded, monkeypatch):
    assert httpx.get(f"{embedded.url}{LIST}", timeout=10).json() == []
    turbine, enforcer = allocate(embedded, "galactic-turbine"), allocate(embedded, "space-enforcer")
    response = httpx.get(f"{embedded.url}{LIST}", timeout=10)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    dids = dataspace_dids(embedded.host.dataspace, embedded.settings)
    assert response.json() == [
        {"name": pid, "id": dids[pid], "url": runtimes.protocol_url(specs),
         "supportedProtocols": ["dataspace-protocol-http:2025-1"]}
        for pid, specs in (("galactic-turbine", turbine), ("space-enforcer", enforcer))
    ]
    assert response.json()[0]["url"].startswith("http://localhost:") and response.json()[0]["url"].endswith(
        "/api/dsp/2025-1")
    # a read allocates nothing: the participant without ports still has none
    assert ProcessPlatform(embedded.settings.home).recorded_ports("interstellar-assembly") == {}
    # the list is what edc.catalog.nodes.url names
    assert runtimes.participant_list_url(embedded.settings) == f"{embedded.settings.base_url}{LIST}"


def test_the_participant_list_stays_public_where_reads_need_the_token(monkeypatch):
    monkeypatch.setenv("MVD_TARGETS", "embedded")
    monkeypatch.setenv("MVD_ANONYMOUS_READS", "false")
    with contextmanager(run_plane)(monkeypatch) as plane:
        allocate(plane, "space-enforcer")
        assert httpx.get(f"{plane.url}/api/dataspace", timeout=10).status_code == 401
        listed = httpx.get(f"{plane.url}{LIST}", timeout=10)
        assert listed.status_code == 200 and [e["name"] for e in listed.json()] == ["space-enforcer"]
        wrong = httpx.post(f"{plane.url}{LIST}", timeout=10)  # only the GET is answered
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"


def test_simulated_participants_are_not_listed(plane):
    resp = plane.post("provision")
    assert plane.wait(resp.json()["runId"])["status"] == "completed"
    assert httpx.get(f"{plane.url}{LIST}", timeout=10).json() == []


def test_endpoints_need_the_token_even_where_reads_are_open(embedded):
    assert httpx.get(f"{embedded.url}/api/dataspace", timeout=10).status_code == 200  # reads are open here
    denied = httpx.get(f"{embedded.url}{ENDPOINTS}", timeout=10)
    assert denied.status_code == 401 and "token" in denied.json()["error"]
    assert denied.headers["www-authenticate"] == "Bearer"


def test_endpoints_name_management_protocol_and_the_key_file_never_the_key(embedded):
    specs = allocate(embedded, "galactic-turbine")
    turbine = embedded.host.dataspace.participant("galactic-turbine")
    store = connect.secret_store(turbine, embedded.settings)
    runtimes.ensure_secrets(store)
    key = store.get("management-api-key")
    assert key

    response = httpx.get(f"{embedded.url}{ENDPOINTS}", headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    assert key not in response.text
    body = response.json()
    dids = dataspace_dids(embedded.host.dataspace, embedded.settings)
    key_file = Path(body["participants"]["galactic-turbine"]["managementApiKeyFile"])
    assert body["participants"]["galactic-turbine"] == {
        "did": dids["galactic-turbine"],
        "management": runtimes.management_url(specs),
        "protocol": runtimes.protocol_url(specs),
        "dataDashboard": None,
        "managementApiKeyFile": str(key_file),
        "note": None,
    }
    assert key_file.is_absolute() and key_file.read_text() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert body["participants"]["galactic-turbine"]["management"].endswith("/api/management")
    # not provisioned yet: no addresses, and why
    enforcer = body["participants"]["space-enforcer"]
    assert (enforcer["management"], enforcer["protocol"], enforcer["managementApiKeyFile"]) == (None, None, None)
    assert "run `mvd provision`" in enforcer["note"]
    assert body["issuer"] == {"did": runtimes.issuer_did(embedded.settings)}
    assert set(body["participants"]) == {"galactic-turbine", "space-enforcer", "interstellar-assembly"}


def test_endpoints_of_simulated_participants_are_null_with_a_note(plane):
    body = httpx.get(f"{plane.url}{ENDPOINTS}", headers=AUTH, timeout=10).json()
    for pid, entry in body["participants"].items():
        assert entry["management"] is None and entry["protocol"] is None, pid
        assert entry["managementApiKeyFile"] is None
        assert entry["note"].startswith("simulated cluster: no EDC runtime runs")
        assert entry["did"].startswith("did:web:localhost%3A")
