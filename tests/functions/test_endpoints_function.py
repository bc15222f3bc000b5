"""The Functions app answers the participant list and the endpoints like `mvd serve`: on Azure
every participant runs on its cluster, so the list names the DSP address its Ingress routes
(what the rendered catalogs crawl), and the endpoints, which only local runtimes have, are null
with why."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from blueprints import _runtime
from mvd_core.plan.desired import dataspace_dids
from mvd_core.settings import get_settings
from tests.functions.test_invoke import call, http


@pytest.fixture
def declared(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("MVD_TARGETS", "declared")
    get_settings.cache_clear()
    _runtime.dataspace.cache_clear()
    yield
    _runtime.dataspace.cache_clear()


def test_the_participant_list_and_the_endpoints_on_the_declared_targets(storage, declared):
    dataspace = _runtime.dataspace()
    dids = dataspace_dids(dataspace, get_settings())
    status, nodes = call("participant_list", http("GET", "/api/dataspace/participants.json"))
    assert status == 200
    assert nodes == [
        {"name": p.id, "id": dids[p.id], "url": f"https://{dataspace.public_host_for(p)}/api/dsp/2025-1",
         "supportedProtocols": ["dataspace-protocol-http:2025-1"]}
        for p in dataspace.participants
    ]

    status, view = call("dataspace_endpoints", http("GET", "/api/dataspace/endpoints"))
    assert status == 200, view
    assert {pid: p["did"] for pid, p in view["participants"].items()} == dids
    for pid, entry in view["participants"].items():
        assert (entry["management"], entry["protocol"], entry["managementApiKeyFile"]) == (None, None, None), pid
        kind = _runtime.dataspace().participant(pid).cluster.kind
        assert entry["note"] == f"runs on its {kind} cluster, whose addresses this control plane does not record"
    assert view["issuer"]["did"].startswith("did:web:")
