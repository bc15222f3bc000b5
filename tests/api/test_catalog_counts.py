"""Per participant, how many datasets its federated catalog finds, as GET /api/dataspace and
`mvd status` show it, on a real `mvd serve` in this process. The catalogs here are loopback
stand-ins of EDC's federated catalog query API (POST <catalog>/v1alpha/catalog/query) on the
ports a provision records; the real ones are counted in tests/e2e/test_dataspace_runtimes.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer

import httpx
import pytest

from mvd_core.workflow import runtimes
from tests.api.test_endpoints import allocate
from tests.e2e.conftest import Plane, run_plane
from tests.fixtures.loopback import QuietHandler


@pytest.fixture
def plane(monkeypatch) -> Iterator[Plane]:
    yield from run_plane(monkeypatch)


@pytest.fixture
def embedded(monkeypatch) -> Iterator[Plane]:
    monkeypatch.setenv("MVD_TARGETS", "embedded")
    yield from run_plane(monkeypatch)


def catalogs(plane: Plane) -> dict[str, dict]:
    view = httpx.get(f"{plane.url}/api/dataspace", timeout=30).json()
    return {p["id"]: p["catalog"] for p in view["participants"]}


@contextmanager
def federated_catalog(port: int, answer: list[dict]) -> Iterator[list[str]]:
    """A stand-in federated catalog query API on ``port``; yields the paths it was asked."""
    asked: list[str] = []

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            self.read_body()
            asked.append(self.path)
            self.send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield asked
    finally:
        server.shutdown()
        server.server_close()


def test_simulated_participants_have_no_catalog_to_ask(plane):
    for found in catalogs(plane).values():
        assert found == {
            "datasets": None,
            "participants": None,
            "note": "no catalog to ask here: no EDC runtime runs on a simulated cluster",
        }


def test_before_a_provision_and_when_the_catalog_does_not_answer(embedded):
    assert {c["note"] for c in catalogs(embedded).values()} == {"not provisioned yet"}
    allocate(embedded, "galactic-turbine")
    allocate(embedded, "space-enforcer")
    found = catalogs(embedded)
    assert found["interstellar-assembly"]["note"] == "not provisioned yet"
    assert found["galactic-turbine"] == {"datasets": None, "participants": None, "note": "its catalog does not answer"}
    assert found["space-enforcer"]["note"] == "its connector does not answer"  # the embedded crawler


def test_the_standalone_catalog_is_asked_and_its_datasets_counted_once_in_a_while(embedded):
    specs = allocate(embedded, "galactic-turbine")
    catalog = runtimes.by_name(specs, "catalog")
    answer = [
        {"@type": "Catalog", "participantId": "did:web:a", "dataset": [{"@id": "x"}, {"@id": "y"}]},
        {"@type": "Catalog", "participantId": "did:web:b", "dataset": {"@id": "z"}},
        {"@type": "Catalog", "participantId": "did:web:c"},
    ]
    with federated_catalog(catalog.apis["catalog"].port, answer) as asked:
        found = catalogs(embedded)["galactic-turbine"]
        again = catalogs(embedded)["galactic-turbine"]
    assert found == again == {"datasets": 3, "participants": 3, "note": None}
    assert asked == ["/api/catalog/v1alpha/catalog/query"]  # the second view came from the cache
