"""EDC 0.15.1's management API v3 (and the federated catalog's query API), over httpx.

Base URL: the management context (``web.http.management``), e.g. ``http://localhost:<port>/api/management``;
header ``x-api-key``. Bodies use the management API's own JSON-LD context
(``edc.management.context.enabled=true``), so terms are plain (``state``, ``contractAgreementId``).

Creating an asset, policy definition or contract definition that already exists (409) counts
as done: seeding after a partial run converges instead of failing.

``GET /v3/edrs/{transferProcessId}/dataaddress`` is EDC's own EDR read path, served in 0.15.1 by
our ``edr-api`` extension (``edr-cache-api`` is not on Maven Central).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from mvd_core.platforms.edc.http import EdcApi, EdcApiError, poll
from mvd_core.runtimes.seed import (
    MANAGEMENT_CONTEXT,
    ManagementRequest,
    asset_request,
    contract_definition_request,
    policy_definition_request,
)

EDC_NAMESPACE = "https://w3id.org/edc/v0.0.1/ns/"
DSP_PROTOCOL = "dataspace-protocol-http:2025-1"
DSP_VERSION_PATH = "/2025-1"  # counterPartyAddress = <protocol URL> + this (no well-known lookup in 0.15.1)
_QUERY = {"@context": [MANAGEMENT_CONTEXT], "@type": "QuerySpec", "offset": 0, "limit": 1}
_PREFIXES = ("edc:", "dcat:", "odrl:", "dspace:", "dct:", EDC_NAMESPACE)


def _plain_keys(value: Any) -> Any:
    """An answer's top-level keys without a namespace prefix (``edc:state`` -> ``state``)."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        plain = next((key[len(p) :] for p in _PREFIXES if key.startswith(p)), key)
        out.setdefault(plain, item)
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


class _ReadBack(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _unprefixed(cls, data: Any) -> Any:
        return _plain_keys(data)


class Offer(BaseModel):
    """A contract offer from a catalog: the policy to send back verbatim, with who offers what."""

    id: str
    target: str  # the dataset (asset) id
    assigner: str  # the provider's participant id
    policy: dict[str, Any]

    def contract_request_policy(self) -> dict[str, Any]:
        return {**self.policy, "@type": "Offer", "assigner": self.assigner, "target": self.target}


class Dataset(_ReadBack):
    id: str = Field(alias="@id")
    offers: list[dict[str, Any]] = Field(default_factory=list, alias="hasPolicy")
    distributions: list[dict[str, Any]] = Field(default_factory=list, alias="distribution")
    # The asset's public properties as the catalog carries them (name, description, contenttype ...).
    properties: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        data = _plain_keys(data)
        if isinstance(data, dict):
            own = {"@id", "@type", "@context", "id", "hasPolicy", "distribution", "properties"}
            data = {
                **data,
                "hasPolicy": _as_list(data.get("hasPolicy")),
                "distribution": _as_list(data.get("distribution")),
                "properties": {key: value for key, value in data.items() if key not in own},
            }
        return data

    @property
    def transfer_types(self) -> list[str]:
        return [str(_plain_keys(d).get("format")) for d in self.distributions if isinstance(d, dict)]


class Catalog(_ReadBack):
    id: str | None = Field(None, alias="@id")
    participant_id: str | None = Field(None, alias="participantId")
    datasets: list[Dataset] = Field(default_factory=list, alias="dataset")

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        data = _plain_keys(data)
        if isinstance(data, dict):
            data = {**data, "dataset": _as_list(data.get("dataset"))}
        return data

    def dataset(self, dataset_id: str) -> Dataset | None:
        return next((d for d in self.datasets if d.id == dataset_id), None)

    def offer(self, dataset_id: str) -> Offer | None:
        """The first offer for ``dataset_id``, ready for a contract request (None when not offered)."""
        found = self.dataset(dataset_id)
        if found is None or not found.offers or self.participant_id is None:
            return None
        policy = found.offers[0]
        return Offer(id=str(policy.get("@id")), target=dataset_id, assigner=self.participant_id, policy=policy)


class ContractNegotiation(_ReadBack):
    id: str = Field(alias="@id")
    state: str
    type: str | None = None
    counter_party_id: str | None = Field(None, alias="counterPartyId")
    counter_party_address: str | None = Field(None, alias="counterPartyAddress")
    created_at: int | None = Field(None, alias="createdAt")
    contract_agreement_id: str | None = Field(None, alias="contractAgreementId")
    error_detail: str | None = Field(None, alias="errorDetail")


class TransferProcess(_ReadBack):
    id: str = Field(alias="@id")
    state: str
    type: str | None = None
    contract_id: str | None = Field(None, alias="contractId")
    asset_id: str | None = Field(None, alias="assetId")
    transfer_type: str | None = Field(None, alias="transferType")
    state_timestamp: int | None = Field(None, alias="stateTimestamp")
    error_detail: str | None = Field(None, alias="errorDetail")


class Asset(_ReadBack):
    id: str = Field(alias="@id")
    properties: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _plain_properties(self) -> Asset:
        self.properties = _plain_keys(self.properties)
        return self


class EndpointDataReference(_ReadBack):
    """Where and how to pull a transfer's data: the provider data plane's public endpoint and the
    token it wants verbatim in ``Authorization`` (no "Bearer")."""

    endpoint: str
    authorization: SecretStr
    endpoint_type: str | None = Field(None, alias="endpointType")


class ManagementApi(EdcApi):
    kind = "management API"

    def wait_until_serving(self, *, timeout: float = 60.0, interval: float = 0.25) -> None:
        """Poll until the management API answers with this key. EDC 0.15.1 reports ready before
        Jersey serves the context, so the first requests may get 404/405 from Jetty."""

        def serving() -> bool | None:
            response = self.request("POST", "/v3/assets/request", json=_QUERY, ok=(200, 404, 405))
            return True if response.status_code == 200 else None

        poll(f"the management API of {self.runtime} at {self.base_url}", serving, timeout=timeout, interval=interval)

    def create(self, request: ManagementRequest) -> bool:
        """POST a new entity; True when created, False when it already existed (409)."""
        response = self.request("POST", request.path, json=request.body, ok=(200, 201, 204, 409))
        return response.status_code != 409

    def create_asset(
        self, asset_id: str, data_address: dict[str, Any], properties: dict[str, Any] | None = None
    ) -> bool:
        return self.create(asset_request(asset_id, data_address, properties))

    def create_policy_definition(self, policy_id: str, policy: dict[str, Any]) -> bool:
        return self.create(policy_definition_request(policy_id, policy))

    def create_contract_definition(
        self,
        definition_id: str,
        *,
        access_policy_id: str,
        contract_policy_id: str,
        assets_selector: list[dict[str, Any]] | None = None,
    ) -> bool:
        return self.create(
            contract_definition_request(
                definition_id,
                access_policy_id=access_policy_id,
                contract_policy_id=contract_policy_id,
                assets_selector=assets_selector,
            )
        )

    def request_catalog(
        self, counter_party_address: str, counter_party_id: str, *, protocol: str = DSP_PROTOCOL, limit: int = 50
    ) -> Catalog:
        """The counter-party's catalog over DSP (the management API relays the provider's refusal as 502)."""
        answer = self.json(
            "POST",
            "/v3/catalog/request",
            json={
                "@context": [MANAGEMENT_CONTEXT],
                "@type": "CatalogRequest",
                "counterPartyAddress": counter_party_address,
                "counterPartyId": counter_party_id,
                "protocol": protocol,
                "querySpec": {"offset": 0, "limit": limit},
            },
        )
        return Catalog.model_validate(answer)

    def _started(self, path: str, body: dict[str, Any]) -> str:
        answer = self.json("POST", path, json={"@context": [MANAGEMENT_CONTEXT], **body})
        ident = answer.get("@id") if isinstance(answer, dict) else None
        if not isinstance(ident, str):
            raise EdcApiError(f"{self.kind} of {self.runtime}: POST {self.base_url}{path} answered without an @id")
        return ident

    def start_negotiation(self, counter_party_address: str, offer: Offer, *, protocol: str = DSP_PROTOCOL) -> str:
        """Start negotiating ``offer``; returns the negotiation id."""
        return self._started(
            "/v3/contractnegotiations",
            {
                "@type": "ContractRequest",
                "counterPartyAddress": counter_party_address,
                "counterPartyId": offer.assigner,
                "protocol": protocol,
                "policy": offer.contract_request_policy(),
            },
        )

    def negotiation(self, negotiation_id: str) -> ContractNegotiation:
        return ContractNegotiation.model_validate(self.json("GET", f"/v3/contractnegotiations/{negotiation_id}"))

    def wait_for_agreement(
        self, negotiation_id: str, *, timeout: float = 60.0, interval: float = 0.5
    ) -> ContractNegotiation:
        """Poll until FINALIZED (then ``contract_agreement_id`` is set); EdcApiError when TERMINATED."""

        def settled() -> ContractNegotiation | None:
            current = self.negotiation(negotiation_id)
            if current.state == "TERMINATED":
                raise EdcApiError(
                    f"{self.kind} of {self.runtime}: contract negotiation {negotiation_id} was "
                    f"terminated" + (f": {current.error_detail}" if current.error_detail else "")
                )
            return current if current.state == "FINALIZED" else None

        return poll(
            f"contract negotiation {negotiation_id} at {self.runtime}", settled, timeout=timeout, interval=interval
        )

    def start_transfer(
        self,
        counter_party_address: str,
        contract_id: str,
        transfer_type: str,
        *,
        data_destination: dict[str, Any] | None = None,
        callback_addresses: list[dict[str, Any]] | None = None,
        protocol: str = DSP_PROTOCOL,
    ) -> str:
        """Start a transfer under an agreement (``HttpData-PULL``, or ``HttpData-PUSH`` with a destination)."""
        body: dict[str, Any] = {
            "@type": "TransferRequest",
            "counterPartyAddress": counter_party_address,
            "protocol": protocol,
            "contractId": contract_id,
            "transferType": transfer_type,
        }
        if data_destination is not None:
            body["dataDestination"] = {"@type": "DataAddress", **data_destination}
        if callback_addresses:
            body["callbackAddresses"] = [{"@type": "CallbackAddress", **c} for c in callback_addresses]
        return self._started("/v3/transferprocesses", body)

    def transfer_process(self, transfer_id: str) -> TransferProcess:
        return TransferProcess.model_validate(self.json("GET", f"/v3/transferprocesses/{transfer_id}"))

    def wait_for_transfer(
        self,
        transfer_id: str,
        states: tuple[str, ...] = ("STARTED", "COMPLETED"),
        *,
        timeout: float = 60.0,
        interval: float = 0.5,
    ) -> TransferProcess:
        """Poll until the transfer is in one of ``states``; EdcApiError when TERMINATED."""

        def settled() -> TransferProcess | None:
            current = self.transfer_process(transfer_id)
            if current.state == "TERMINATED" and "TERMINATED" not in states:
                raise EdcApiError(
                    f"{self.kind} of {self.runtime}: transfer process {transfer_id} was terminated"
                    + (f": {current.error_detail}" if current.error_detail else "")
                )
            return current if current.state in states else None

        return poll(f"transfer process {transfer_id} at {self.runtime}", settled, timeout=timeout, interval=interval)

    def _query(self, path: str, limit: int) -> list[Any]:
        body = {**_QUERY, "limit": limit, "sortField": "createdAt", "sortOrder": "DESC"}
        return _as_list(self.json("POST", path, json=body, ok=(200,)))

    def assets(self, limit: int = 200) -> list[Asset]:
        """This connector's own assets (POST /v3/assets/request)."""
        return [
            Asset.model_validate(a)
            for a in _as_list(self.json("POST", "/v3/assets/request", json={**_QUERY, "limit": limit}, ok=(200,)))
        ]

    def negotiations(self, limit: int = 50) -> list[ContractNegotiation]:
        """The newest contract negotiations first (as consumer and as provider)."""
        return [ContractNegotiation.model_validate(n) for n in self._query("/v3/contractnegotiations/request", limit)]

    def transfers(self, limit: int = 50) -> list[TransferProcess]:
        """The newest transfer processes first (as consumer and as provider)."""
        return [TransferProcess.model_validate(t) for t in self._query("/v3/transferprocesses/request", limit)]

    def edr(self, transfer_id: str, *, timeout: float = 30.0, interval: float = 0.25) -> EndpointDataReference:
        """The EDR of a started pull transfer (``/v3/edrs/{id}/dataaddress``), polled: the consumer
        stores it when the provider's start message arrives, shortly after the transfer is STARTED."""

        def stored() -> EndpointDataReference | None:
            path = f"/v3/edrs/{quote(transfer_id, safe='')}/dataaddress"
            response = self.request("GET", path, ok=(200, 404))
            if response.status_code == 404:
                if "ObjectNotFound" in response.text:  # EDC's answer: no EDR for it (yet)
                    return None
                raise EdcApiError(
                    f"{self.kind} of {self.runtime}: GET {self.base_url}{path} answered HTTP 404 from the web "
                    "server: the connector serves no EDR API (mvd-edr-api is not on its classpath)",
                    http_status=404,
                )
            try:
                edr = EndpointDataReference.model_validate(response.json())
            except ValueError:
                raise EdcApiError(
                    f"{self.kind} of {self.runtime}: GET {self.base_url}{path} answered without an endpoint "
                    "and authorization"
                ) from None
            self._remember_secret(edr.authorization.get_secret_value())
            return edr

        return poll(
            f"the EDR of transfer process {transfer_id} at {self.runtime}", stored, timeout=timeout, interval=interval
        )


class FederatedCatalog(EdcApi):
    """The federated catalog's query API (context ``web.http.catalog``, no auth in 0.15.1)."""

    kind = "federated catalog API"

    def query(self, limit: int = 100) -> list[Catalog]:
        """Every catalog the crawler has collected (a JSON-LD ``QuerySpec``: ``{}`` is refused)."""
        answer = self.json(
            "POST",
            "/v1alpha/catalog/query",
            json={"@context": {"@vocab": EDC_NAMESPACE}, "@type": "QuerySpec", "offset": 0, "limit": limit},
            ok=(200,),
        )
        return [Catalog.model_validate(c) for c in _as_list(answer)]
