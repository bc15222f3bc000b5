"""A data exchange between two REAL members (issue 13 item 3), through the consumer's management
API only: the provider (space-enforcer: identity hub, connector, data plane) offers an HttpData
asset whose source is a file the test serves; the consumer (interstellar-assembly: identity hub,
connector) finds it in the provider's catalog over DSP, negotiates it to FINALIZED, and

- pulls it: STARTED, the EDR from ``GET /v3/edrs/{id}/dataaddress`` (our mvd-edr-api extension),
  the bytes from the provider's data plane, equal to what the source serves;
- has it pushed to an HTTP endpoint the test runs (the data plane sends it chunked): COMPLETED.

A tampered EDR token is refused by the data plane; the EDR endpoint wants the management API key.
Five JVMs, shared with test_revocation.py (conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from mvd_core.platforms.edc import EdcApiError, ManagementApi
from mvd_core.platforms.edc.exchange import fetch_data, negotiate, pull, push, round_trip
from tests.platforms.edc.harness import SHARED_DATA as DATA
from tests.platforms.edc.harness import SHARED_DATASET as DATASET
from tests.platforms.edc.harness import TwoMembers

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def space(shared_members) -> TwoMembers:
    """The package's two-member dataspace (conftest.py), the provider offering DATASET only."""
    return shared_members.get()


@pytest.fixture(scope="module")
def consumer(space) -> Iterator[ManagementApi]:
    api = space.members[TwoMembers.CONSUMER].management()
    api.wait_until_serving()
    yield api
    api.close()


@pytest.fixture(scope="module")
def agreement(space, consumer) -> str:
    provider = space.members[TwoMembers.PROVIDER]
    negotiation = negotiate(
        consumer,
        provider_protocol_url=provider.protocol_url,
        provider_did=provider.did,
        dataset_id=DATASET,
        timeout=180,
    )
    assert negotiation.state == "FINALIZED" and negotiation.counter_party_id == provider.did
    return negotiation.contract_agreement_id


def test_a_round_trip_pulls_the_bytes_the_providers_source_serves(space, consumer):
    provider = space.members[TwoMembers.PROVIDER]
    trip = round_trip(
        consumer,
        provider_protocol_url=provider.protocol_url,
        provider_did=provider.did,
        dataset_id=DATASET,
        timeout=240,
    )
    assert trip.data == DATA
    # the provider's data plane fetched it from the asset's source
    assert (f"/data/{DATASET}",) == tuple({path for path, _ in space.site.served})

    # read-backs: the consumer's history and the provider's assets
    negotiations = {n.id: n for n in consumer.negotiations()}
    assert negotiations[trip.negotiation_id].state == "FINALIZED"
    assert negotiations[trip.negotiation_id].contract_agreement_id == trip.agreement_id
    transfers = {t.id: t for t in consumer.transfers()}
    assert transfers[trip.transfer_id].state == "STARTED"
    assert transfers[trip.transfer_id].transfer_type == "HttpData-PULL"
    assert transfers[trip.transfer_id].contract_id == trip.agreement_id
    with closing(provider.management()) as api:
        [asset] = [a for a in api.assets() if a.id == DATASET]
        assert asset.properties["name"] == DATASET

    edr = consumer.edr(trip.transfer_id)
    assert edr.endpoint.startswith(space.members[TwoMembers.PROVIDER].specs["dataplane-0"].url("public"))
    assert edr.authorization.get_secret_value() not in repr(edr)


def test_a_push_transfer_delivers_the_bytes_to_an_http_endpoint(space, consumer, agreement):
    received: list[tuple[dict[str, str], bytes]] = []

    def sink(headers: dict[str, str], body: bytes) -> tuple[int, bytes, dict[str, str]]:
        received.append((headers, body))
        return 200, b"", {}

    space.site.posts["/sink/push"] = sink
    provider = space.members[TwoMembers.PROVIDER]
    transfer = push(
        consumer,
        provider_protocol_url=provider.protocol_url,
        agreement_id=agreement,
        destination_url=f"{space.site.url}/sink/push",
        timeout=180,
    )
    assert transfer.state == "COMPLETED" and transfer.transfer_type == "HttpData-PUSH"
    [(headers, body)] = received
    assert "chunked" in {k.lower(): v for k, v in headers.items()}.get("transfer-encoding", "")
    assert body == DATA


def test_a_tampered_edr_token_is_refused_by_the_data_plane(space, consumer, agreement):
    provider = space.members[TwoMembers.PROVIDER]
    transfer, data = pull(consumer, provider_protocol_url=provider.protocol_url, agreement_id=agreement, timeout=180)
    assert data == DATA
    edr = consumer.edr(transfer.id)
    token = edr.authorization.get_secret_value()
    header, claims, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    tampered = edr.model_copy(update={"authorization": type(edr.authorization)(f"{header}.{claims}.{flipped}")})
    with pytest.raises(EdcApiError) as refused:
        fetch_data(tampered)
    assert refused.value.http_status in (401, 403), refused.value.message
    assert flipped not in refused.value.message and token not in refused.value.message
    assert fetch_data(edr) == DATA  # the real token still works


def test_the_edr_endpoint_wants_the_management_api_key(space, consumer, agreement):
    provider = space.members[TwoMembers.PROVIDER]
    transfer, _ = pull(consumer, provider_protocol_url=provider.protocol_url, agreement_id=agreement, timeout=180)
    assert consumer.transfers()[0].id == transfer.id  # newest first
    created = [n.created_at for n in consumer.negotiations()]
    assert len(created) >= 2 and created == sorted(created, reverse=True)
    url = f"{consumer.base_url}/v3/edrs/{transfer.id}/dataaddress"
    assert httpx.get(url, timeout=30).status_code == 401
    assert httpx.get(url, headers={"x-api-key": "not-the-key"}, timeout=30).status_code == 401
    served = httpx.get(url, headers={"x-api-key": space.members[TwoMembers.CONSUMER].management_key}, timeout=30)
    assert served.status_code == 200
    # compacted with the management context: plain terms
    assert {"endpoint", "authorization", "endpointType"} <= set(served.json())
    unknown = httpx.get(
        f"{consumer.base_url}/v3/edrs/no-such-transfer/dataaddress",
        headers={"x-api-key": space.members[TwoMembers.CONSUMER].management_key},
        timeout=30,
    )
    assert unknown.status_code == 404 and "ObjectNotFound" in unknown.text


def test_negotiating_a_dataset_the_provider_does_not_offer_names_what_it_offers(space, consumer):
    provider = space.members[TwoMembers.PROVIDER]
    with pytest.raises(EdcApiError) as missing:
        negotiate(
            consumer, provider_protocol_url=provider.protocol_url, provider_did=provider.did, dataset_id="no-such"
        )
    assert missing.value.http_status == 404
    assert f"the catalog of {provider.did} has no offer for dataset 'no-such' (it offers {DATASET})" in (
        missing.value.message
    )
