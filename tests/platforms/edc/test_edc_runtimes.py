"""The issuer and the EDC clients against REAL runtimes: an identity hub, a connector and a data
plane from the project's Maven assembly (three JVMs for the whole module), one participant A
(a member) and one C (not a member) in the same identity hub.

- DCP issuance end to end: the control plane's key (a JWK in the vault) becomes A's identity hub
  key, the hub requests a MembershipCredential from OUR issuer, which verifies the hub's token
  against A's published DID document and delivers the VC-JWT until the hub has it: ISSUED.
  C's request is refused by the issuer: ERROR.
- The management API with A's credential: seed (twice: 409 is done), catalog over DSP with DCP
  (A asks its own connector), negotiation, pull transfer, federated catalog.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from mvd_core.identity import jwt
from mvd_core.platforms.edc import (
    DSP_VERSION_PATH,
    CredentialRequestItem,
    EdcApiError,
    FederatedCatalog,
    IdentityHub,
    KeyDescriptor,
    ManagementApi,
    ParticipantExists,
    ParticipantManifest,
)
from mvd_core.platforms.edc.http import poll
from mvd_core.runtimes.participant import MANAGEMENT_API_KEY
from tests.platforms.edc.harness import ASSET_BYTES, MiniDataspace

EDC = "https://w3id.org/edc/v0.0.1/ns/"
MEMBERSHIP = [CredentialRequestItem(type="MembershipCredential", id="membership-credential")]
REQUIRE_MEMBERSHIP = {
    "@type": "Set",
    "permission": [
        {
            "action": "use",
            "constraint": {"leftOperand": "MembershipCredential", "operator": "eq", "rightOperand": "active"},
        }
    ],
}


@pytest.fixture(scope="module")
def dataspace(tmp_path_factory, edc_runtimes) -> Iterator[MiniDataspace]:
    space = MiniDataspace(tmp_path_factory.mktemp("edc"))
    try:
        space.start(members=lambda: {space.did_a}, argfiles=edc_runtimes)
        yield space
    finally:
        space.stop()


def manifest(space: MiniDataspace, name: str) -> ParticipantManifest:
    """A participant context with the control plane's key, as the workflow will create it."""
    participant = space.participants[name]
    public = {k: v for k, v in participant.jwk.items() if k in ("kty", "crv", "x", "y")}
    return ParticipantManifest(
        participant_context_id=participant.did,
        did=participant.did,
        api_key_alias=participant.api_key_alias,
        key=KeyDescriptor(
            key_id=f"{participant.did}#{participant.jwk['kid']}",
            private_key_alias=participant.key_alias,
            public_key_jwk=public,
        ),
        additional_properties={"clientSecret": participant.sts_alias},
    )


@pytest.fixture(scope="module")
def hub(dataspace) -> Iterator[IdentityHub]:
    client = IdentityHub(dataspace.ih.url("identity"), runtime="a/identityhub", api_key=dataspace.superuser_key)
    client.wait_until_admin()
    yield client
    client.close()


@pytest.fixture(scope="module")
def participants(dataspace, hub) -> dict[str, IdentityHub]:
    """A's and C's participant contexts; each one's own client (with the API key its creation returned)."""
    clients = {}
    for name in ("a", "c"):
        created = hub.create_participant(manifest(dataspace, name))
        assert created.client_id == dataspace.participants[name].did
        # the connector reads the STS secret from its vault; here the hub shares it, so it wrote it there
        sts_alias = dataspace.participants[name].sts_alias
        assert dataspace.vault.get(sts_alias) == created.client_secret.get_secret_value()
        clients[name] = hub.as_participant(created.api_key)
    return clients


def test_dcp_issuance_with_our_issuer_ends_issued_for_a_member_and_in_error_for_a_stranger(
    dataspace, hub, participants
):
    a, c = dataspace.did_a, dataspace.did_c
    with pytest.raises(ParticipantExists, match="already exists") as exists:
        hub.create_participant(manifest(dataspace, "a"))
    assert dataspace.superuser_key not in exists.value.message

    participants["a"].request_credentials(
        a, issuer_did=dataspace.issuer_did, holder_pid="membership-a", credentials=MEMBERSHIP
    )
    participants["c"].request_credentials(
        dataspace.did_c, issuer_did=dataspace.issuer_did, holder_pid="membership-c", credentials=MEMBERSHIP
    )
    status = participants["a"].wait_for_credentials(a, "membership-a", timeout=90)
    assert status.status == "ISSUED" and status.issuer_pid
    [stored] = participants["a"].credentials(a)
    assert stored.types == ["VerifiableCredential", "MembershipCredential"]
    assert stored.issuer == dataspace.issuer_did
    assert dataspace.issued == [a]

    with pytest.raises(EdcApiError, match="'membership-c' of .* ended in ERROR"):
        participants["c"].wait_for_credentials(dataspace.did_c, "membership-c", timeout=90)
    assert participants["c"].credentials(c) == []
    assert hub.participant("did:web:nobody.example") is None


def test_the_hub_signs_with_the_control_planes_key_under_the_published_key_id(dataspace, participants):
    """The STS token the connector gets is verifiable with A's DID document, as the issuer verified it."""
    token_url = dataspace.ih.url("sts") + "/token"
    secret = dataspace.vault.get(dataspace.participants["a"].sts_alias)
    answer = httpx.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": dataspace.did_a,
            "client_secret": secret,
            "audience": dataspace.issuer_did,
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    header, _ = jwt.unverified(token)
    assert header["kid"] == f"{dataspace.did_a}#{dataspace.participants['a'].jwk['kid']}"
    claims = jwt.verify(token, dataspace.participants["a"].jwk, audience=dataspace.issuer_did)
    assert claims["iss"] == claims["sub"] == dataspace.did_a


def test_management_api_seeds_idempotently_and_runs_catalog_negotiation_transfer_and_federated_catalog(
    dataspace, participants
):
    participants["a"].wait_for_credentials(dataspace.did_a, "membership-a", timeout=90)
    key = dataspace.vault.get(MANAGEMENT_API_KEY)
    api = ManagementApi(dataspace.connector.url("management"), runtime="a/connector", api_key=key)
    api.wait_until_serving()
    data = {"type": "HttpData", "baseUrl": f"{dataspace.site.url}/data/asset.txt"}
    assert api.create_asset("asset-1", data, {"name": "test asset"}) is True
    assert api.create_asset("asset-1", data, {"name": "test asset"}) is False  # 409: already there, done
    assert api.create_policy_definition("require-membership", REQUIRE_MEMBERSHIP) is True
    assert api.create_policy_definition("require-membership", REQUIRE_MEMBERSHIP) is False
    for _ in range(2):
        api.create_contract_definition(
            "membership-offers", access_policy_id="require-membership", contract_policy_id="require-membership"
        )

    dsp = dataspace.connector.url("protocol") + DSP_VERSION_PATH
    dataspace.wait_ready(["dataplane-0"])  # it registers its transfer types while becoming ready
    catalog = api.request_catalog(dsp, dataspace.did_a)  # DCP: A's token + A's MembershipCredential
    assert catalog.participant_id == dataspace.did_a
    assert set(catalog.dataset("asset-1").transfer_types) >= {"HttpData-PULL", "HttpData-PUSH"}
    offer = catalog.offer("asset-1")
    assert offer is not None and offer.assigner == dataspace.did_a

    negotiation = api.wait_for_agreement(api.start_negotiation(dsp, offer), timeout=90)
    assert negotiation.state == "FINALIZED" and negotiation.contract_agreement_id

    events: list[dict] = []
    dataspace.site.posts["/callbacks"] = lambda headers, body: (events.append(json.loads(body)), (204, b"", {}))[1]
    callback = {
        "transactional": False,
        "uri": f"{dataspace.site.url}/callbacks",
        "events": ["transfer.process.started"],
    }
    transfer_id = api.start_transfer(
        dsp, negotiation.contract_agreement_id, "HttpData-PULL", callback_addresses=[callback]
    )
    assert api.wait_for_transfer(transfer_id, timeout=90).state == "STARTED"
    # the EDR arrives with the started event too (the same one /v3/edrs answers): pull through the data plane
    edr = poll("the transfer.process.started callback", lambda: events[0] if events else None, timeout=30)
    address = edr["payload"]["dataAddress"]["properties"]
    endpoint = address.get("endpoint") or address[EDC + "endpoint"]
    authorization = address.get("authorization") or address[EDC + "authorization"]
    stored = api.edr(transfer_id)
    assert (stored.endpoint, stored.authorization.get_secret_value()) == (endpoint, authorization)
    pulled = httpx.get(endpoint, headers={"Authorization": authorization}, timeout=30)
    assert (pulled.status_code, pulled.content) == (200, ASSET_BYTES)

    federated = FederatedCatalog(dataspace.connector.url("catalog"), runtime="a/connector")

    def crawled() -> bool:
        return any(c.dataset("asset-1") for c in federated.query())

    poll("the crawler to list asset-1", lambda: True if crawled() else None, timeout=60)

    with pytest.raises(EdcApiError) as wrong_key:
        ManagementApi(
            dataspace.connector.url("management"), runtime="a/connector", api_key="not-the-key"
        ).request_catalog(dsp, dataspace.did_a)
    assert wrong_key.value.http_status == 401
    assert "management API of a/connector: POST http://localhost:" in wrong_key.value.message
    assert "not-the-key" not in wrong_key.value.message and key not in wrong_key.value.message
    with pytest.raises(EdcApiError, match="GET .*/v3/contractnegotiations/no-such-negotiation answered HTTP 404"):
        api.wait_for_agreement("no-such-negotiation", timeout=5)
