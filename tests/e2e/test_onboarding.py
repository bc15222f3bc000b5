"""Issue 14's Done-when, end to end: a guest participant (tools/guest.py: its own keys, did:web
site, identity hub, connector and data plane) joins a real `mvd serve` on the embedded targets
through ``POST /api/participants``; the seed participants' catalogs list its dataset within one
crawl period; a seed participant negotiates and pulls from the guest, and the guest from a seed
participant. After `mvd reset` the guest is off the participant list and out of every catalog,
its credential is revoked in the issuer's status list, its DSP request to a seed participant is
refused, and the seed participants exchange data as before.

Two seed participants with one data plane each (the default blueprint's, as in
test_readme_exchange.py) plus the guest's three runtimes: nine JVMs for the module.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from mvd_core.dataspace import load
from mvd_core.dataspace.datasets import dataset_bytes
from mvd_core.identity.statuslist import StatusList, decode
from mvd_core.platforms.edc import EdcApiError, ManagementApi
from mvd_core.platforms.edc.exchange import round_trip
from mvd_core.platforms.edc.management import FederatedCatalog
from mvd_core.platforms.processes import ProcessPlatform
from mvd_core.runtimes.participant import CRAWLER_PERIOD, REVOCATION_CACHE_MS
from tests.e2e.conftest import ServeProcess, embedded_serve
from tests.e2e.test_readme_exchange import two_participants
from tests.fixtures.guest import DATA, DATASET, Guest, running_guest
from tests.fixtures.polling import until

pytestmark = pytest.mark.timeout(900)

SEEDS = ("space-enforcer", "interstellar-assembly")
CRAWL = int(CRAWLER_PERIOD) + 20  # one crawl period, plus a DSP round trip per participant under load


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("onboarding")
    sp = embedded_serve(
        root,
        two_participants(root / "dataspace.yaml"),
        # the guest's did:web is on this machine: the explicit settings for local demos
        MVD_ALLOW_HTTP_LOOPBACK="true",
        MVD_ALLOW_PRIVATE_HOSTS="true",
        MVD_ONBOARDING="open",
    )
    try:
        run_id = sp.api("POST", "/api/dataspace/provision").json()["runId"]
        run = sp.wait_run(run_id, lambda r: r.get("status") in ("completed", "failed"), timeout=500)
        assert run["status"] == "completed", run
        yield sp
    finally:
        sp.stop()


@pytest.fixture(scope="module")
def guest(served, tmp_path_factory, edc_runtimes) -> Iterator[Guest]:
    with running_guest(tmp_path_factory.mktemp("guest"), f"http://localhost:{served.port}", edc_runtimes) as g:
        yield g


def endpoints(sp: ServeProcess) -> dict:
    return sp.api("GET", "/api/dataspace/endpoints").json()


def seed_management(sp: ServeProcess, participant: str) -> ManagementApi:
    entry = endpoints(sp)["participants"][participant]
    key = Path(entry["managementApiKeyFile"]).read_text().strip()
    return ManagementApi(entry["management"], runtime=f"{participant}/connector", api_key=key)


def catalog_datasets(sp: ServeProcess, participant: str) -> dict[str, set[str]]:
    """What the participant's federated catalog has crawled: participant DID -> dataset ids."""
    ports = ProcessPlatform(sp.home).recorded_ports(participant)
    runtime = "catalog" if "catalog" in ports else "connector"
    api = FederatedCatalog(f"http://localhost:{ports[runtime]['catalog']}/api/catalog", runtime=participant)
    try:
        return {c.participant_id or "": {d.id for d in c.datasets} for c in api.query()}
    except EdcApiError:
        return {}
    finally:
        api.close()


def listed(sp: ServeProcess) -> set[str]:
    return {p["id"] for p in httpx.get(f"{sp.url}/api/dataspace/participants.json", timeout=30).json()}


def pulled(consumer: ManagementApi, provider: dict[str, str], dataset: str) -> bytes:
    """The bytes ``consumer`` gets for ``dataset`` of ``provider`` (its ``protocol`` and ``did``):
    catalog over DSP, negotiation, HttpData-PULL, the data plane's answer."""
    trip = round_trip(
        consumer,
        provider_protocol_url=provider["protocol"],
        provider_did=provider["did"],
        dataset_id=dataset,
        timeout=240,
    )
    return trip.data


def seed_offer(participant: str) -> tuple[str, bytes]:
    seed = load(None).participant(participant)
    offer = seed.offers[0]
    return offer.id, dataset_bytes(seed.id, offer)


def test_a_guest_joins_exchanges_data_both_ways_and_is_gone_after_a_reset(served, guest):
    sp = served
    # 1. it joins through the API: every check named, all passed
    answer = sp.api("POST", "/api/participants", json={"did": guest.did})
    assert answer.status_code == 201, answer.text
    checks = answer.json()["checks"]
    assert [c["name"] for c in checks if not c["ok"]] == [], checks
    assert {"dsp", "issuer", "listed"} <= {c["name"] for c in checks}
    assert guest.did in listed(sp)
    # the guest asks for its MembershipCredential itself, then offers its dataset
    assert guest.join(timeout=60)

    # 2. within one crawl period every seed participant's catalog lists the guest's dataset
    for seed in SEEDS:
        until(
            f"{seed}'s catalog to list {DATASET} of the guest",
            lambda seed=seed: DATASET in catalog_datasets(sp, seed).get(guest.did, set()),
            timeout=CRAWL,
        )

    # 3. a seed participant negotiates and pulls from the guest; the guest from a seed participant
    provider_id, provider_bytes = seed_offer(SEEDS[1])
    seeds = endpoints(sp)["participants"]
    with closing(seed_management(sp, SEEDS[0])) as seed_api, closing(guest.management()) as guest_api:
        assert pulled(seed_api, {"protocol": guest.protocol_url, "did": guest.did}, DATASET) == DATA
        assert pulled(guest_api, seeds[SEEDS[1]], provider_id) == provider_bytes

    # 4. `mvd reset`: the guest is removed, its credential revoked
    reset = subprocess.run(
        ["mvd", "reset", "--wait"], check=False, env=sp.env, capture_output=True, text=True, timeout=600
    )
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert guest.did not in listed(sp)
    status = httpx.get(f"{sp.url}/issuer/status/membership", timeout=30).json()
    revoked = decode(status["credentialSubject"]["encodedList"])
    issued = StatusList(sp.home / "issuer-status.sqlite").entries(guest.did)
    assert issued and {e["idx"] for e in issued} <= revoked, (issued, revoked)
    view = sp.api("GET", "/api/participants").json()
    assert guest.did not in {p["did"] for p in view["participants"]}
    assert guest.did in {p["did"] for p in view["removed"]}

    # its request to a seed participant is refused (within the status list's cache period)
    def refused() -> str | None:
        with closing(guest.management()) as api:
            try:
                api.request_catalog(seeds[SEEDS[1]]["protocol"], seeds[SEEDS[1]]["did"])
            except EdcApiError as exc:
                return str(exc)
        return None

    until("a seed participant to refuse the removed guest", refused, timeout=int(REVOCATION_CACHE_MS) / 1000 + 30)

    # the seed participants' catalogs crawl again (restarted by the reset) without the guest
    for seed in SEEDS:
        crawled = until(
            f"{seed}'s catalog to crawl the seed participants again",
            lambda seed=seed: (found := catalog_datasets(sp, seed)) and len(found) >= 1 and found,
            timeout=CRAWL + 60,
        )
        assert guest.did not in crawled and all(DATASET not in ids for ids in crawled.values()), crawled

    # and they exchange data as before
    with closing(seed_management(sp, SEEDS[0])) as seed_api:
        assert pulled(seed_api, seeds[SEEDS[1]], provider_id) == provider_bytes
