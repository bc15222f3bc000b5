"""A consumer's side of a data exchange over the Dataspace Protocol, driven through its own
management API: find the provider's offer in its catalog, negotiate it, transfer the data.

``provider_protocol_url`` is the DSP address a counter-party is given (it ends in ``/2025-1``:
EDC 0.15.1 does no well-known lookup). A pull transfer's data comes from the provider's data
plane with the EDR's token; a push transfer makes the provider's data plane POST the bytes to
``destination_url`` (chunked).
"""

from __future__ import annotations

import sys
import time

import httpx
from pydantic import BaseModel

from mvd_core.platforms.edc.http import ERROR_BODY_CHARS, EdcApiError, EdcTimeout
from mvd_core.platforms.edc.management import ContractNegotiation, EndpointDataReference, ManagementApi, TransferProcess

PULL = "HttpData-PULL"
PUSH = "HttpData-PUSH"


class RoundTrip(BaseModel):
    negotiation_id: str
    agreement_id: str
    transfer_id: str
    data: bytes


class _Deadline:
    """One timeout shared by the steps of an exchange."""

    def __init__(self, timeout: float, what: str) -> None:
        self.timeout = timeout
        self.what = what
        self._end = time.monotonic() + timeout

    def left(self) -> float:
        left = self._end - time.monotonic()
        if left <= 0:
            raise EdcTimeout(f"timed out after {self.timeout:g} s: {self.what}")
        return left


class FetchedData(BaseModel):
    content: bytes
    media_type: str | None


def fetch(edr: EndpointDataReference, *, max_bytes: int, timeout: float = 30) -> FetchedData:
    """GET the data behind an EDR from the provider's data plane (the token verbatim in
    ``Authorization``), streamed: more than ``max_bytes`` is an EdcApiError (413) and nothing
    more is read. The media type is the data plane's Content-Type."""
    token = edr.authorization.get_secret_value()
    try:
        with (
            httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client,
            client.stream("GET", edr.endpoint, headers={"Authorization": token}) as response,
        ):
            if response.status_code != 200:
                body = " ".join(response.read().decode("utf-8", "replace").split())[:ERROR_BODY_CHARS]
                body = body.replace(token, "***")
                raise EdcApiError(
                    f"data plane: GET {edr.endpoint} answered HTTP {response.status_code}"
                    + (f": {body}" if body else ""),
                    http_status=response.status_code,
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise EdcApiError(
                        f"data plane: GET {edr.endpoint} answered more than {max_bytes} bytes, the limit",
                        http_status=413,
                    )
                chunks.append(chunk)
            return FetchedData(content=b"".join(chunks), media_type=response.headers.get("content-type"))
    except httpx.HTTPError as exc:
        raise EdcApiError(
            f"data plane: GET {edr.endpoint} failed ({type(exc).__name__}: {str(exc).replace(token, '***')})"
        ) from None


def fetch_data(edr: EndpointDataReference, *, timeout: float = 30) -> bytes:
    """GET the data behind an EDR from the provider's data plane (the token verbatim in ``Authorization``)."""
    return fetch(edr, max_bytes=sys.maxsize, timeout=timeout).content


def negotiate(
    consumer: ManagementApi, *, provider_protocol_url: str, provider_did: str, dataset_id: str, timeout: float = 60
) -> ContractNegotiation:
    """The provider's catalog over DSP, its first offer for ``dataset_id``, negotiated to FINALIZED."""
    deadline = _Deadline(timeout, f"negotiating {dataset_id} from {provider_did}")
    catalog = consumer.request_catalog(provider_protocol_url, provider_did)
    offer = catalog.offer(dataset_id)
    if offer is None:
        offered = ", ".join(d.id for d in catalog.datasets) or "nothing"
        raise EdcApiError(
            f"{consumer.kind} of {consumer.runtime}: the catalog of {provider_did} has no offer for dataset "
            f"{dataset_id!r} (it offers {offered})",
            http_status=404,
        )
    negotiation_id = consumer.start_negotiation(provider_protocol_url, offer)
    return consumer.wait_for_agreement(negotiation_id, timeout=deadline.left())


def _agreement(negotiation: ContractNegotiation) -> str:
    if negotiation.contract_agreement_id is None:  # FINALIZED always carries one; guard the type
        raise EdcApiError(f"contract negotiation {negotiation.id} is {negotiation.state} without an agreement")
    return negotiation.contract_agreement_id


def pull(
    consumer: ManagementApi, *, provider_protocol_url: str, agreement_id: str, timeout: float = 60
) -> tuple[TransferProcess, bytes]:
    """An HttpData-PULL transfer under ``agreement_id``: STARTED, its EDR, then the bytes from the data plane."""
    deadline = _Deadline(timeout, f"pulling the data of agreement {agreement_id}")
    transfer_id = consumer.start_transfer(provider_protocol_url, agreement_id, PULL)
    transfer = consumer.wait_for_transfer(transfer_id, ("STARTED",), timeout=deadline.left())
    edr = consumer.edr(transfer_id, timeout=deadline.left())
    return transfer, fetch_data(edr, timeout=deadline.left())


def push(
    consumer: ManagementApi, *, provider_protocol_url: str, agreement_id: str, destination_url: str, timeout: float = 60
) -> TransferProcess:
    """An HttpData-PUSH transfer: the provider's data plane POSTs the data to ``destination_url``; COMPLETED."""
    transfer_id = consumer.start_transfer(
        provider_protocol_url,
        agreement_id,
        PUSH,
        data_destination={"type": "HttpData", "baseUrl": destination_url},
    )
    return consumer.wait_for_transfer(transfer_id, ("COMPLETED",), timeout=timeout)


def round_trip(
    consumer: ManagementApi, *, provider_protocol_url: str, provider_did: str, dataset_id: str, timeout: float = 120
) -> RoundTrip:
    """Catalog, negotiation and pull transfer of one dataset: what a consumer gets."""
    deadline = _Deadline(timeout, f"a round trip of {dataset_id} from {provider_did}")
    negotiation = negotiate(
        consumer,
        provider_protocol_url=provider_protocol_url,
        provider_did=provider_did,
        dataset_id=dataset_id,
        timeout=deadline.left(),
    )
    agreement_id = _agreement(negotiation)
    transfer, data = pull(
        consumer, provider_protocol_url=provider_protocol_url, agreement_id=agreement_id, timeout=deadline.left()
    )
    return RoundTrip(negotiation_id=negotiation.id, agreement_id=agreement_id, transfer_id=transfer.id, data=data)
