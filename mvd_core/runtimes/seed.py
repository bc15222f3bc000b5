"""The management API requests that seed a participant's offers: one builder for every place
that sends them (the processes target's seed step through ``ManagementApi``, the Kubernetes
seed Job as JSON files its script POSTs).

Each offer becomes an asset whose data address is the control plane's data endpoint
(``HttpData`` with ``authKey``/``secretName``: EDC 0.15.1's data-plane-http resolves
``secretName`` from the data plane's vault and sends its value in the ``authKey`` header, so the
secret never sits in the asset), then one membership policy and one contract definition
offering every asset under it. Bodies use the management API's own JSON-LD context
(``edc.management.context.enabled=true``).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from mvd_core.dataspace.models import DatasetOffer, Participant
from mvd_core.settings import Settings

MANAGEMENT_CONTEXT: Final = "https://w3id.org/edc/connector/management/v0.0.1"
DATA_SOURCE_KEY: Final = "data-source-key"  # vault alias of the participant's data-source key
DATA_SOURCE_HEADER: Final = "X-Data-Source-Key"
DATA_PATH: Final = "/api/dataspace/data/{participant}/{dataset}"
MEMBERSHIP_POLICY: Final = "membership-required"
MEMBERSHIP_OFFERS: Final = "membership-offers"

EntityKind = Literal["asset", "policy", "contract"]


class ManagementRequest(BaseModel):
    """One entity to create: ``POST path`` with ``body``; EDC answers 409 when it exists."""

    model_config = ConfigDict(frozen=True)

    kind: EntityKind
    id: str
    path: str
    body: dict[str, Any]


def _request(kind: EntityKind, path: str, entity_id: str, body: dict[str, Any]) -> ManagementRequest:
    return ManagementRequest(
        kind=kind, id=entity_id, path=path, body={"@context": [MANAGEMENT_CONTEXT], "@id": entity_id, **body}
    )


def asset_request(
    asset_id: str, data_address: dict[str, Any], properties: dict[str, Any] | None = None
) -> ManagementRequest:
    return _request(
        "asset",
        "/v3/assets",
        asset_id,
        {"@type": "Asset", "properties": properties or {}, "dataAddress": {"@type": "DataAddress", **data_address}},
    )


def policy_definition_request(policy_id: str, policy: dict[str, Any]) -> ManagementRequest:
    return _request("policy", "/v3/policydefinitions", policy_id, {"@type": "PolicyDefinition", "policy": policy})


def contract_definition_request(
    definition_id: str,
    *,
    access_policy_id: str,
    contract_policy_id: str,
    assets_selector: list[dict[str, Any]] | None = None,
) -> ManagementRequest:
    return _request(
        "contract",
        "/v3/contractdefinitions",
        definition_id,
        {
            "@type": "ContractDefinition",
            "accessPolicyId": access_policy_id,
            "contractPolicyId": contract_policy_id,
            "assetsSelector": assets_selector or [],
        },
    )


def data_url(settings: Settings, participant_id: str, dataset_id: str) -> str:
    return settings.base_url + DATA_PATH.format(participant=participant_id, dataset=dataset_id)


def data_address(settings: Settings, participant_id: str, dataset_id: str) -> dict[str, Any]:
    """The asset's source: this control plane, with the participant's key from its data plane's vault."""
    return {
        "type": "HttpData",
        "baseUrl": data_url(settings, participant_id, dataset_id),
        "authKey": DATA_SOURCE_HEADER,
        "secretName": DATA_SOURCE_KEY,
    }


def asset_properties(offer: DatasetOffer) -> dict[str, Any]:
    return {"name": offer.title, "description": offer.description, "contenttype": offer.media_type}


def membership_policy() -> dict[str, Any]:
    """Use is permitted to holders of the dataspace's MembershipCredential (evaluated by our
    membership-policy extension in the catalog, negotiation and transfer scopes)."""
    return {
        "@type": "Set",
        "permission": [
            {
                "action": "use",
                "constraint": {"leftOperand": "MembershipCredential", "operator": "eq", "rightOperand": "active"},
            }
        ],
    }


def seed_requests(participant: Participant, settings: Settings) -> list[ManagementRequest]:
    """What seeding ``participant`` sends, in order: its offers as assets, the membership policy,
    the contract definition offering every asset under it."""
    return [
        *(
            asset_request(offer.id, data_address(settings, participant.id, offer.id), asset_properties(offer))
            for offer in participant.offers
        ),
        policy_definition_request(MEMBERSHIP_POLICY, membership_policy()),
        contract_definition_request(
            MEMBERSHIP_OFFERS, access_policy_id=MEMBERSHIP_POLICY, contract_policy_id=MEMBERSHIP_POLICY
        ),
    ]
