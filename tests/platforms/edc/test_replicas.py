"""Data plane replicas on the processes target (issue 15 item 4): the provider runs three data
planes (the seed's interstellar-assembly), each registered with its connector. Every EDR names the
public address of the replica that issued it (its own port and path, /api/public/dataplane-<i>,
the path its Ingress route has on a cluster); that replica serves the transfer, and the same token
at another replica is refused, because each replica knows only the tokens it issued. Seven JVMs."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from mvd_core.platforms.edc import EdcApiError, ManagementApi
from mvd_core.platforms.edc.exchange import fetch_data, negotiate, pull
from mvd_core.platforms.edc.management import EndpointDataReference
from tests.platforms.edc.harness import TwoMembers

pytestmark = pytest.mark.timeout(900)

DATASET = "parts-inventory"
DATA = random.Random(15).randbytes(20_000)
REPLICAS = ("dataplane-0", "dataplane-1", "dataplane-2")
MAX_TRANSFERS = 30  # the connector picks a replica at random: all three are seen long before this


class ThreeReplicas(TwoMembers):
    PROVIDER, CONSUMER = "interstellar-assembly", "space-enforcer"
    PROVIDER_RUNTIMES = ("identityhub", "connector", *REPLICAS)


@pytest.fixture(scope="module")
def space(tmp_path_factory, edc_runtimes) -> Iterator[ThreeReplicas]:
    members = ThreeReplicas(tmp_path_factory.mktemp("replicas"))
    try:
        members.start_members(edc_runtimes)
        members.offer(DATASET, DATA)
        yield members
    finally:
        members.stop()


@pytest.fixture(scope="module")
def consumer(space) -> Iterator[ManagementApi]:
    api = space.members[ThreeReplicas.CONSUMER].management()
    api.wait_until_serving()
    yield api
    api.close()


def test_each_replica_serves_the_transfers_whose_edr_it_issued(space, consumer):
    provider = space.members[ThreeReplicas.PROVIDER]
    public = {name: provider.specs[name].url("public") for name in REPLICAS}
    assert len(set(public.values())) == 3
    assert all(url.endswith(f"/api/public/{name}") for name, url in public.items())
    negotiation = negotiate(consumer, provider_protocol_url=provider.protocol_url, provider_did=provider.did,
                            dataset_id=DATASET, timeout=180)
    issued: dict[str, EndpointDataReference] = {}
    for _ in range(MAX_TRANSFERS):
        transfer, data = pull(consumer, provider_protocol_url=provider.protocol_url,
                              agreement_id=negotiation.contract_agreement_id, timeout=180)
        assert data == DATA  # fetched at the EDR's endpoint: the issuing replica served it
        edr = consumer.edr(transfer.id)
        [replica] = [name for name, url in public.items() if edr.endpoint.rstrip("/") == url]
        issued.setdefault(replica, edr)
        if len(issued) == len(REPLICAS):
            break
    assert set(issued) == set(REPLICAS), f"only {sorted(issued)} issued EDRs in {MAX_TRANSFERS} transfers"
    for replica, edr in issued.items():
        assert fetch_data(edr) == DATA
        for other in REPLICAS:
            if other == replica:
                continue
            elsewhere = edr.model_copy(update={"endpoint": public[other]})
            with pytest.raises(EdcApiError) as refused:
                fetch_data(elsewhere)
            assert refused.value.http_status in (401, 403), (replica, other, refused.value.message)
