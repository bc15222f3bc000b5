"""Revocation with real EDC 0.15.1 runtimes: two members (TwoMembers: five JVMs, the package's
shared dataspace, revoked last), each holding a
MembershipCredential whose ``credentialStatus`` points at the issuer's Bitstring Status List on
the test's site. Once the issuer revokes the consumer, within the runtimes' status-list cache
(edc.iam.credential.revocation.cache.validity, 2 s) the provider's DSP endpoint refuses it,
while the provider, unrevoked, is still served by the consumer."""

from __future__ import annotations

import time
from contextlib import closing

import pytest

from mvd_core.identity.issuer import STATUS_PATH
from mvd_core.identity.statuslist import decode
from mvd_core.platforms.edc import EdcApiError, ManagementApi
from mvd_core.platforms.processes.records import log_path
from mvd_core.runtimes.participant import REVOCATION_CACHE_MS
from tests.fixtures.polling import until
from tests.platforms.edc.harness import SHARED_DATASET as DATASET
from tests.platforms.edc.harness import TwoMembers

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def space(shared_members) -> TwoMembers:
    """The package's two-member dataspace (conftest.py); this module revokes its consumer, so no
    other module gets it after this one."""
    return shared_members.get(spoil=True)


def catalog_ids(api: ManagementApi, other) -> list[str] | str:
    """The dataset ids ``other``'s connector offers ``api``'s, or the refusal's message."""
    try:
        return [d.id for d in api.request_catalog(other.protocol_url, other.did).datasets]
    except EdcApiError as exc:
        return f"refused: {exc}"


def test_a_revoked_member_is_refused_within_the_cache_period_and_an_unrevoked_one_is_served(space):
    provider, consumer = space.members[TwoMembers.PROVIDER], space.members[TwoMembers.CONSUMER]
    with closing(provider.management()) as provider_api, closing(consumer.management()) as consumer_api:
        provider_api.wait_until_serving()
        consumer_api.wait_until_serving()
        assert catalog_ids(consumer_api, provider) == [DATASET]
        assert catalog_ids(provider_api, consumer) == []  # served: the consumer offers nothing
        assert STATUS_PATH in space.site.fetched  # the runtimes did check the status list

        assert space.issuer.revoke(consumer.did) == 1
        assert space.issuer.revoke(consumer.did) == 0
        assert decode(space.issuer.status_list_credential()["credentialSubject"]["encodedList"]) == {
            int(e["idx"]) for e in space.issuer.status_list.entries(consumer.did)
        }
        fetched_before = space.site.fetched.count(STATUS_PATH)
        revoked_at = time.monotonic()
        refusal = until(
            "the provider to refuse the revoked consumer",
            lambda: next((a for a in [catalog_ids(consumer_api, provider)] if isinstance(a, str)), None),
            timeout=60,
        )
        took = time.monotonic() - revoked_at
        # the cache period plus a DSP round trip, not EDC's default quarter of an hour
        assert took < int(REVOCATION_CACHE_MS) / 1000 + 20, (took, refusal)
        # the provider's DSP endpoint refused the consumer's token (401), having fetched the status
        # list again: the verifier's IsNotRevoked rule (the consumer's identity hub 0.15.1 logs that
        # it has no revocation service for the type, so it still presents the credential)
        assert '\\"code\\":\\"401\\"' in refusal, refusal
        assert space.site.fetched.count(STATUS_PATH) > fetched_before
        hub_log = log_path(space.platform.home, consumer.id, "identityhub").read_text()
        assert "No revocation service registered for type 'BitstringStatusListEntry'" in hub_log
        # stays refused, and the unrevoked provider is still served by the consumer
        assert isinstance(catalog_ids(consumer_api, provider), str)
        assert catalog_ids(provider_api, consumer) == []
