"""Joining and leaving (``/api/participants``) on a real `mvd serve` in this process, with no EDC
runtime: newcomers are loopback HTTP servers serving their did:web documents and a DSP catalog
endpoint that answers only requests addressed to their own DID; the seed participant that asks
them is a stand-in of its connector's management API on the port a provision recorded for it,
which relays a catalog request to the newcomer's DSP address the way EDC does (the newcomer's
refusal comes back as a 502). The success path with real runtimes is tests/e2e/test_onboarding*.py.

Every refusal is checked to change nothing: the participant list every catalog crawls, the
onboarding store and the issuer's member set are as before, and the answer names the check."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from mvd_core.onboarding import open_store
from mvd_core.plan.desired import dataspace_dids
from mvd_core.workflow import offboard, runtimes
from tests.api.test_connector import provisioned_ports_and_key
from tests.e2e.conftest import TOKEN, Plane, run_plane
from tests.fixtures.emulators import free_port
from tests.fixtures.loopback import QuietHandler, serve

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ASKER = "interstellar-assembly"  # the first seed participant: its connector asks newcomers
CHECKS = ["ready", "rate", "admission", "capacity", "did", "new", "resolves", "services", "dsp", "issuer", "listed"]


@dataclass
class Newcomers:
    """did:web documents at /<name>/did.json, and DSP endpoints at /dsp/<name>/2025-1 that answer
    a catalog request only when it is addressed to ``answers_for[name]`` (the DID they run as)."""

    url: str = ""
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers_for: dict[str, str] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return "localhost%3A" + str(urlsplit(self.url).port)

    def did(self, name: str) -> str:
        return f"did:web:{self.host}:{name}"

    def add(self, name: str, *, services: bool = True, dsp: str | None = None, answers_for: str | None = None) -> str:
        did = self.did(name)
        port = urlsplit(self.url).port
        document: dict[str, Any] = {"@context": ["https://www.w3.org/ns/did/v1"], "id": did, "verificationMethod": []}
        if services:
            document["service"] = [
                {"id": "dsp", "type": "ProtocolEndpoint", "serviceEndpoint": dsp or f"http://localhost:{port}/dsp/{name}/2025-1"},
                {"id": "cs", "type": "CredentialService", "serviceEndpoint": f"http://localhost:{port}/cs/{name}"},
            ]
        self.documents[name] = document
        self.answers_for[name] = answers_for or did
        return did


@pytest.fixture
def newcomers() -> Iterator[Newcomers]:
    state = Newcomers()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            state.fetched.append(self.path)
            name = self.path.strip("/").removesuffix("/did.json")
            if name in state.documents and self.path.endswith("/did.json"):
                self.send(200, json.dumps(state.documents[name]).encode(), {"Content-Type": "application/did+json"})
            else:
                self.send(404, b"no such document")

        def do_POST(self) -> None:
            body = json.loads(self.read_body() or b"{}")
            parts = self.path.strip("/").split("/")
            if parts[0] == "dsp" and parts[2:] == ["2025-1", "catalog", "request"]:
                name = parts[1]
                # the stand-in of a DCP token: the audience the asker's connector addressed
                if self.headers.get("X-Audience") == state.answers_for.get(name):
                    catalog = {"@id": f"catalog-{name}", "participantId": body.get("audience"), "dataset": []}
                    self.send(200, json.dumps(catalog).encode(), {"Content-Type": "application/json"})
                    return
                self.send(401, b'{"error": "Unauthorized: the token is not for this participant"}')
                return
            self.send(404, b"")

    with serve(Handler) as url:
        state.url = url.replace("127.0.0.1", "localhost")
        yield state


class ManagementStandIn(QuietHandler):
    """POST /v3/catalog/request as EDC's management API answers it: the counter-party's catalog
    asked over DSP (here an HTTP POST carrying the audience), its refusal relayed as a 502."""

    api_key = ""

    def do_POST(self) -> None:
        if self.headers.get("X-Api-Key") != self.api_key:
            self.send(401, b'[{"message": "unauthorized"}]')
            return
        request = json.loads(self.read_body() or b"{}")
        if not self.path.endswith("/v3/catalog/request"):
            self.send(404, b"[]")
            return
        address, audience = request["counterPartyAddress"], request["counterPartyId"]
        try:
            answer = httpx.post(
                f"{address}/catalog/request", json={"audience": audience}, headers={"X-Audience": audience}, timeout=5
            )
        except httpx.HTTPError as exc:
            self.send(502, json.dumps([{"message": f"{type(exc).__name__}", "type": "CatalogError"}]).encode())
            return
        if answer.status_code != 200:
            problem = [{"message": f"{answer.status_code} {answer.text}", "type": "CatalogError"}]
            self.send(502, json.dumps(problem).encode(), {"Content-Type": "application/json"})
            return
        self.send(200, answer.content, {"Content-Type": "application/json"})


def start_asker(plane: Plane) -> ThreadingHTTPServer:
    """The seed participant's management API on the port a provision recorded for it."""
    key = provisioned_ports_and_key(plane, ASKER)
    participant = plane.host.dataspace.participant(ASKER)
    did = dataspace_dids(plane.host.dataspace, plane.settings)[ASKER]
    specs = runtimes.specs(participant, did, plane.settings)
    port = urlsplit(runtimes.management_url(specs)).port
    handler = type("Asker", (ManagementStandIn,), {"api_key": key})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def plane_with(monkeypatch, **env: str) -> Iterator[Plane]:
    monkeypatch.setenv("MVD_TARGETS", "embedded")
    monkeypatch.setenv("MVD_ALLOW_HTTP_LOOPBACK", "true")
    monkeypatch.setenv("MVD_ALLOW_PRIVATE_HOSTS", "true")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for plane in run_plane(monkeypatch):
        server = start_asker(plane)
        try:
            yield plane
        finally:
            server.shutdown()
            server.server_close()


def run_plane_embedded(monkeypatch) -> Iterator[Plane]:
    monkeypatch.setenv("MVD_TARGETS", "embedded")
    monkeypatch.setenv("MVD_ALLOW_HTTP_LOOPBACK", "true")
    monkeypatch.setenv("MVD_ALLOW_PRIVATE_HOSTS", "true")
    for plane in run_plane(monkeypatch):
        provisioned_ports_and_key(plane, ASKER)
        yield plane


@pytest.fixture
def plane(monkeypatch) -> Iterator[Plane]:
    yield from plane_with(monkeypatch)


def join(plane: Plane, did: str, **extra: Any) -> httpx.Response:
    return httpx.post(f"{plane.url}/api/participants", json={"did": did, **extra}, timeout=30)


def listed(plane: Plane) -> list[str]:
    return [n["id"] for n in httpx.get(f"{plane.url}/api/dataspace/participants.json", timeout=10).json()]


def snapshot(plane: Plane) -> tuple[list[str], list[str], frozenset[str]]:
    """What a refusal must leave as it was: the participant list, the store, the issuer's members."""
    store = open_store(plane.settings)
    members = frozenset(offboard.issuer(plane.host.dataspace, plane.settings).members())
    return listed(plane), [e.did for e in store.active()], members


def assert_refused(answer: httpx.Response, status: int, check: str, words: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["participant"] is None
    assert body["checks"][-1]["name"] == check and body["checks"][-1]["ok"] is False, body["checks"]
    assert all(c["ok"] for c in body["checks"][:-1])
    assert words in body["checks"][-1]["detail"] and words in body["error"], body
    assert "Traceback" not in answer.text and TOKEN not in answer.text


def test_a_newcomer_joins_with_every_check_shown_and_leaves_with_delete(plane, newcomers):
    did = newcomers.add("guest")
    before = listed(plane)
    answer = join(plane, did)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert [c["name"] for c in body["checks"]] == CHECKS
    assert all(c["ok"] for c in body["checks"])
    dsp = next(c for c in body["checks"] if c["name"] == "dsp")["detail"]
    assert f"{ASKER}'s connector asked" in dsp and did in dsp
    pid = f"localhost-{urlsplit(newcomers.url).port}-guest"
    assert body["participant"]["id"] == pid and body["participant"]["kind"] == "onboarded"
    assert answer.headers["location"] == f"/api/participants/{quote(did, safe='')}"

    # listed where every catalog crawls, and a member for the issuer
    assert listed(plane) == before + [did]
    node = httpx.get(f"{plane.url}/api/dataspace/participants.json", timeout=10).json()[-1]
    assert node["name"] == pid and node["url"] == f"http://localhost:{urlsplit(newcomers.url).port}/dsp/guest/2025-1"
    assert did in offboard.issuer(plane.host.dataspace, plane.settings).members()

    view = httpx.get(f"{plane.url}/api/participants", timeout=10).json()
    kinds = {p["did"]: p["kind"] for p in view["participants"]}
    assert list(kinds.values()).count("seed") == len(plane.host.dataspace.participants)
    guest = next(p for p in view["participants"] if p["did"] == did)
    assert guest["joinedAt"] and guest["removesAt"] == view["nextReset"] and view["nextReset"]
    assert view["onboarded"] == 1 and view["onboarding"] == "open"

    # leaving: the token is needed, seed participants are never removed this way
    path = f"{plane.url}/api/participants/{quote(did, safe='')}"
    assert httpx.delete(path, timeout=10).status_code == 401
    seed_did = dataspace_dids(plane.host.dataspace, plane.settings)[ASKER]
    seed = httpx.delete(f"{plane.url}/api/participants/{quote(seed_did, safe='')}", headers=AUTH, timeout=10)
    assert seed.status_code == 403 and "seed participant" in seed.json()["error"]
    assert httpx.delete(f"{plane.url}/api/participants/{ASKER}", headers=AUTH, timeout=10).status_code == 403
    gone = httpx.delete(path, headers=AUTH, timeout=30)
    assert gone.status_code == 200, gone.text
    assert gone.json()["removed"]["did"] == did and gone.json()["removed"]["revoked"] is True
    assert listed(plane) == before
    assert did not in offboard.issuer(plane.host.dataspace, plane.settings).members()
    again = httpx.delete(path, headers=AUTH, timeout=10)
    assert again.status_code == 404 and "not an onboarded participant" in again.json()["error"]
    view = httpx.get(f"{plane.url}/api/participants", timeout=10).json()
    assert [p["did"] for p in view["removed"]] == [did] and view["removed"][0]["removedBy"] == "api"
    # it may join again (until the next reset)
    assert join(plane, did).status_code == 201


def test_a_did_that_does_not_resolve_is_refused_and_changes_nothing(plane, newcomers, caplog):
    before = snapshot(plane)
    assert_refused(join(plane, newcomers.did("nobody")), 422, "resolves", "does not resolve")
    assert_refused(join(plane, "did:web:no-such-host.invalid"), 422, "resolves", "cannot resolve host")
    assert snapshot(plane) == before
    assert not [r for r in caplog.records if r.exc_info], "a refusal logged a traceback"


def test_not_a_did_web_is_refused(plane):
    before = snapshot(plane)
    assert_refused(join(plane, "did:key:z6Mkabc"), 400, "did", "only did:web")
    assert_refused(join(plane, "did:web:127.0.0.1"), 400, "did", "IP address")
    assert snapshot(plane) == before


def test_a_document_without_the_services_is_refused(plane, newcomers):
    did = newcomers.add("bare", services=False)
    before = snapshot(plane)
    assert_refused(join(plane, did), 422, "services", "names no ProtocolEndpoint")
    assert snapshot(plane) == before


def test_a_dsp_endpoint_that_does_not_answer_for_that_did_is_refused(plane, newcomers):
    # its DSP endpoint answers for another DID: the catalog request addressed to this one is refused
    impostor = newcomers.add("impostor", answers_for=newcomers.did("someone-else"))
    # its DSP address has nothing listening
    silent = newcomers.add("silent", dsp=f"http://localhost:{free_port()}/dsp/silent/2025-1")
    before = snapshot(plane)
    answer = join(plane, impostor)
    assert_refused(answer, 422, "dsp", "got no catalog")
    assert "401" in answer.json()["error"]
    assert_refused(join(plane, silent), 422, "dsp", "got no catalog")
    assert "management" not in answer.json()["error"]  # what the newcomer said, not where the seed's API runs
    assert snapshot(plane) == before


def test_a_seed_connector_that_does_not_answer_is_a_503(monkeypatch, newcomers):
    for plane in run_plane_embedded(monkeypatch):  # ports and key recorded, nothing listening
        did = newcomers.add("guest")
        before = snapshot(plane)
        assert_refused(join(plane, did), 503, "dsp", "connector does not answer")
        assert snapshot(plane) == before


def test_a_duplicate_is_refused_before_anything_is_fetched(plane, newcomers):
    did = newcomers.add("guest")
    assert join(plane, did).status_code == 201
    before, fetched = snapshot(plane), len(newcomers.fetched)
    assert_refused(join(plane, did), 409, "new", "already a participant")
    seed_did = dataspace_dids(plane.host.dataspace, plane.settings)[ASKER]
    assert_refused(join(plane, seed_did), 409, "new", "already in this dataspace")
    assert snapshot(plane) == before and len(newcomers.fetched) == fetched


@pytest.fixture
def private_plane(monkeypatch) -> Iterator[Plane]:
    yield from plane_with(monkeypatch, MVD_ALLOW_PRIVATE_HOSTS="false", MVD_ALLOW_HTTP_LOOPBACK="false")


def test_a_private_host_is_refused_unless_allowed(private_plane, newcomers):
    did = newcomers.add("guest")
    before = snapshot(private_plane)
    assert_refused(join(private_plane, did), 403, "did", "127.0.0.1")
    assert newcomers.fetched == []  # refused on the host's addresses, before any request
    assert snapshot(private_plane) == before


@pytest.fixture
def invite_plane(monkeypatch) -> Iterator[Plane]:
    yield from plane_with(monkeypatch, MVD_ONBOARDING="invite")


def test_invites_bad_used_and_missing_are_refused(invite_plane, newcomers, caplog):
    plane = invite_plane
    caplog.set_level(logging.DEBUG)
    first, second = newcomers.add("first"), newcomers.add("second")
    before = snapshot(plane)
    assert_refused(join(plane, first), 403, "admission", "by invite only")
    assert_refused(join(plane, first, invite="mvdi_" + "x" * 32), 403, "admission", "not one this control plane issued")
    assert_refused(join(plane, first, invite="let-me-in"), 403, "admission", "not an invite token")
    assert snapshot(plane) == before

    made = httpx.post(f"{plane.url}/api/participants/invites", json={"expiresInSeconds": 3600}, headers=AUTH, timeout=10)
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert httpx.post(f"{plane.url}/api/participants/invites", json={}, timeout=10).status_code == 401
    # the token is stored hashed: not in the store's file
    assert token.encode() not in (plane.settings.home / "onboarding.db").read_bytes()

    assert join(plane, first, invite=token).status_code == 201
    before = snapshot(plane)
    assert_refused(join(plane, second, invite=token), 403, "admission", "already used")
    assert snapshot(plane) == before
    assert [p["did"] for p in httpx.get(f"{plane.url}/api/participants", timeout=10).json()["participants"][-1:]] == [first]
    assert token not in caplog.text and made.json()["id"] in caplog.text  # the log names the invite, never its token


def test_an_expired_invite_is_refused(invite_plane, newcomers):
    from datetime import timedelta

    token, _ = open_store(invite_plane.settings).create_invite(timedelta(seconds=-1))
    did = newcomers.add("late")
    before = snapshot(invite_plane)
    assert_refused(join(invite_plane, did, invite=token), 403, "admission", "expired")
    assert snapshot(invite_plane) == before


@pytest.fixture
def limited_plane(monkeypatch) -> Iterator[Plane]:
    yield from plane_with(monkeypatch, MVD_ONBOARDING_RATE_LIMIT="2", MVD_ONBOARDING_MAX_PARTICIPANTS="1")


def test_the_rate_limit_and_the_cap(limited_plane, newcomers):
    plane = limited_plane
    one, two = newcomers.add("one"), newcomers.add("two")
    assert join(plane, one).status_code == 201
    before = snapshot(plane)
    assert_refused(join(plane, two), 409, "capacity", "its cap")
    answer = join(plane, two)
    assert_refused(answer, 429, "rate", "2 join attempts")
    assert 1 <= int(answer.headers["retry-after"]) <= 3600
    assert snapshot(plane) == before


def test_closed_onboarding_and_bad_bodies(monkeypatch, newcomers):
    for plane in plane_with(monkeypatch, MVD_ONBOARDING="closed"):
        did = newcomers.add("guest")
        before = snapshot(plane)
        assert_refused(join(plane, did), 403, "admission", "closed")
        for body in (b"[]", b"{", b'{"did": 5}', b'{"did": "did:web:x", "extra": 1}', b'{"did": "' + b"a" * 600 + b'"}'):
            answer = httpx.post(f"{plane.url}/api/participants", content=body, timeout=10)
            assert answer.status_code == 400, (body, answer.text)
            assert answer.json()["checks"] == [] and answer.json()["error"]
        assert snapshot(plane) == before


def test_without_a_running_seed_connector_joins_are_refused(monkeypatch, newcomers):
    """Simulated clusters (and the Functions app): no connector here can ask the newcomer."""
    for plane in run_plane(monkeypatch):
        did = newcomers.add("guest")
        answer = join(plane, did)
        assert_refused(answer, 409, "ready", "no seed participant's connector runs")
        assert not (plane.settings.home / "onboarding.db").exists()


def test_joining_is_public_where_reading_needs_the_token(monkeypatch, newcomers):
    """POST /api/participants needs no token even where every read does; GET on the same path does."""
    monkeypatch.setenv("MVD_ANONYMOUS_READS", "false")
    for plane in run_plane_embedded(monkeypatch):
        did = newcomers.add("guest")
        assert httpx.get(f"{plane.url}/api/participants", timeout=10).status_code == 401
        assert httpx.get(f"{plane.url}/api/participants", headers=AUTH, timeout=10).status_code == 200
        answer = join(plane, did)  # no token: it reaches the checks (and stops at the silent seed connector)
        assert_refused(answer, 503, "dsp", "connector does not answer")
