"""GET /api/dataspace/data/{participant}/{dataset}: the seeded offers' bytes, served by a real
`mvd serve` in this process to whoever presents the participant's data-source key (what its
data plane sends from its vault, see mvd_core/workflow/seed.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from mvd_core.api import openapi
from mvd_core.dataspace.datasets import dataset_bytes
from mvd_core.workflow import connect, runtimes, seed
from tests.e2e.conftest import TOKEN, Plane, run_plane

PROVIDER = "galactic-turbine"


@pytest.fixture
def plane(monkeypatch) -> Iterator[Plane]:
    yield from run_plane(monkeypatch)


def key_of(plane: Plane, pid: str) -> str:
    """What the vault step writes on processes targets: the participant's runtime secrets."""
    store = connect.secret_store(plane.host.dataspace.participant(pid), plane.settings)
    runtimes.ensure_secrets(store)
    value = store.get(seed.DATA_SOURCE_KEY)
    assert value
    return value


def get(plane: Plane, pid: str, dataset: str, key: str | None, **headers: str) -> httpx.Response:
    if key is not None:
        headers[seed.DATA_SOURCE_HEADER] = key
    return httpx.get(f"{plane.url}/api/dataspace/data/{pid}/{dataset}", headers=headers, timeout=10)


def test_the_data_plane_gets_each_offers_bytes_with_the_participants_key(plane):
    key = key_of(plane, PROVIDER)
    participant = plane.host.dataspace.participant(PROVIDER)
    for offer in participant.offers:
        answer = get(plane, PROVIDER, offer.id, key)
        assert answer.status_code == 200, answer.text[:300]
        assert answer.content == dataset_bytes(PROVIDER, offer)
        assert answer.headers["content-type"].split(";")[0] == offer.media_type
        assert answer.headers["cache-control"] == "no-store"
    assert {o.media_type for o in participant.offers} == {"text/csv", "application/json"}
    # the header name is case-insensitive, as HTTP's are
    lower = httpx.get(
        f"{plane.url}/api/dataspace/data/{PROVIDER}/turbine-telemetry",
        headers={seed.DATA_SOURCE_HEADER.lower(): key},
        timeout=10,
    )
    assert lower.status_code == 200


def test_a_missing_or_wrong_key_is_401_naming_neither_key_nor_path(plane, caplog):
    key = key_of(plane, PROVIDER)
    other = key_of(plane, "space-enforcer")
    caplog.set_level(logging.DEBUG)
    for presented in (None, "", "not-" + key, key[:-1], other, key.swapcase()):
        answer = get(plane, PROVIDER, "turbine-telemetry", presented)
        assert answer.status_code == 401, (presented, answer.status_code)
        message = answer.json()["error"]
        assert "data-source key" in message and seed.DATA_SOURCE_HEADER in message
        assert key not in answer.text and other not in answer.text
        assert str(plane.settings.home) not in answer.text and "vaults" not in answer.text
    server_side = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert key not in server_side and other not in server_side
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_no_key_in_the_vault_yet_is_401_not_an_error(plane):
    # nothing provisioned: the participant's vault has no data-source key
    answer = get(plane, "interstellar-assembly", "assembly-schedule", "anything")
    assert answer.status_code == 401 and "data-source key" in answer.json()["error"]


def test_unknown_participant_or_dataset_is_404(plane):
    key = key_of(plane, PROVIDER)
    unknown = get(plane, "nobody", "turbine-telemetry", key)
    assert unknown.status_code == 404 and "nobody" in unknown.json()["error"]
    missing = get(plane, PROVIDER, "no-such-dataset", key)
    assert missing.status_code == 404
    assert "no-such-dataset" in missing.json()["error"] and "turbine-telemetry" in missing.json()["error"]
    # another participant's dataset is not this one's
    assert get(plane, PROVIDER, "assembly-schedule", key).status_code == 404
    for odd in ("UPPER", "a_b", "x" * 70, "%2e%2e"):
        assert get(plane, PROVIDER, odd, key).status_code == 404, odd
        assert get(plane, odd, "turbine-telemetry", key).status_code == 404, odd
    # a wrong key does not learn which datasets exist
    assert get(plane, PROVIDER, "no-such-dataset", "wrong").status_code == 401


def test_only_get_is_answered_and_nothing_changes(plane):
    key = key_of(plane, PROVIDER)
    for method in ("POST", "PUT", "DELETE"):
        answer = httpx.request(
            method,
            f"{plane.url}/api/dataspace/data/{PROVIDER}/turbine-telemetry",
            headers={seed.DATA_SOURCE_HEADER: key, "Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert answer.status_code == 405 and answer.headers["allow"] == "GET"
    assert get(plane, PROVIDER, "turbine-telemetry", key).status_code == 200


def test_served_where_reads_need_the_api_token(monkeypatch):
    """The data plane has no API token: its data-source key is what it shows."""
    monkeypatch.setenv("MVD_ANONYMOUS_READS", "false")
    with contextmanager(run_plane)(monkeypatch) as plane:
        key = key_of(plane, PROVIDER)
        assert httpx.get(f"{plane.url}/api/dataspace", timeout=10).status_code == 401
        assert get(plane, PROVIDER, "turbine-telemetry", key).status_code == 200
        assert get(plane, PROVIDER, "turbine-telemetry", None).status_code == 401


def test_the_route_is_in_the_openapi_document_with_the_data_source_key():
    document = openapi.document()
    operation = document["paths"]["/api/dataspace/data/{participant}/{dataset}"]["get"]
    assert operation["security"] == [{"dataSourceKey": []}]
    assert document["components"]["securitySchemes"]["dataSourceKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": seed.DATA_SOURCE_HEADER,
        "description": openapi.SECURITY_SCHEMES["dataSourceKey"]["description"],
    }
    assert {"401", "404"} <= set(operation["responses"])
    assert [p["name"] for p in operation["parameters"]] == ["participant", "dataset", seed.DATA_SOURCE_HEADER]


def test_the_vault_step_creates_the_data_source_key_once(plane):
    store = connect.secret_store(plane.host.dataspace.participant(PROVIDER), plane.settings)
    first = runtimes.ensure_secrets(store)
    value = store.get(seed.DATA_SOURCE_KEY)
    assert seed.DATA_SOURCE_KEY in first and value and len(value) >= 40
    assert runtimes.ensure_secrets(store) == []
    assert store.get(seed.DATA_SOURCE_KEY) == value


def test_the_assets_data_address_names_the_vault_alias_never_the_key(plane):
    key = key_of(plane, PROVIDER)
    address = seed.data_address(plane.settings, PROVIDER, "turbine-telemetry")
    assert address == {
        "type": "HttpData",
        "baseUrl": f"{plane.settings.base_url}/api/dataspace/data/{PROVIDER}/turbine-telemetry",
        "authKey": seed.DATA_SOURCE_HEADER,
        "secretName": seed.DATA_SOURCE_KEY,
    }
    assert key not in json.dumps(address)
