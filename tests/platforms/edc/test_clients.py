"""The EDC clients' errors and read-back models, against a loopback server (no JVM): errors name
the runtime, method and URL and never carry an API key, even when an answer echoes one."""

from __future__ import annotations

import json

import pytest

from mvd_core.platforms.edc import (
    Catalog,
    EdcApiError,
    EdcTimeout,
    IdentityHub,
    KeyDescriptor,
    ManagementApi,
    ParticipantManifest,
)
from mvd_core.platforms.edc.identityhub import context_path
from tests.fixtures.emulators import free_port
from tests.fixtures.loopback import QuietHandler, serve

KEY = "management-key-0123456789abcdef"


class Echo(QuietHandler):
    """Echoes the API key in an error body (a badly behaved server); a fixed 201 for participants."""

    def do_POST(self) -> None:
        self.read_body()
        if self.path == "/api/identity/v1alpha/participants":
            body = {
                "apiKey": "generated-api-key-abcdef",
                "clientId": "did:web:a.example",
                "clientSecret": "sts-secret-xyz",
            }
            return self.send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        return self.send(500, f"boom: key {self.headers.get('x-api-key')} rejected".encode())

    def do_GET(self) -> None:
        if "request" in self.path:
            body = {"holderPid": "h", "status": "REQUESTED"}
            return self.send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        return self.send(
            500, f"echo generated-api-key-abcdef and sts-secret-xyz and {self.headers.get('x-api-key')}".encode()
        )


def test_errors_name_runtime_method_and_url_and_hide_every_key():
    with serve(Echo) as base:
        api = ManagementApi(f"{base}/api/management", runtime="a/connector", api_key=KEY)
        with pytest.raises(EdcApiError) as failed:
            api.create_asset("asset-1", {"type": "HttpData", "baseUrl": "https://example.org"})
        assert failed.value.http_status == 500 and failed.value.status == 502
        assert failed.value.message == (
            f"management API of a/connector: POST {base}/api/management/v3/assets answered HTTP 500: boom: key *** rejected"
        )
        hub = IdentityHub(f"{base}/api/identity", runtime="a/identityhub", api_key="super-user-key-123456")
        # the client remembers the keys an answer carried and hides them from later errors
        made = hub.create_participant(
            ParticipantManifest(
                participant_context_id="did:web:a.example",
                did="did:web:a.example",
                key=KeyDescriptor(key_id="did:web:a.example#k", private_key_alias="a-did-signing-key"),
            )
        )
        assert "generated-api-key-abcdef" not in repr(made) and "sts-secret-xyz" not in str(made)
        with pytest.raises(EdcApiError) as echoed:
            hub.participant("did:web:a.example")
        assert "generated-api-key-abcdef" not in echoed.value.message
        assert "sts-secret-xyz" not in echoed.value.message and "super-user-key-123456" not in echoed.value.message
        assert "echo *** and *** and ***" in echoed.value.message
        assert f"GET {base}/api/identity{context_path('did:web:a.example')}" in echoed.value.message


def test_an_unreachable_runtime_is_named_and_a_poll_times_out_with_what_it_waited_for():
    port = free_port()
    api = ManagementApi(f"http://127.0.0.1:{port}/api/management", runtime="b/connector", api_key=KEY, timeout=2)
    with pytest.raises(EdcApiError, match=rf"management API of b/connector: GET http://127.0.0.1:{port}/api/man"):
        api.negotiation("n-1")
    with serve(Echo) as base:
        hub = IdentityHub(f"{base}/api/identity", runtime="a/identityhub", api_key="k")
        with pytest.raises(EdcTimeout, match="timed out after 0.5 s waiting for credential request 'h'"):
            hub.wait_for_credentials("did:web:a.example", "h", timeout=0.5, interval=0.1)


def test_context_path_is_unpadded_base64url_of_the_context_id():
    assert (
        context_path("did:web:localhost%3A7080:dids:a")
        == "/v1alpha/participants/ZGlkOndlYjpsb2NhbGhvc3QlM0E3MDgwOmRpZHM6YQ"
    )


def test_catalog_reads_single_or_listed_datasets_and_prefixed_terms():
    single = Catalog.model_validate(
        {
            "@id": "c",
            "edc:participantId": "did:web:p.example",
            "dcat:dataset": {
                "@id": "asset-1",
                "odrl:hasPolicy": {"@id": "offer-1", "@type": "Offer", "permission": []},
                "dcat:distribution": {"format": "HttpData-PULL"},
            },
        }
    )
    assert single.participant_id == "did:web:p.example"
    assert single.dataset("asset-1").transfer_types == ["HttpData-PULL"]
    offer = single.offer("asset-1")
    assert offer.contract_request_policy() == {
        "@id": "offer-1",
        "@type": "Offer",
        "permission": [],
        "assigner": "did:web:p.example",
        "target": "asset-1",
    }
    assert single.offer("asset-2") is None
    assert Catalog.model_validate({"@id": "c", "dataset": []}).datasets == []


def test_read_backs_of_assets_negotiations_transfers_and_the_edr_ignore_unknown_fields():
    from mvd_core.platforms.edc import Asset, ContractNegotiation, EndpointDataReference, TransferProcess

    asset = Asset.model_validate(
        {"@id": "a-1", "@type": "Asset", "properties": {"edc:name": "A", "id": "a-1"}, "dataAddress": {}, "x": 1}
    )
    assert (asset.id, asset.properties) == ("a-1", {"name": "A", "id": "a-1"})
    negotiation = ContractNegotiation.model_validate(
        {"@id": "n-1", "edc:state": "FINALIZED", "contractAgreementId": "ag-1", "createdAt": 5, "callbackAddresses": []}
    )
    assert (negotiation.state, negotiation.contract_agreement_id, negotiation.created_at) == ("FINALIZED", "ag-1", 5)
    transfer = TransferProcess.model_validate(
        {"@id": "t-1", "state": "STARTED", "assetId": "a-1", "transferType": "HttpData-PULL", "stateTimestamp": 7}
    )
    assert (transfer.asset_id, transfer.transfer_type, transfer.state_timestamp) == ("a-1", "HttpData-PULL", 7)
    # compacted with the management context (plain terms) or with EDC's namespace (prefixed)
    for body in (
        {"@type": "DataAddress", "endpoint": "http://dp/api/public", "authorization": "tok-123", "endpointType": "t"},
        {"@type": "edc:DataAddress", "edc:endpoint": "http://dp/api/public", "edc:authorization": "tok-123"},
    ):
        edr = EndpointDataReference.model_validate(body)
        assert edr.endpoint == "http://dp/api/public" and edr.authorization.get_secret_value() == "tok-123"
        assert "tok-123" not in repr(edr) and "tok-123" not in str(edr.model_dump())
    with pytest.raises(ValueError):
        EndpointDataReference.model_validate({"@type": "DataAddress", "endpoint": "http://dp"})


class EdrServer(QuietHandler):
    """EDC's answers for /v3/edrs: ObjectNotFound twice, then the EDR; the web server's 404 elsewhere."""

    calls = 0

    def do_GET(self) -> None:
        if self.path.startswith("/api/management/v3/edrs/t-1/"):
            EdrServer.calls += 1
            if EdrServer.calls <= 2:
                body = [
                    {
                        "message": "Object of type EndpointDataReferenceEntry with ID=t-1 was not found",
                        "type": "ObjectNotFound",
                    }
                ]
                return self.send(404, json.dumps(body).encode(), {"Content-Type": "application/json"})
            body = {"@type": "DataAddress", "endpoint": "http://dp/p", "authorization": "edr-token-abc"}
            return self.send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        return self.send(404, b"<html><h2>HTTP ERROR 404 Not Found</h2></html>", {"Content-Type": "text/html"})


def test_edr_polls_until_the_consumer_stored_it_and_names_a_connector_without_the_edr_api():
    with serve(EdrServer) as base:
        api = ManagementApi(f"{base}/api/management", runtime="b/connector", api_key=KEY)
        edr = api.edr("t-1", timeout=10, interval=0.05)
        assert EdrServer.calls == 3 and edr.endpoint == "http://dp/p"
        with pytest.raises(EdcApiError) as missing:
            api.edr("t-2", timeout=10)
        assert missing.value.http_status == 404
        assert "the connector serves no EDR API (mvd-edr-api is not on its classpath)" in missing.value.message
        with pytest.raises(EdcApiError, match="edrs/a%2Fb/dataaddress"):
            api.edr("a/b", timeout=10)  # an id is one path segment
