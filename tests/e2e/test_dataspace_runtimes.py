"""Issue 12's "Done when", checked from outside against a real `mvd serve` on the embedded
targets: every participant's EDC runtimes run as local processes.

One server (its own MVD_HOME) serves the first five tests in order: provision, a catalog request
driven by the test, a stranger refused, reset, teardown. A second one is SIGKILLed mid-provision.
What the tests know they learn as an outsider would: runtime processes from the process table
(psutil), their APIs from the settings file each one is started with (``-Dedc.fs.config``),
keys from the participants' vault files, DSP addresses and DIDs from the published DID documents.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from mvd_core.dataspace import load
from mvd_core.dataspace.datasets import dataset_bytes
from mvd_core.dataspace.models import DatasetOffer
from mvd_core.identity import keys
from mvd_core.identity.didweb import did_from_host_and_path
from mvd_core.identity.document import build_did_document
from mvd_core.platforms.processes import JavaCommand, ProcessPlatform
from mvd_core.platforms.secrets.local import LocalFileVault
from mvd_core.runtimes.participant import participant_runtimes, required_ports
from tests.e2e.conftest import ServeProcess, embedded_serve
from tests.fixtures.loopback import QuietHandler, serve
from tests.fixtures.polling import until
from tests.platforms.edc.harness import read_chunked

pytestmark = pytest.mark.timeout(420)

BASE_RUNTIME = "org.eclipse.edc.boot.system.runtime.BaseRuntime"
MANAGEMENT_CONTEXT = "https://w3id.org/edc/connector/management/v0.0.1"
DSP_PROTOCOL = "dataspace-protocol-http:2025-1"
RUN_TIMEOUT = 300.0
SEED = load(None)
PARTICIPANTS = [p.id for p in SEED.participants]
REQUESTER, PROVIDER = "space-enforcer", "galactic-turbine"


def expected_runtimes() -> set[tuple[str, str]]:
    """(participant, runtime) for what the seed blueprint declares: an identity hub and a
    connector each, one process per data plane replica, a standalone catalog where declared."""
    wanted = set()
    for p in SEED.participants:
        wanted |= {(p.id, "identityhub"), (p.id, "connector")}
        wanted |= {(p.id, f"dataplane-{i}") for i in range(p.runtimes.data_plane.replicas)}
        if p.runtimes.catalog is not None:
            wanted.add((p.id, "catalog"))
    return wanted


# ------------------------------------------------------------------ what runs, from outside


def read_properties(path: Path) -> dict[str, str]:
    settings = {}
    for line in path.read_text("utf-8").splitlines():
        if line and not line.startswith(("#", "!")):
            key, _, value = line.partition("=")
            settings[key] = re.sub(r"\\(.)", r"\1", value)
    return settings


@dataclass
class Runtime:
    """One EDC runtime process: who it belongs to and the settings file it was started with."""

    participant: str
    name: str
    process: psutil.Process
    settings: dict[str, str]

    def port(self, api: str) -> int:
        return int(self.settings[("web.http" if api == "default" else f"web.http.{api}") + ".port"])

    def url(self, api: str) -> str:
        path = self.settings[("web.http" if api == "default" else f"web.http.{api}") + ".path"]
        return f"http://localhost:{self.port(api)}{path}"

    def readiness(self) -> httpx.Response:
        return httpx.get(self.url("default") + "/check/readiness", timeout=10)


def runtimes(home: Path) -> dict[tuple[str, str], Runtime]:
    """Every live process running EDC's BaseRuntime with a settings file under ``home``."""
    found: dict[tuple[str, str], Runtime] = {}
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if BASE_RUNTIME not in cmdline or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        config = next((Path(a.split("=", 1)[1]) for a in cmdline if a.startswith("-Dedc.fs.config=")), None)
        if config is None or not config.is_relative_to(home):
            continue
        key = (config.parent.name, config.stem)
        assert key not in found, f"two processes run {key}: {found[key].process.pid} and {proc.pid}"
        found[key] = Runtime(config.parent.name, config.stem, proc, read_properties(config))
    return found


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:  # is_running checks the start time
                out.append(proc)
        except psutil.NoSuchProcess:
            pass
    return out


def assert_all_ready(home: Path, parent: int) -> dict[tuple[str, str], Runtime]:
    """Exactly the declared runtimes run, each a child of the serving `mvd` and ready."""
    running = runtimes(home)
    assert set(running) == expected_runtimes()
    for key, runtime in running.items():
        assert runtime.process.ppid() == parent, f"{key} is not a child of mvd serve (pid {parent}): an orphan"
        answer = runtime.readiness()
        assert answer.status_code == 200 and answer.json()["isSystemHealthy"] is True, (key, answer.text[:300])
    return running


# ------------------------------------------------------------------ the served dataspace


def start_serve(root: Path) -> ServeProcess:
    return embedded_serve(root)


def finish(sp: ServeProcess, run_id: str, timeout: float = RUN_TIMEOUT) -> dict:
    def ended(run: dict) -> bool:
        return run["status"] in ("completed", "failed")

    try:
        return sp.wait_run(run_id, ended, timeout=timeout)
    except AssertionError:
        run = sp.api("GET", f"/api/runs/{run_id}").json()
        stuck = {
            pid: [(s["name"], s["status"], s["detail"]) for s in p["steps"] if s["status"] != "done"]
            for pid, p in run["participants"].items()
        }
        readiness = {"/".join(key): probe(r) for key, r in runtimes(sp.home).items()}
        raise AssertionError(
            f"run {run_id} still {run['status']} after {timeout:g} s: {stuck}; readiness: {readiness}"
        ) from None


def probe(runtime: Runtime) -> int | str:
    try:
        return runtime.readiness().status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__


def submit(sp: ServeProcess, action: str) -> str:
    answer = sp.api("POST", f"/api/dataspace/{action}")
    assert answer.status_code == 202, answer.text
    return answer.json()["runId"]


def stop_and_sweep(sp: ServeProcess) -> None:
    """Stop the server; then no runtime of its home may be left (the kernel kills them with it)."""
    sp.stop()
    try:
        until("the runtimes to exit with mvd serve", lambda: not runtimes(sp.home), timeout=30)
    finally:
        for runtime in runtimes(sp.home).values():
            runtime.process.kill()


@dataclass
class Served:
    sp: ServeProcess
    provision: dict
    runs: dict[str, dict] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.sp.home

    def vault(self, participant: str, secret: str) -> str:
        return (self.home / "vaults" / participant / secret).read_text("utf-8")

    def did_json(self, participant: str) -> bytes:
        answer = httpx.get(f"{self.sp.url}/dids/{participant}/did.json", timeout=10)
        assert answer.status_code == 200, (participant, answer.status_code)
        return answer.content

    def document(self, participant: str) -> dict[str, Any]:
        return json.loads(self.did_json(participant))

    def credentials(self, participant: str) -> list[dict[str, Any]]:
        """What the participant's identity hub holds for it (identity API, the hub's admin key)."""
        hub = runtimes(self.home)[(participant, "identityhub")]
        did = self.document(participant)["id"]
        context = base64.urlsafe_b64encode(did.encode()).rstrip(b"=").decode()
        answer = httpx.get(
            f"{hub.url('identity')}/v1alpha/participants/{context}/credentials",
            headers={"x-api-key": self.vault(participant, "ih-superuser-apikey")},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text[:300]
        return answer.json()


def protocol_address(document: dict[str, Any]) -> str:
    return next(s["serviceEndpoint"] for s in document["service"] if s["type"] == "ProtocolEndpoint")


def request_catalog(management: str, api_key: str | None, provider: dict[str, Any]) -> httpx.Response:
    """POST /v3/catalog/request to a management API for the provider named by its DID document."""
    return httpx.post(
        f"{management}/v3/catalog/request",
        headers={"X-Api-Key": api_key} if api_key is not None else {},
        json={
            "@context": [MANAGEMENT_CONTEXT],
            "@type": "CatalogRequest",
            "counterPartyAddress": protocol_address(provider),
            "counterPartyId": provider["id"],
            "protocol": DSP_PROTOCOL,
        },
        timeout=60,
    )


def membership_ids(served: Served, participant: str) -> set[str]:
    issuer = served.document("issuer")["id"]
    held = set()
    for resource in served.credentials(participant):
        vc = resource["verifiableCredential"]["credential"]
        vc_issuer = vc["issuer"]["id"] if isinstance(vc["issuer"], dict) else vc["issuer"]
        if "MembershipCredential" in vc["type"] and vc_issuer == issuer:
            held.add(resource["id"])
    return held


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    sp = start_serve(tmp_path_factory.mktemp("runtimes"))
    try:
        run = finish(sp, submit(sp, "provision"))
        yield Served(sp, run)
    finally:
        stop_and_sweep(sp)


# ------------------------------------------------------------------ (a)-(e): one server


def test_provision_runs_every_declared_runtime_ready_with_identities_enrolled(served):
    run = served.provision
    assert run["status"] == "completed", run["failures"]
    assert run["failures"] == []  # the verify step's catalog requests included
    for pid in PARTICIPANTS:
        steps = {s["name"]: s for s in run["participants"][pid]["steps"]}
        assert {s["status"] for s in steps.values()} <= {"done", "skipped"}, (pid, steps)
        for name in ("vault", "did", "workloads", "rollout", "identity", "seed"):
            assert steps[name]["status"] == "done", (pid, steps[name])
        offers = len(SEED.participant(pid).offers)
        assert steps["seed"]["detail"] == f"{offers} assets, 1 policy, 1 contract definition created", steps["seed"]
    assert_all_ready(served.home, served.sp.proc.pid)
    assert_round_trip_per_provider(run)
    for pid in PARTICIPANTS:
        assert membership_ids(served, pid), f"{pid}'s identity hub holds no MembershipCredential from the issuer"


def test_a_participants_management_api_gets_anothers_catalog_over_dsp(served):
    connector = runtimes(served.home)[(REQUESTER, "connector")]
    key = served.vault(REQUESTER, "management-api-key")
    provider = served.document(PROVIDER)

    answer = request_catalog(connector.url("management"), key, provider)

    assert answer.status_code == 200, answer.text[:500]
    catalog = answer.json()
    assert catalog["@type"] == "Catalog"
    assert catalog["participantId"] == provider["id"]
    assert [s["endpointURL"] for s in catalog["service"]] == [protocol_address(provider)]
    assert request_catalog(connector.url("management"), None, provider).status_code == 401
    assert request_catalog(connector.url("management"), "not-" + key, provider).status_code == 401


# ------------------------------------------------------------------ the exchange, with plain httpx


def assert_round_trip_per_provider(run: dict) -> None:
    """The verify step says it pulled each provider's first dataset, equal to the seeded bytes."""
    proved = run["verified"]
    for p in SEED.participants:
        offer = p.offers[0]
        [line] = [line for line in proved if f"{p.id}'s {offer.id} " in line]
        assert f"pulled its {len(dataset_bytes(p.id, offer))} bytes" in line and "the seeded data" in line, line
    assert len(proved) == len(PARTICIPANTS)


def plain(item: dict[str, Any], key: str) -> Any:
    """A JSON-LD term as EDC's answers spell it: bare, or with a namespace prefix."""
    for name in (key, f"dcat:{key}", f"odrl:{key}", f"edc:{key}", f"https://w3id.org/edc/v0.0.1/ns/{key}"):
        if name in item:
            return item[name]
    return None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


class Management:
    """A participant's management API as an outsider finds it: the connector's settings file
    names the port, the vault file holds the key."""

    def __init__(self, served: Served, participant: str) -> None:
        self.participant = participant
        self.url = runtimes(served.home)[(participant, "connector")].url("management")
        self.key = served.vault(participant, "management-api-key")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        payload = None if body is None else {"@context": [MANAGEMENT_CONTEXT], **body}
        return httpx.request(method, self.url + path, json=payload, headers={"X-Api-Key": self.key}, timeout=60)

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.call(method, path, body)
        assert answer.status_code in (200, 201), (self.participant, method, path, answer.status_code, answer.text[:500])
        return answer.json()

    def query(self, entity: str) -> list[dict[str, Any]]:
        """Everything of a kind: POST /v3/<entity>/request."""
        return self.ok("POST", f"/v3/{entity}/request", {"@type": "QuerySpec", "offset": 0, "limit": 500})

    def state(self, entity: str, ident: str, wanted: str) -> dict[str, Any] | None:
        current = self.ok("GET", f"/v3/{entity}/{ident}")
        assert current["state"] != "TERMINATED", (self.participant, entity, current)
        return current if current["state"] == wanted else None


@dataclass
class Sink:
    """The test's HTTP endpoint: transfer callbacks (with their EDRs) and pushed data."""

    url: str
    started: dict[str, dict[str, Any]] = field(default_factory=dict)  # transfer id -> EDR data address
    pushed: dict[str, bytes] = field(default_factory=dict)  # path -> body


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    holder: list[Sink] = []

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "")
            body = read_chunked(self) if chunked else self.read_body()
            if self.path == "/callbacks":
                payload = json.loads(body)["payload"]
                holder[0].started[payload["transferProcessId"]] = payload["dataAddress"]["properties"]
            else:
                holder[0].pushed[self.path] = body
            return self.send(204)

    with serve(Handler) as url:
        holder.append(Sink(url))
        yield holder[0]


def negotiate(consumer: Management, provider: dict[str, Any], dataset: str) -> str:
    """Catalog over DSP, the dataset's first offer, a contract negotiation to FINALIZED: the agreement id."""
    catalog = request_catalog(consumer.url, consumer.key, provider)
    assert catalog.status_code == 200, catalog.text[:500]
    offered = {plain(d, "@id") or d["@id"]: d for d in as_list(plain(catalog.json(), "dataset"))}
    assert dataset in offered, (consumer.participant, sorted(offered))
    policy = as_list(plain(offered[dataset], "hasPolicy"))[0]
    started = consumer.ok(
        "POST",
        "/v3/contractnegotiations",
        {
            "@type": "ContractRequest",
            "counterPartyAddress": protocol_address(provider),
            "counterPartyId": provider["id"],
            "protocol": DSP_PROTOCOL,
            "policy": {**policy, "@type": "Offer", "assigner": provider["id"], "target": dataset},
        },
    )
    finalized = until(
        f"{consumer.participant}'s negotiation of {dataset} to finalize",
        lambda: consumer.state("contractnegotiations", started["@id"], "FINALIZED"),
        timeout=120,
    )
    return finalized["contractAgreementId"]


def transfer(consumer: Management, provider: dict[str, Any], agreement: str, kind: str, **extra: Any) -> str:
    started = consumer.ok(
        "POST",
        "/v3/transferprocesses",
        {
            "@type": "TransferRequest",
            "counterPartyAddress": protocol_address(provider),
            "protocol": DSP_PROTOCOL,
            "contractId": agreement,
            "transferType": kind,
            **extra,
        },
    )
    return started["@id"]


def pull(consumer: Management, provider: dict[str, Any], agreement: str, sink: Sink) -> bytes:
    """An HttpData-PULL transfer: STARTED, the EDR from the started callback, the bytes from the
    provider's data plane with its token."""
    callback = {
        "@type": "CallbackAddress",
        "transactional": False,
        "uri": f"{sink.url}/callbacks",
        "events": ["transfer.process.started"],
    }
    ident = transfer(consumer, provider, agreement, "HttpData-PULL", callbackAddresses=[callback])
    until(
        f"{consumer.participant}'s pull transfer to start",
        lambda: consumer.state("transferprocesses", ident, "STARTED"),
        timeout=120,
    )
    edr = until(f"the EDR of transfer {ident}", lambda: sink.started.get(ident), timeout=60)
    answer = httpx.get(plain(edr, "endpoint"), headers={"Authorization": plain(edr, "authorization")}, timeout=60)
    assert answer.status_code == 200, answer.text[:300]
    return answer.content


def offer_for(provider: str, index: int) -> DatasetOffer:
    offers = SEED.participant(provider).offers
    return offers[index % len(offers)]


def test_every_ordered_pair_negotiates_and_pulls_the_seeded_bytes_and_a_push_delivers_them(served, sink):
    documents = {pid: served.document(pid) for pid in PARTICIPANTS}
    pairs = [(a, b) for a in PARTICIPANTS for b in PARTICIPANTS if a != b]
    agreements: dict[tuple[str, str], tuple[str, DatasetOffer]] = {}
    for index, (consumer_id, provider_id) in enumerate(pairs):
        consumer, offer = Management(served, consumer_id), offer_for(provider_id, index)
        agreement = negotiate(consumer, documents[provider_id], offer.id)
        data = pull(consumer, documents[provider_id], agreement, sink)
        assert data == dataset_bytes(provider_id, offer), (consumer_id, provider_id, offer.id, len(data))
        agreements[(consumer_id, provider_id)] = (agreement, offer)

    consumer_id, provider_id = REQUESTER, "interstellar-assembly"
    agreement, offer = agreements[(consumer_id, provider_id)]
    consumer = Management(served, consumer_id)
    path = f"/push/{consumer_id}/{offer.id}"
    ident = transfer(
        consumer,
        documents[provider_id],
        agreement,
        "HttpData-PUSH",
        dataDestination={"@type": "DataAddress", "type": "HttpData", "baseUrl": sink.url + path},
    )
    until("the push transfer to complete", lambda: consumer.state("transferprocesses", ident, "COMPLETED"), timeout=120)
    assert until("the pushed bytes", lambda: sink.pushed.get(path), timeout=30) == dataset_bytes(provider_id, offer)


def crawled(runtime: Runtime) -> set[tuple[str, str]]:
    """(participant DID, dataset id) of every dataset a federated catalog has crawled."""
    answer = httpx.post(
        runtime.url("catalog") + "/v1alpha/catalog/query",
        json={"@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"}, "@type": "QuerySpec", "limit": 100},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:300]
    return {(plain(c, "participantId"), d["@id"]) for c in answer.json() for d in as_list(plain(c, "dataset"))}


def lists_everything(what: str, runtime: Runtime, expected: set[tuple[str, str]]) -> None:
    """Poll a federated catalog (within its crawl period) until it lists exactly ``expected``."""
    seen: list[set[tuple[str, str]]] = [set()]

    def complete() -> bool:
        seen.append(crawled(runtime))
        return seen[-1] == expected

    try:
        until(f"{what} to list every dataset", complete, timeout=90)
    except AssertionError:
        raise AssertionError(f"{what} lists {sorted(seen[-1])}, expected {sorted(expected)}") from None


def test_the_standalone_and_each_embedded_catalog_list_every_participants_datasets(served):
    dids = {pid: served.document(pid)["id"] for pid in PARTICIPANTS}
    expected = {(dids[p.id], o.id) for p in SEED.participants for o in p.offers}
    catalogs = {
        pid: "catalog" if SEED.participant(pid).runtimes.catalog is not None else "connector" for pid in PARTICIPANTS
    }
    assert catalogs == {
        "galactic-turbine": "catalog",
        "space-enforcer": "connector",
        "interstellar-assembly": "connector",
    }
    for pid, name in catalogs.items():
        lists_everything(f"{pid}'s {name}", runtimes(served.home)[(pid, name)], expected)

    def counted() -> dict[str, Any] | None:
        view = served.sp.api("GET", "/api/dataspace").json()
        found = {p["id"]: p["catalog"] for p in view["participants"]}
        return found if all(c["datasets"] == len(expected) for c in found.values()) else None

    found = until("the dashboard's catalog counts", counted, timeout=60)
    assert found == {pid: {"datasets": len(expected), "participants": 3, "note": None} for pid in PARTICIPANTS}
    status = subprocess.run(
        [sys.executable, "-m", "mvd_core", "status"],
        env={**served.sp.env, "COLUMNS": "300"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    assert status.stdout.count(f"finds {len(expected)} dataset(s) of 3 participant(s)") == 3, status.stdout


@dataclass
class Stranger:
    """A did:web the test serves, a context with its own key in a member's identity hub, one
    connector started by the test; never asks the issuer, so it holds no credential."""

    did: str
    management: str
    api_key: str
    presentation_queries: list[tuple[int, str]]  # what the providers' queries of its credential service got


@pytest.fixture
def stranger(served, tmp_path, edc_runtimes) -> Iterator[Stranger]:
    host = REQUESTER  # whose identity hub also holds the stranger's context
    hub = runtimes(served.home)[(host, "identityhub")]
    documents: dict[str, dict[str, Any]] = {}
    queries: list[tuple[int, str]] = []

    class Site(QuietHandler):
        def do_GET(self) -> None:
            if self.path in documents:
                return self.send(200, json.dumps(documents[self.path]).encode(), {"Content-Type": "application/json"})
            if self.path == "/participants.json":
                return self.send(200, b"[]", {"Content-Type": "application/json"})
            return self.send(404)

        def do_POST(self) -> None:
            # the stranger's credential service, relayed to the identity hub (and recorded)
            if not self.path.startswith("/credentials/"):
                return self.send(404)
            relayed = httpx.post(
                hub.url("credentials") + self.path.removeprefix("/credentials"),
                content=self.read_body(),
                headers={k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")},
                timeout=30,
            )
            queries.append((relayed.status_code, relayed.text))
            return self.send(relayed.status_code, relayed.content, {"Content-Type": "application/json"})

    seed_vault = LocalFileVault(served.home / "vaults" / host)
    platform = ProcessPlatform(tmp_path / "stranger-home", command=JavaCommand(edc_runtimes), stop_grace=10)
    with serve(Site) as site:
        did = did_from_host_and_path("localhost", int(site.rsplit(":", 1)[1]), ["stranger"])
        context = base64.urlsafe_b64encode(did.encode()).rstrip(b"=").decode()
        jwk = keys.ensure_participant_key(seed_vault, "stranger", "EC-P256")  # where the hub reads keys from
        created = httpx.post(
            f"{hub.url('identity')}/v1alpha/participants",
            headers={"x-api-key": served.vault(host, "ih-superuser-apikey")},
            json={
                "participantContextId": did,
                "did": did,
                "active": True,
                "roles": [],
                "key": {
                    "keyId": f"{did}#{jwk['kid']}",
                    "privateKeyAlias": keys.secret_name("stranger"),
                    "publicKeyJwk": {k: jwk[k] for k in ("kty", "crv", "x", "y")},
                    "type": "JsonWebKey2020",
                },
                "apiKeyAlias": "stranger-ih-apikey",
                "additionalProperties": {"clientSecret": "stranger-sts-client-secret"},
            },
            timeout=30,
        )
        assert created.status_code == 200, created.text[:300]

        shape = next(p for p in SEED.participants if p.id == host).model_copy(update={"id": "stranger"})
        wanted = {name: apis for name, apis in required_ports(shape).items() if name != "identityhub"}
        vault = LocalFileVault(tmp_path / "stranger-vault")
        vault.set("sts-client-secret", created.json()["clientSecret"])
        vault.set("management-api-key", api_key := secrets.token_urlsafe(24))
        specs = participant_runtimes(
            shape,
            did=did,
            issuer_did=served.document("issuer")["id"],
            participant_list_url=f"{site}/participants.json",
            vault_path=vault.root,
            ports={
                **platform.allocate_ports("stranger", wanted),
                "identityhub": {api: hub.port(api) for api in required_ports(shape)["identityhub"]},
            },
        )
        connector = next(s for s in specs if s.name == "connector")
        documents["/stranger/did.json"] = build_did_document(
            did,
            jwk,
            credential_service_url=f"{site}/credentials/v1/participants/{context}",
            protocol_url=connector.url("protocol") + "/2025-1",
        )
        try:
            assert platform.apply([connector]).started == ["connector"]
            # No HTTP request before EDC logs that it is ready: one that lands while Jetty maps a
            # context's servlet can leave that path answering 404 for good (seen with 0.15.1).
            log = tmp_path / "stranger-home" / "logs" / "stranger" / "connector.log"
            until(
                "the stranger's connector to log that it is ready",
                lambda: re.search(r"Runtime \S+ ready", log.read_text("utf-8", "replace")),
                timeout=120,
            )
            management = connector.url("management")
            yield Stranger(did, management, api_key, queries)
        finally:
            platform.stop("stranger")
            for secret in (keys.secret_name("stranger"), "stranger-ih-apikey", "stranger-sts-client-secret"):
                seed_vault.delete(secret)


def test_a_requester_without_the_issuers_credential_is_refused_while_a_member_is_served(served, stranger):
    provider = served.document(PROVIDER)

    refused = request_catalog(stranger.management, stranger.api_key, provider)

    assert refused.status_code == 502, refused.text[:500]
    [error] = refused.json()
    assert json.loads(error["message"])["code"] == "401"  # the provider's answer, relayed
    # the provider did verify who asks: it queried the stranger's credential service and got a
    # presentation, which holds no MembershipCredential
    assert stranger.presentation_queries, "the provider never asked for the stranger's credentials"
    for status, body in stranger.presentation_queries:
        assert status == 200, body[:300]
        for token in json.loads(body)["presentation"]:
            claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
            assert claims["vp"].get("verifiableCredential", []) == []

    member = runtimes(served.home)[(REQUESTER, "connector")]  # same identity hub, with the credential
    served_answer = request_catalog(member.url("management"), served.vault(REQUESTER, "management-api-key"), provider)
    assert served_answer.status_code == 200, served_answer.text[:500]
    assert served_answer.json()["participantId"] == provider["id"]


VERIFY_LINE = re.compile(r"catalog of (\S+) over DSP")


def exchange_state(served: Served) -> dict[str, dict[str, list[str]]]:
    """Per participant, the ids its connector holds of each kind of exchange state and seed."""
    found = {}
    for pid in PARTICIPANTS:
        api = Management(served, pid)
        found[pid] = {
            entity: sorted(item["@id"] for item in api.query(entity))
            for entity in (
                "contractnegotiations",
                "contractagreements",
                "transferprocesses",
                "assets",
                "policydefinitions",
                "contractdefinitions",
            )
        }
    return found


@pytest.mark.timeout(1200)
def test_reset_restarts_runtimes_reissues_credentials_and_keeps_dids_and_keys(served, sink):
    provider = served.document(PROVIDER)
    consumer = Management(served, REQUESTER)
    agreement = negotiate(consumer, provider, offer_for(PROVIDER, 0).id)
    pull(consumer, provider, agreement, sink)
    held = exchange_state(served)
    assert held[REQUESTER]["contractnegotiations"] and held[REQUESTER]["transferprocesses"]
    assert held[PROVIDER]["contractagreements"]
    before = runtimes(served.home)
    documents = {pid: served.did_json(pid) for pid in PARTICIPANTS}
    vault_files = {
        (pid, name): served.vault(pid, name)
        for pid in PARTICIPANTS
        for name in (keys.secret_name(pid), "management-api-key")
    }
    credentials = {pid: membership_ids(served, pid) for pid in PARTICIPANTS}
    log = served.home / "mvd.log"
    offset = log.stat().st_size

    run = finish(served.sp, submit(served.sp, "reset"))

    assert run["status"] == "completed" and run["failures"] == [], run["failures"]
    after = assert_all_ready(served.home, served.sp.proc.pid)
    old_pids = {r.process.pid for r in before.values()}
    assert not old_pids & {r.process.pid for r in after.values()}, "a runtime kept its process across the reset"
    assert not alive([r.process for r in before.values()])
    for pid in PARTICIPANTS:
        identity = next(s for s in run["participants"][pid]["steps"] if s["name"] == "identity")
        assert identity["status"] == "done", identity
        again = membership_ids(served, pid)
        assert again and not again & credentials[pid], f"{pid}: no MembershipCredential issued after the reset"
        assert served.did_json(pid) == documents[pid]
    assert {k: served.vault(*k) for k in vault_files} == vault_files
    with log.open("rb") as f:
        f.seek(offset)
        lines = [json.loads(line) for line in f.read().decode().splitlines() if line.startswith("{")]
    verified = {
        (rec["participant"], m.group(1))
        for rec in lines
        if rec.get("step") == "verify" and (m := VERIFY_LINE.search(rec.get("msg", "")))
    }
    assert verified == {(a, b) for a in PARTICIPANTS for b in PARTICIPANTS if a != b}
    assert_round_trip_per_provider(run)
    # Nothing from before the reset is left. What the connectors hold now is the verify step's
    # own round trips (each participant consumer of one and provider of another: two of each
    # kind) and exactly the seeded offers.
    for pid, state in exchange_state(served).items():
        for entity in ("contractnegotiations", "contractagreements", "transferprocesses"):
            assert not set(held[pid][entity]) & set(state[entity]), (pid, entity)
            assert len(state[entity]) == 2, (pid, entity, state[entity])
        assert state["assets"] == sorted(o.id for o in SEED.participant(pid).offers), pid
        assert state["policydefinitions"] == ["membership-required"], pid
        assert state["contractdefinitions"] == ["membership-offers"], pid
    seeds = {pid: next(s for s in run["participants"][pid]["steps"] if s["name"] == "seed") for pid in PARTICIPANTS}
    for pid, seed in seeds.items():
        offers = len(SEED.participant(pid).offers)
        assert seed["detail"] == f"{offers} assets, 1 policy, 1 contract definition created", seed

    second = finish(served.sp, submit(served.sp, "reset"))

    assert second["status"] == "completed" and second["failures"] == [], second["failures"]
    for pid, state in exchange_state(served).items():
        assert state["assets"] == sorted(o.id for o in SEED.participant(pid).offers), pid  # none twice


def test_teardown_leaves_no_runtime_process(served):
    before = [r.process for r in runtimes(served.home).values()]
    assert len(before) == len(expected_runtimes())

    run = finish(served.sp, submit(served.sp, "teardown"))

    assert run["status"] == "completed", run["failures"]
    assert runtimes(served.home) == {}
    assert alive(before) == []


# ------------------------------------------------------------------ (f): a second server


def test_sigkill_of_mvd_serve_mid_provision_leaves_no_orphan_and_the_run_completes_after_a_restart(tmp_path):
    sp = start_serve(tmp_path)
    try:
        run_id = submit(sp, "provision")

        def workloads_started(run: dict) -> bool:
            steps = [s for p in run["participants"].values() for s in p["steps"]]
            return run["status"] == "running" and any(s["name"] == "workloads" and s["status"] == "done" for s in steps)

        sp.wait_run(run_id, workloads_started, timeout=120)
        started = [r.process for r in runtimes(sp.home).values()]
        assert started, "no runtime process was running when mvd serve was killed"
        sp.kill()
        until("the runtimes to die with mvd serve", lambda: not alive(started) and not runtimes(sp.home), timeout=30)

        sp.start()
        run = finish(sp, run_id)

        assert run["status"] == "completed", run["failures"]
        assert run["failures"] == []
        assert_all_ready(sp.home, sp.proc.pid)  # each a child of the new server: none left from the old one
        assert alive(started) == []
    finally:
        stop_and_sweep(sp)
