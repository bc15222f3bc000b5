"""Clients of the EDC runtimes' HTTP APIs: the identity hub's identity (admin) API and the
connector's management API v3 plus the federated catalog's query API.

Hand-written over httpx rather than PyPI's ``edc-client`` (1.1.0): that package is generated
from a newer management API (v4/v5beta beside v3) on urllib3, has nothing for the identity hub
or the federated catalog, and its errors would not name our runtime; the calls the control
plane makes are a dozen, typed here with pydantic for what is read back.
"""

from mvd_core.platforms.edc.http import EdcApiError, EdcTimeout
from mvd_core.platforms.edc.identityhub import (
    CreatedParticipant,
    CredentialRequestItem,
    CredentialRequestStatus,
    IdentityHub,
    KeyDescriptor,
    ParticipantExists,
    ParticipantManifest,
    ServiceEndpoint,
)
from mvd_core.platforms.edc.management import (
    DSP_PROTOCOL,
    DSP_VERSION_PATH,
    Asset,
    Catalog,
    ContractNegotiation,
    EndpointDataReference,
    FederatedCatalog,
    ManagementApi,
    Offer,
    TransferProcess,
)

__all__ = [
    "DSP_PROTOCOL",
    "DSP_VERSION_PATH",
    "Asset",
    "Catalog",
    "ContractNegotiation",
    "CreatedParticipant",
    "CredentialRequestItem",
    "CredentialRequestStatus",
    "EdcApiError",
    "EdcTimeout",
    "EndpointDataReference",
    "FederatedCatalog",
    "IdentityHub",
    "KeyDescriptor",
    "ManagementApi",
    "Offer",
    "ParticipantExists",
    "ParticipantManifest",
    "ServiceEndpoint",
    "TransferProcess",
]
