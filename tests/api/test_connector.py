"""The connector proxy (``/api/participants/{participant}/connector/...``) refusing what it
cannot serve, on a real `mvd serve` in this process with no EDC runtime running: an unknown
participant, one on a simulated cluster, one not provisioned yet, a connector that does not
answer (ports recorded, nothing listening: a real refused connection), bad ids and bodies, a
write without the token. Each answer is JSON naming the problem; none leaks the management API
key, a file path or a traceback. (What a running connector answers is in
tests/browser/test_connector_ui.py, on a real dataspace.)"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from mvd_core.api import connector, openapi
from mvd_core.api.handlers import ROUTES
from mvd_core.onboarding.store import Onboarded, open_store
from mvd_core.plan.desired import dataspace_dids
from mvd_core.platforms.processes import ProcessPlatform
from mvd_core.runs.models import utcnow
from mvd_core.workflow import connect, runtimes
from tests.e2e.conftest import TOKEN, Plane, run_plane

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "/api/participants/{pid}/connector"
READS = ["assets", "catalog", "negotiations", "negotiations/n-1", "transfers", "transfers/t-1", "transfers/t-1/data"]
WRITES = {"negotiations": {"provider": "interstellar-assembly", "datasetId": "d-1"}, "transfers": {"agreementId": "a-1"}}


@pytest.fixture
def embedded(monkeypatch) -> Iterator[Plane]:
    """The embedded target (participants on processes), nothing provisioned, no runtime running."""
    monkeypatch.setenv("MVD_TARGETS", "embedded")
    yield from run_plane(monkeypatch)


@pytest.fixture
def simulated(monkeypatch) -> Iterator[Plane]:
    yield from run_plane(monkeypatch)


def url(plane: Plane, pid: str, path: str) -> str:
    return plane.url + BASE.format(pid=pid) + "/" + path


def every_call(plane: Plane, pid: str) -> list[httpx.Response]:
    answers = [httpx.get(url(plane, pid, path), timeout=30) for path in READS]
    answers += [httpx.post(url(plane, pid, path), json=body, headers=AUTH, timeout=30) for path, body in WRITES.items()]
    return answers


def provisioned_ports_and_key(plane: Plane, pid: str) -> str:
    """What a provision leaves before the runtimes start: ports recorded, the key in the vault."""
    participant = plane.host.dataspace.participant(pid)
    runtimes.specs(participant, dataspace_dids(plane.host.dataspace, plane.settings)[pid], plane.settings)
    store = connect.secret_store(participant, plane.settings)
    runtimes.ensure_secrets(store)
    key = store.get("management-api-key")
    assert key
    return key


def assert_clean(answer: httpx.Response, *secrets: str) -> None:
    assert answer.headers["content-type"] == "application/json"
    text = answer.text
    assert "Traceback" not in text and "/vaults/" not in text and "$MVD_HOME" not in text
    for secret in secrets:
        assert secret not in text


def test_an_unknown_participant_is_404_on_every_route(embedded):
    for pid in ("no-such-company", "Space_Enforcer"):
        for answer in every_call(embedded, pid):
            assert answer.status_code == 404, (answer.request.url, answer.text)
            assert f"unknown participant {pid!r}" in answer.json()["error"]
            assert_clean(answer)


def test_a_participant_on_a_simulated_cluster_is_409_naming_why(simulated):
    for answer in every_call(simulated, "space-enforcer"):
        assert answer.status_code == 409, (answer.request.url, answer.text)
        message = answer.json()["error"]
        assert message.startswith("space-enforcer has no connector this control plane can call: simulated cluster")
        assert "MVD_TARGETS=embedded" in message


def test_a_participant_not_provisioned_yet_is_409_naming_the_command(embedded):
    for answer in every_call(embedded, "space-enforcer"):
        assert answer.status_code == 409, (answer.request.url, answer.text)
        assert "run `mvd provision`" in answer.json()["error"]
    # a read allocates nothing
    assert ProcessPlatform(embedded.settings.home).recorded_ports("space-enforcer") == {}


def test_a_connector_that_does_not_answer_is_503_naming_it_without_the_key(embedded, caplog):
    key = provisioned_ports_and_key(embedded, "space-enforcer")
    for provider in ("galactic-turbine", "interstellar-assembly"):  # so the catalog asks them
        provisioned_ports_and_key(embedded, provider)
    participant = embedded.host.dataspace.participant("space-enforcer")
    did = dataspace_dids(embedded.host.dataspace, embedded.settings)["space-enforcer"]
    management = runtimes.management_url(runtimes.recorded_specs(participant, did, embedded.settings))
    with caplog.at_level(logging.DEBUG):
        answers = every_call(embedded, "space-enforcer")
    for answer in answers:
        assert answer.status_code == 503, (answer.request.url, answer.text)
        message = answer.json()["error"]
        assert message.startswith("the connector of space-enforcer does not answer (management API of "
                                  "space-enforcer/connector: ")
        assert management in message and "`mvd up`" in message
        assert_clean(answer, key)
    assert "Traceback" not in caplog.text and key not in caplog.text


def test_bad_ids_are_400_before_the_connector_is_called(embedded):
    """An id that could not be EDC's (a dot segment, a quote, too long) never reaches EDC's URL."""
    provisioned_ports_and_key(embedded, "space-enforcer")  # nothing listens: a call would be a 503
    for path in ("negotiations/{}", "transfers/{}", "transfers/{}/data"):
        for bad in ("%2e%2e", "a'b", "x" * 129, "a%20b", "-lead"):
            answer = httpx.get(url(embedded, "space-enforcer", path.format(bad)), timeout=30)
            assert answer.status_code == 400, (path, bad, answer.text)
            assert "is not an EDC id" in answer.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("negotiations", b"not json", "request body is not valid JSON"),
        ("negotiations", b"[1]", "request body must be a JSON object"),
        ("negotiations", b"{}", "request body needs datasetId, provider"),
        ("negotiations", b'{"provider": "interstellar-assembly"}', "request body needs datasetId"),
        ("negotiations", b'{"provider": "interstellar-assembly", "datasetId": "d", "policy": {}}',
         "unknown field(s) in request body: 'policy' (allowed: datasetId, provider)"),
        ("negotiations", b'{"provider": 7, "datasetId": "d"}', "invalid request body: provider: must be a string"),
        ("negotiations", b'{"provider": "interstellar-assembly", "datasetId": "../x"}',
         "invalid request body: datasetId: must be an id"),
        ("transfers", b'{"agreementId": "a b"}', "invalid request body: agreementId: must be an id"),
        ("transfers", b'{"agreementId": "a", "transferType": "HttpData-PUSH"}',
         "unknown field(s) in request body: 'transferType' (allowed: agreementId)"),
    ],
)
def test_bad_bodies_are_400_naming_the_problem(embedded, path, body, expected):
    provisioned_ports_and_key(embedded, "space-enforcer")
    answer = httpx.post(url(embedded, "space-enforcer", path), content=body, headers=AUTH, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == expected
    assert_clean(answer)


def test_a_large_body_is_413(embedded):
    body = b'{"provider": "interstellar-assembly", "datasetId": "' + b"x" * 5000 + b'"}'
    answer = httpx.post(url(embedded, "space-enforcer", "negotiations"), content=body, headers=AUTH, timeout=30)
    assert answer.status_code == 413 and "the limit is 4096" in answer.json()["error"]


def test_negotiating_with_oneself_is_400(embedded):
    provisioned_ports_and_key(embedded, "space-enforcer")
    body = {"provider": "space-enforcer", "datasetId": "d-1"}
    answer = httpx.post(url(embedded, "space-enforcer", "negotiations"), json=body, headers=AUTH, timeout=30)
    assert answer.status_code == 400 and "cannot negotiate with itself" in answer.json()["error"]


def test_an_unknown_provider_is_404(embedded):
    provisioned_ports_and_key(embedded, "space-enforcer")
    body = {"provider": "no-such-company", "datasetId": "d-1"}
    answer = httpx.post(url(embedded, "space-enforcer", "negotiations"), json=body, headers=AUTH, timeout=30)
    assert answer.status_code == 404 and "unknown participant 'no-such-company'" in answer.json()["error"]


def test_writes_need_the_token_reads_follow_the_read_rules(embedded):
    provisioned_ports_and_key(embedded, "space-enforcer")
    for path, body in WRITES.items():
        refused = httpx.post(url(embedded, "space-enforcer", path), json=body, timeout=30)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        wrong = httpx.post(url(embedded, "space-enforcer", path), json=body, timeout=30,
                           headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401
    # loopback, anonymous reads on: a read reaches the connector (which does not answer here)
    assert httpx.get(url(embedded, "space-enforcer", "assets"), timeout=30).status_code == 503


def test_reads_need_the_token_where_reads_are_closed(monkeypatch):
    monkeypatch.setenv("MVD_TARGETS", "embedded")
    monkeypatch.setenv("MVD_ANONYMOUS_READS", "false")
    with contextmanager(run_plane)(monkeypatch) as plane:
        for path in READS:
            answer = httpx.get(url(plane, "space-enforcer", path), timeout=30)
            assert answer.status_code == 401 and "reading needs it too" in answer.json()["error"], path
        assert httpx.get(url(plane, "space-enforcer", "assets"), headers=AUTH, timeout=30).status_code == 409


def test_the_routes_are_in_the_openapi_document():
    document = openapi.document()
    connector_routes = [r for r in ROUTES if "/connector/" in r.template]
    assert {(r.method, r.template.removeprefix("/api/participants/{participant}/connector/"))
            for r in connector_routes} == {
        ("GET", "assets"), ("GET", "catalog"), ("GET", "negotiations"), ("POST", "negotiations"),
        ("GET", "negotiations/{id}"), ("GET", "transfers"), ("POST", "transfers"), ("GET", "transfers/{id}"),
        ("GET", "transfers/{id}/data"),
    }
    for route in connector_routes:
        operation = document["paths"][route.template][route.method.lower()]
        assert {"404", "409", "502", "503", "504"} <= set(operation["responses"]), route.template
        assert operation["security"] == openapi.SECURITY["write" if route.method == "POST" else "read"]
    negotiate = document["paths"]["/api/participants/{participant}/connector/negotiations"]["post"]
    assert negotiate["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NegotiationRequest"}
    assert document["components"]["schemas"]["NegotiationRequest"]["additionalProperties"] is False
    assert set(negotiate["responses"]) >= {"201", "400", "401", "413"}
    data = document["paths"]["/api/participants/{participant}/connector/transfers/{id}/data"]["get"]
    assert data["responses"]["200"]["content"] == {"*/*": {"schema": {"type": "string", "format": "binary"}}}


def test_download_headers_never_let_relayed_bytes_render():
    name = connector.safe_filename('x"; filename="evil', "text/html")
    assert name == "x___filename__evil.html"
    headers = connector.download_headers(connector.Data(b"<script>", "text/html", name))
    assert headers["Content-Disposition"] == 'attachment; filename="x___filename__evil.html"'
    assert headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"


def test_participants_who_joined_are_providers_named_by_their_id(embedded):
    """A guest that joined since the last reset is a provider like a seed participant: the
    catalog asks it at the DSP address of its DID document, a negotiation may name it, and
    its DID reads back as its participant id in the history."""
    provisioned_ports_and_key(embedded, "space-enforcer")
    guest = Onboarded(
        did="did:web:guest.example.org",
        participant_id="guest-example-org",
        protocol_url="https://guest.example.org/api/dsp/2025-1",
        credential_service="https://guest.example.org/api/credentials",
        joined_at=utcnow(),
        source_address="192.0.2.7",
        invite_id=None,
    )
    open_store(embedded.settings).add(guest, cap=10, invite_token=None)
    opened = connector.open_connector(embedded.host.dataspace, "space-enforcer", embedded.settings)
    try:
        providers = {p.id: p for p in connector._providers(opened)}
        assert set(providers) == {"galactic-turbine", "interstellar-assembly", "guest-example-org"}
        assert providers["guest-example-org"].protocol == guest.protocol_url
        assert providers["guest-example-org"].did == guest.did
        assert opened.who(guest.did) == "guest-example-org"
    finally:
        opened.close()
    # once it is removed (DELETE or the reset), it is no provider any more
    open_store(embedded.settings).remove(guest.did, by="api")
    body = {"provider": "guest-example-org", "datasetId": "d-1"}
    answer = httpx.post(url(embedded, "space-enforcer", "negotiations"), json=body, headers=AUTH, timeout=30)
    assert answer.status_code == 404 and "unknown participant 'guest-example-org'" in answer.json()["error"]
